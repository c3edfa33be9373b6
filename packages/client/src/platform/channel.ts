// The SDK's DataChannel over a platform channel: the state is read through, the callbacks are the SDK's own (each
// platform wires its channel's events to them).
import type { DataChannel } from './types.js';

export interface NativeChannel {
  readonly label: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  close(): void;
}

export function channelFacade(ch: NativeChannel, send: (data: Uint8Array) => void): DataChannel {
  return {
    get label() {
      return ch.label;
    },
    get readyState() {
      return ch.readyState as DataChannel['readyState'];
    },
    get bufferedAmount() {
      return ch.bufferedAmount;
    },
    get bufferedAmountLowThreshold() {
      return ch.bufferedAmountLowThreshold;
    },
    set bufferedAmountLowThreshold(v: number) {
      ch.bufferedAmountLowThreshold = v;
    },
    send,
    close: () => ch.close(),
    onopen: null,
    onclose: null,
    onmessage: null,
    onbufferedamountlow: null,
  };
}
