export * from './stun/index.js';
export * from './credentials.js';
export type { AllocationInfo, AllocationStats, TurnTransport } from './allocation.js';
export { TurnServer } from './server.js';
export type {
  AllocationDeleteReason,
  AuthFailureEvent,
  TurnServerAddresses,
  TurnServerCounters,
  TurnServerEvents,
  TurnServerOptions,
  TurnTlsOptions,
} from './server.js';
