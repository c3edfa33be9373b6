// LiveKit-style identifiers: a type prefix and 12 random base62 characters (e.g. PA_x8Kd02mZqT1c).
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomId(prefix: string, length = 12): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let s = prefix;
  // 248 = 4 × 62: rejecting bytes ≥ 248 keeps the distribution uniform.
  for (let i = 0; i < length; i++) {
    let b = bytes[i]!;
    while (b >= 248) b = globalThis.crypto.getRandomValues(new Uint8Array(1))[0]!;
    s += ALPHABET[b % 62];
  }
  return s;
}

export const SID_PREFIX = {
  room: 'RM_',
  participant: 'PA_',
  track: 'TR_',
  webhookEvent: 'EV_',
  node: 'ND_',
} as const;

export const newRoomSid = () => randomId(SID_PREFIX.room);
export const newParticipantSid = () => randomId(SID_PREFIX.participant);
export const newTrackSid = () => randomId(SID_PREFIX.track);
export const newWebhookEventId = () => randomId(SID_PREFIX.webhookEvent);
export const newNodeId = () => randomId(SID_PREFIX.node);
