// Reading TWCC feedback as Chrome writes it: statuses from run-length and status-vector chunks, receive deltas, the
// reference time; malformed input is refused, never thrown on.
import { describe, expect, it } from 'vitest';
import { TwccFeedbackReader } from '../../src/bwe/twccFeedback.js';

// An RTPFB FMT=15 packet for sequence numbers 500…539 where 507 and 508 were lost; 5 ms between arrivals, the first at
// 9.0 s (reference time 140 × 64 ms + 160 × 250 µs). Chunks: a 1-bit status vector (7 received, 2 lost, 5 received)
// and a run of 26 received; one-byte deltas; two bytes of padding.
const PACKET = Buffer.from(
  'afcd000f' + '00000007' + '00000008' + '01f4' + '0028' + '00008c' + '00' + 'bf9f' + '201a' + 'a0' + '14'.repeat(6) + '3c' + '14'.repeat(30) + '0002',
  'hex',
);

describe('TWCC feedback reader', () => {
  it('reads statuses, arrival times and the header fields', () => {
    const r = new TwccFeedbackReader();
    expect(r.parse(PACKET, 12, PACKET.length - 12)).toBe(true);
    expect(r.base).toBe(500);
    expect(r.count).toBe(40);
    expect(r.fbCount).toBe(0);
    for (let i = 0; i < 40; i++) {
      if (i === 7 || i === 8) expect(r.arrivalUs[i]).toBe(-1);
      else expect(r.arrivalUs[i]).toBe(9_000_000 + i * 5_000);
    }
  });

  it('large (two-byte, signed) deltas and two-bit vectors', () => {
    // base 10, 3 statuses: small, large(-4 ticks), large(+800 ticks); 2-bit vector 0b11 01 10 10 00 00 00 00.
    const fci = Buffer.from('000a' + '0003' + '000001' + '05' + 'da00' + '10' + 'fffc' + '0320' + '00', 'hex');
    const r = new TwccFeedbackReader();
    expect(r.parse(fci, 0, fci.length)).toBe(true);
    expect(r.count).toBe(3);
    expect([...r.arrivalUs.subarray(0, 3)]).toEqual([64_000 + 16 * 250, 64_000 + 12 * 250, 64_000 + 812 * 250]);
  });

  it('refuses truncated feedback and the reserved symbol instead of reading past the end', () => {
    const r = new TwccFeedbackReader();
    for (let cut = 0; cut < PACKET.length - 14; cut++) expect(r.parse(PACKET, 12, cut)).toBe(false);
    const reserved = Buffer.from('0000' + '0001' + '000000' + '00' + '6001' + '00', 'hex'); // run of 1 × symbol 3
    expect(r.parse(reserved, 0, reserved.length)).toBe(false);
  });

  it('never throws on random bytes', () => {
    const r = new TwccFeedbackReader();
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) & 0xff);
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(8 + (i % 200));
      for (let k = 0; k < b.length; k++) b[k] = rand();
      expect(() => r.parse(b, 0, b.length)).not.toThrow();
    }
  });
});
