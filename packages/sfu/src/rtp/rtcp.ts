/**
 * RTCP (RFC 3550 §6, RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb, draft-holmer-rmcat-transport-wide-cc) without
 * allocation: a reusable `RtcpReader` that walks a compound packet and fills preallocated records, a zero-alloc NACK
 * iterator, builders that write into a caller's buffer and return the length written (-1 if it does not fit), and NTP
 * time helpers.
 *
 * Common header:
 *  0                   1                   2                   3
 * |V=2|P|  RC/FMT |      PT       |             length (words − 1)  |
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const RTCP_XR = 207;

/** What `RtcpReader.next()` found. */
export const RtcpKind = {
  /** No more packets (or the framing broke: see `RtcpReader.malformed`). */
  End: 0,
  SenderReport: 1,
  ReceiverReport: 2,
  Sdes: 3,
  Bye: 4,
  App: 5,
  /** RTPFB FMT=1 Generic NACK. */
  Nack: 6,
  /** RTPFB FMT=15 transport-wide congestion control feedback (raw FCI). */
  TransportCc: 7,
  /** PSFB FMT=1 Picture Loss Indication. */
  Pli: 8,
  /** PSFB FMT=4 Full Intra Request. */
  Fir: 9,
  /** PSFB FMT=15 with the 'REMB' identifier. */
  Remb: 10,
  /** A well-framed packet of another type / FMT (XR, SLI, RPSI, TMMBR, other AFB...). Raw fields are available. */
  Other: 11,
} as const;
export type RtcpKind = (typeof RtcpKind)[keyof typeof RtcpKind];

/** Maximum report blocks in one SR/RR (5-bit count). */
export const MAX_REPORT_BLOCKS = 31;
/** FIR entries retained per packet; further entries are counted in `fciLength` but not decoded. */
export const MAX_FIR_ENTRIES = 32;

/** One reception report block (RFC 3550 §6.4.1). Used both as a parse result and as builder input. */
export class RtcpReportBlock {
  ssrc = 0;
  /** Fraction lost since the previous report, 0–255 (fixed point /256). */
  fractionLost = 0;
  /** Cumulative packets lost, signed 24-bit. */
  cumulativeLost = 0;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSeq = 0;
  /** Interarrival jitter in timestamp units. */
  jitter = 0;
  /** LSR: middle 32 bits of the NTP time of the last SR received (0 if none). */
  lastSr = 0;
  /** DLSR: delay since that SR, in 1/65536 s. */
  delaySinceLastSr = 0;

  copyFrom(o: RtcpReportBlock): void {
    this.ssrc = o.ssrc;
    this.fractionLost = o.fractionLost;
    this.cumulativeLost = o.cumulativeLost;
    this.highestSeq = o.highestSeq;
    this.jitter = o.jitter;
    this.lastSr = o.lastSr;
    this.delaySinceLastSr = o.delaySinceLastSr;
  }
}

function makeBlocks(): RtcpReportBlock[] {
  const a: RtcpReportBlock[] = [];
  for (let i = 0; i < MAX_REPORT_BLOCKS; i++) a.push(new RtcpReportBlock());
  return a;
}

export class RtcpSenderReport {
  ssrc = 0;
  /** NTP timestamp, seconds since 1900 (upper 32 bits). */
  ntpSec = 0;
  /** NTP timestamp, fraction (lower 32 bits). */
  ntpFrac = 0;
  rtpTimestamp = 0;
  packetCount = 0;
  octetCount = 0;
  /** Number of valid entries in `reports`. */
  reportCount = 0;
  readonly reports: RtcpReportBlock[] = makeBlocks();
}

export class RtcpReceiverReport {
  ssrc = 0;
  reportCount = 0;
  readonly reports: RtcpReportBlock[] = makeBlocks();
}

/** Transport-layer / payload-specific feedback common part (RFC 4585 §6.1). Offsets are absolute. */
export class RtcpFeedback {
  senderSsrc = 0;
  mediaSsrc = 0;
  /** Absolute offset and length (bytes) of the Feedback Control Information. */
  fciOffset = 0;
  fciLength = 0;
}

export class RtcpNack extends RtcpFeedback {
  /** Number of PID/BLP pairs (fciLength / 4). */
  pairCount = 0;
}

export class RtcpFir extends RtcpFeedback {
  /** Entries decoded into `ssrcs` / `seqNrs` (≤ MAX_FIR_ENTRIES). */
  entryCount = 0;
  readonly ssrcs = new Uint32Array(MAX_FIR_ENTRIES);
  readonly seqNrs = new Uint8Array(MAX_FIR_ENTRIES);
}

export class RtcpRemb extends RtcpFeedback {
  /** Bitrate in bits/s (mantissa × 2^exp; may exceed 2^32). */
  bitrate = 0;
  ssrcCount = 0;
  readonly ssrcs = new Uint32Array(255);
}

export class RtcpBye {
  ssrcCount = 0;
  readonly ssrcs = new Uint32Array(31);
  /** Absolute offset/length of the optional reason text (length 0 if absent). */
  reasonOffset = 0;
  reasonLength = 0;
}

export class RtcpSdes {
  chunkCount = 0;
  /** SSRC of the first chunk (0 if none). */
  firstSsrc = 0;
}

export class RtcpApp {
  subtype = 0;
  ssrc = 0;
  /** Four ASCII characters packed big-endian. */
  name = 0;
  dataOffset = 0;
  dataLength = 0;
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
}

function w32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >>> 24) & 0xff;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
}

function w16(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >> 8) & 0xff;
  buf[p + 1] = v & 0xff;
}

function readBlock(buf: Uint8Array, p: number, b: RtcpReportBlock): void {
  b.ssrc = u32(buf, p);
  b.fractionLost = buf[p + 4];
  b.cumulativeLost = (((buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) << 8) >> 8; // sign-extend 24 bits
  b.highestSeq = u32(buf, p + 8);
  b.jitter = u32(buf, p + 12);
  b.lastSr = u32(buf, p + 16);
  b.delaySinceLastSr = u32(buf, p + 20);
}

const REMB_ID = 0x52454d42; // 'REMB'

/**
 * Walks a compound RTCP packet. Reuse one reader; each `next()` returns the kind of the next packet and fills the
 * matching record (`sr`, `rr`, `nack`, ...). Never throws: when the common header framing is broken (version ≠ 2,
 * length beyond the buffer, truncated header) iteration stops with `End` and `malformed = true`. A well-framed packet
 * whose body is inconsistent (e.g. report count larger than the packet) is skipped and counted in `skipped`.
 *
 *   r.reset(buf, 0, len); for (let k = r.next(); k !== RtcpKind.End; k = r.next()) { switch (k) { ... } }
 */
export class RtcpReader {
  buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  /** True when iteration stopped on broken framing. */
  malformed = false;
  /** Well-framed packets skipped because their body was inconsistent. */
  skipped = 0;

  // Raw fields of the current packet.
  /** Packet type (200–207...). */
  packetType = 0;
  /** RC / SC / FMT field (5 bits). */
  count = 0;
  /** Absolute offset of the current packet and its length in bytes (excluding padding). */
  packetOffset = 0;
  packetLength = 0;

  readonly sr = new RtcpSenderReport();
  readonly rr = new RtcpReceiverReport();
  readonly nack = new RtcpNack();
  /** Transport-cc feedback: senderSsrc/mediaSsrc and the raw FCI range. */
  readonly transportCc = new RtcpFeedback();
  readonly pli = new RtcpFeedback();
  readonly fir = new RtcpFir();
  readonly remb = new RtcpRemb();
  /** Any other RTPFB/PSFB packet's common fields. */
  readonly feedback = new RtcpFeedback();
  readonly bye = new RtcpBye();
  readonly sdes = new RtcpSdes();
  readonly app = new RtcpApp();

  reset(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    if (off < 0 || len < 0 || off + len > buf.length) {
      off = 0;
      len = 0;
      this.malformed = true;
    } else {
      this.malformed = false;
    }
    this.pos = off;
    this.end = off + len;
    this.skipped = 0;
    return this;
  }

  next(): RtcpKind {
    const buf = this.buf;
    for (;;) {
      const p = this.pos;
      const remaining = this.end - p;
      if (remaining <= 0) return RtcpKind.End;
      if (remaining < 4) return this.fail();
      const b0 = buf[p];
      if (b0 >> 6 !== 2) return this.fail();
      const size = (((buf[p + 2] << 8) | buf[p + 3]) + 1) * 4;
      if (size > remaining) return this.fail();
      this.pos = p + size;
      let len = size;
      if ((b0 & 0x20) !== 0) {
        const pad = buf[p + size - 1];
        if (pad === 0 || pad > size - 4) {
          this.skipped++;
          continue;
        }
        len = size - pad;
      }
      this.packetType = buf[p + 1];
      this.count = b0 & 0x1f;
      this.packetOffset = p;
      this.packetLength = len;
      const kind = this.decode(buf, p, len);
      if (kind === RtcpKind.End) {
        this.skipped++;
        continue;
      }
      return kind;
    }
  }

  private fail(): RtcpKind {
    this.malformed = true;
    this.pos = this.end;
    return RtcpKind.End;
  }

  /** Decodes the current packet body; returns End when the body is inconsistent. */
  private decode(buf: Uint8Array, p: number, len: number): RtcpKind {
    const count = this.count;
    switch (this.packetType) {
      case RTCP_SR: {
        if (len < 28 + count * 24) return RtcpKind.End;
        const sr = this.sr;
        sr.ssrc = u32(buf, p + 4);
        sr.ntpSec = u32(buf, p + 8);
        sr.ntpFrac = u32(buf, p + 12);
        sr.rtpTimestamp = u32(buf, p + 16);
        sr.packetCount = u32(buf, p + 20);
        sr.octetCount = u32(buf, p + 24);
        sr.reportCount = count;
        for (let i = 0; i < count; i++) readBlock(buf, p + 28 + i * 24, sr.reports[i]);
        return RtcpKind.SenderReport;
      }
      case RTCP_RR: {
        if (len < 8 + count * 24) return RtcpKind.End;
        const rr = this.rr;
        rr.ssrc = u32(buf, p + 4);
        rr.reportCount = count;
        for (let i = 0; i < count; i++) readBlock(buf, p + 8 + i * 24, rr.reports[i]);
        return RtcpKind.ReceiverReport;
      }
      case RTCP_SDES: {
        // Chunks: SSRC + items (type, len, text)... terminated by a null item and padded to 32 bits. Minimal decode.
        const s = this.sdes;
        s.chunkCount = count;
        s.firstSsrc = count > 0 && len >= 8 ? u32(buf, p + 4) : 0;
        return RtcpKind.Sdes;
      }
      case RTCP_BYE: {
        if (len < 4 + count * 4) return RtcpKind.End;
        const b = this.bye;
        b.ssrcCount = count;
        for (let i = 0; i < count; i++) b.ssrcs[i] = u32(buf, p + 4 + i * 4);
        const r = p + 4 + count * 4;
        b.reasonOffset = r + 1;
        b.reasonLength = 0;
        if (r < p + len) {
          const rl = buf[r];
          if (r + 1 + rl > p + len) return RtcpKind.End;
          b.reasonLength = rl;
        }
        return RtcpKind.Bye;
      }
      case RTCP_APP: {
        if (len < 12) return RtcpKind.End;
        const a = this.app;
        a.subtype = count;
        a.ssrc = u32(buf, p + 4);
        a.name = u32(buf, p + 8);
        a.dataOffset = p + 12;
        a.dataLength = len - 12;
        return RtcpKind.App;
      }
      case RTCP_RTPFB: {
        if (len < 12) return RtcpKind.End;
        if (count === 1) {
          const n = this.nack;
          this.fillFeedback(n, buf, p, len);
          n.pairCount = n.fciLength >> 2;
          return RtcpKind.Nack;
        }
        if (count === 15) {
          this.fillFeedback(this.transportCc, buf, p, len);
          return RtcpKind.TransportCc;
        }
        this.fillFeedback(this.feedback, buf, p, len);
        return RtcpKind.Other;
      }
      case RTCP_PSFB: {
        if (len < 12) return RtcpKind.End;
        if (count === 1) {
          this.fillFeedback(this.pli, buf, p, len);
          return RtcpKind.Pli;
        }
        if (count === 4) {
          const f = this.fir;
          this.fillFeedback(f, buf, p, len);
          const n = f.fciLength >> 3;
          if (n === 0) return RtcpKind.End;
          const m = n < MAX_FIR_ENTRIES ? n : MAX_FIR_ENTRIES;
          for (let i = 0; i < m; i++) {
            const q = f.fciOffset + i * 8;
            f.ssrcs[i] = u32(buf, q);
            f.seqNrs[i] = buf[q + 4];
          }
          f.entryCount = m;
          return RtcpKind.Fir;
        }
        if (count === 15 && len >= 20 && u32(buf, p + 12) === REMB_ID) {
          const r = this.remb;
          this.fillFeedback(r, buf, p, len);
          const num = buf[p + 16];
          if (20 + num * 4 > len) return RtcpKind.End;
          const exp = buf[p + 17] >> 2;
          const mantissa = ((buf[p + 17] & 0x03) << 16) | (buf[p + 18] << 8) | buf[p + 19];
          r.bitrate = mantissa * 2 ** exp;
          r.ssrcCount = num;
          for (let i = 0; i < num; i++) r.ssrcs[i] = u32(buf, p + 20 + i * 4);
          return RtcpKind.Remb;
        }
        this.fillFeedback(this.feedback, buf, p, len);
        return RtcpKind.Other;
      }
      default:
        return RtcpKind.Other;
    }
  }

  private fillFeedback(f: RtcpFeedback, buf: Uint8Array, p: number, len: number): void {
    f.senderSsrc = u32(buf, p + 4);
    f.mediaSsrc = u32(buf, p + 8);
    f.fciOffset = p + 12;
    f.fciLength = len - 12;
  }
}

/**
 * Zero-alloc iteration over the sequence numbers a Generic NACK FCI reports lost (PID, then PID+i+1 for each BLP bit i).
 *
 *   it.reset(r.buf, r.nack.fciOffset, r.nack.fciLength); for (let s = it.next(); s >= 0; s = it.next()) ...
 */
export class NackIterator {
  private buf: Uint8Array = new Uint8Array(0);
  private p = 0;
  private end = 0;
  private pid = 0;
  private blp = 0;
  /** 0–15: next BLP bit of the current pair to test; 16: read the next pair. */
  private bit = 16;

  reset(buf: Uint8Array, fciOffset: number, fciLength: number): this {
    this.buf = buf;
    this.p = fciOffset;
    this.end = fciOffset + (fciLength & ~3);
    this.bit = 16;
    return this;
  }

  /** Next lost sequence number, or -1 when done. */
  next(): number {
    for (;;) {
      if (this.bit >= 16) {
        if (this.p + 4 > this.end) return -1;
        const b = this.buf;
        const q = this.p;
        this.pid = (b[q] << 8) | b[q + 1];
        this.blp = (b[q + 2] << 8) | b[q + 3];
        this.p = q + 4;
        this.bit = 0;
        return this.pid;
      }
      const i = this.bit++;
      if ((this.blp & (1 << i)) !== 0) return (this.pid + i + 1) & 0xffff;
    }
  }
}

/** Expands a Generic NACK FCI into `out` (up to its capacity); returns the number of sequence numbers written. */
export function expandNack(buf: Uint8Array, fciOffset: number, fciLength: number, out: Uint16Array | number[]): number {
  const end = fciOffset + (fciLength & ~3);
  const cap = out.length;
  let n = 0;
  for (let q = fciOffset; q + 4 <= end; q += 4) {
    const pid = (buf[q] << 8) | buf[q + 1];
    const blp = (buf[q + 2] << 8) | buf[q + 3];
    if (n >= cap) return n;
    out[n++] = pid;
    for (let i = 0; i < 16; i++) {
      if ((blp & (1 << i)) !== 0) {
        if (n >= cap) return n;
        out[n++] = (pid + i + 1) & 0xffff;
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------------
// Builders. Each writes at buf[off] and returns the number of bytes written, or -1 if the buffer is too small
// (nothing useful is written then).

function header(buf: Uint8Array, off: number, count: number, pt: number, size: number): void {
  buf[off] = 0x80 | (count & 0x1f);
  buf[off + 1] = pt;
  w16(buf, off + 2, size / 4 - 1);
}

function writeBlock(buf: Uint8Array, p: number, b: RtcpReportBlock): void {
  w32(buf, p, b.ssrc);
  buf[p + 4] = b.fractionLost & 0xff;
  let lost = b.cumulativeLost;
  if (lost > 0x7fffff) lost = 0x7fffff;
  else if (lost < -0x800000) lost = -0x800000;
  buf[p + 5] = (lost >> 16) & 0xff;
  buf[p + 6] = (lost >> 8) & 0xff;
  buf[p + 7] = lost & 0xff;
  w32(buf, p + 8, b.highestSeq);
  w32(buf, p + 12, b.jitter);
  w32(buf, p + 16, b.lastSr);
  w32(buf, p + 20, b.delaySinceLastSr);
}

/** Sender Report with `blockCount` (≤ 31) report blocks taken from `blocks`. Cumulative lost is clamped to 24 bits. */
export function writeSenderReport(
  buf: Uint8Array,
  off: number,
  ssrc: number,
  ntpSec: number,
  ntpFrac: number,
  rtpTimestamp: number,
  packetCount: number,
  octetCount: number,
  blocks: readonly RtcpReportBlock[] | null = null,
  blockCount = 0,
): number {
  if (blockCount < 0 || blockCount > MAX_REPORT_BLOCKS || (blockCount > 0 && (!blocks || blocks.length < blockCount)))
    return -1;
  const size = 28 + blockCount * 24;
  if (off < 0 || off + size > buf.length) return -1;
  header(buf, off, blockCount, RTCP_SR, size);
  w32(buf, off + 4, ssrc);
  w32(buf, off + 8, ntpSec);
  w32(buf, off + 12, ntpFrac);
  w32(buf, off + 16, rtpTimestamp);
  w32(buf, off + 20, packetCount);
  w32(buf, off + 24, octetCount);
  for (let i = 0; i < blockCount; i++) writeBlock(buf, off + 28 + i * 24, blocks![i]);
  return size;
}

/** Receiver Report with `blockCount` (0–31) report blocks. */
export function writeReceiverReport(
  buf: Uint8Array,
  off: number,
  ssrc: number,
  blocks: readonly RtcpReportBlock[] | null = null,
  blockCount = 0,
): number {
  if (blockCount < 0 || blockCount > MAX_REPORT_BLOCKS || (blockCount > 0 && (!blocks || blocks.length < blockCount)))
    return -1;
  const size = 8 + blockCount * 24;
  if (off < 0 || off + size > buf.length) return -1;
  header(buf, off, blockCount, RTCP_RR, size);
  w32(buf, off + 4, ssrc);
  for (let i = 0; i < blockCount; i++) writeBlock(buf, off + 8 + i * 24, blocks![i]);
  return size;
}

/**
 * Generic NACK (RTPFB FMT=1) for the first `count` sequence numbers of `lost`. Each sequence number either falls into the
 * 16-bit BLP window of the current pair (PID+1 … PID+16, wrap-aware) or starts a new pair. Input in increasing
 * (wrap-aware) order gives the minimal packing; any order is still correct, only possibly larger. Duplicates are fine.
 */
export function writeNack(
  buf: Uint8Array,
  off: number,
  senderSsrc: number,
  mediaSsrc: number,
  lost: ArrayLike<number>,
  count = lost.length,
): number {
  if (count > lost.length) count = lost.length;
  if (count <= 0 || off < 0 || off + 16 > buf.length) return -1;
  const cap = buf.length;
  let q = off + 12; // next pair position
  let pid = -1;
  let blp = 0;
  let pairAt = 0;
  for (let i = 0; i < count; i++) {
    const s = lost[i] & 0xffff;
    if (pid >= 0) {
      const d = (s - pid) & 0xffff;
      if (d === 0) continue;
      if (d <= 16) {
        blp |= 1 << (d - 1);
        continue;
      }
      w16(buf, pairAt + 2, blp);
    }
    if (q + 4 > cap) return -1;
    pairAt = q;
    pid = s;
    blp = 0;
    w16(buf, q, pid);
    q += 4;
  }
  w16(buf, pairAt + 2, blp);
  const size = q - off;
  if (size / 4 - 1 > 0xffff) return -1;
  header(buf, off, 1, RTCP_RTPFB, size);
  w32(buf, off + 4, senderSsrc);
  w32(buf, off + 8, mediaSsrc);
  return size;
}

/** Picture Loss Indication (PSFB FMT=1), 12 bytes. */
export function writePli(buf: Uint8Array, off: number, senderSsrc: number, mediaSsrc: number): number {
  if (off < 0 || off + 12 > buf.length) return -1;
  header(buf, off, 1, RTCP_PSFB, 12);
  w32(buf, off + 4, senderSsrc);
  w32(buf, off + 8, mediaSsrc);
  return 12;
}

/**
 * Full Intra Request (PSFB FMT=4, RFC 5104 §4.3.1) for one media sender, 20 bytes. The common "media source" field is 0
 * as the RFC requires; the target SSRC and the 8-bit command sequence number go in the FCI.
 */
export function writeFir(buf: Uint8Array, off: number, senderSsrc: number, targetSsrc: number, seqNr: number): number {
  if (off < 0 || off + 20 > buf.length) return -1;
  header(buf, off, 4, RTCP_PSFB, 20);
  w32(buf, off + 4, senderSsrc);
  w32(buf, off + 8, 0);
  w32(buf, off + 12, targetSsrc);
  buf[off + 16] = seqNr & 0xff;
  buf[off + 17] = 0;
  buf[off + 18] = 0;
  buf[off + 19] = 0;
  return 20;
}

/**
 * REMB (PSFB FMT=15 'REMB'): bitrate (bits/s) encoded as an 18-bit mantissa and 6-bit exponent (rounded down), for the
 * first `count` SSRCs of `ssrcs` (≤ 255).
 */
export function writeRemb(
  buf: Uint8Array,
  off: number,
  senderSsrc: number,
  bitrate: number,
  ssrcs: ArrayLike<number>,
  count = ssrcs.length,
): number {
  if (count < 0 || count > 255 || count > ssrcs.length) return -1;
  const size = 20 + count * 4;
  if (off < 0 || off + size > buf.length) return -1;
  let br = bitrate > 0 ? Math.floor(bitrate) : 0;
  let exp = 0;
  while (br >= 0x40000 && exp < 63) {
    br = Math.floor(br / 2);
    exp++;
  }
  if (br >= 0x40000) br = 0x3ffff;
  header(buf, off, 15, RTCP_PSFB, size);
  w32(buf, off + 4, senderSsrc);
  w32(buf, off + 8, 0);
  w32(buf, off + 12, REMB_ID);
  buf[off + 16] = count;
  buf[off + 17] = (exp << 2) | (br >> 16);
  buf[off + 18] = (br >> 8) & 0xff;
  buf[off + 19] = br & 0xff;
  for (let i = 0; i < count; i++) w32(buf, off + 20 + i * 4, ssrcs[i]);
  return size;
}

/** SDES with one chunk holding a CNAME item (`cname` as bytes, ≤ 255), null-terminated and padded to 32 bits. */
export function writeSdesCname(buf: Uint8Array, off: number, ssrc: number, cname: Uint8Array): number {
  const n = cname.length;
  if (n > 255) return -1;
  // 4 header + 4 ssrc + 2 item header + n + at least one null byte, padded to 4.
  const size = (8 + 2 + n + 1 + 3) & ~3;
  if (off < 0 || off + size > buf.length) return -1;
  header(buf, off, 1, RTCP_SDES, size);
  w32(buf, off + 4, ssrc);
  buf[off + 8] = 1; // CNAME
  buf[off + 9] = n;
  for (let i = 0; i < n; i++) buf[off + 10 + i] = cname[i];
  for (let p = off + 10 + n; p < off + size; p++) buf[p] = 0;
  return size;
}

/** BYE for the first `count` (≤ 31) SSRCs, without a reason. */
export function writeBye(buf: Uint8Array, off: number, ssrcs: ArrayLike<number>, count = ssrcs.length): number {
  if (count < 0 || count > 31 || count > ssrcs.length) return -1;
  const size = 4 + count * 4;
  if (off < 0 || off + size > buf.length) return -1;
  header(buf, off, count, RTCP_BYE, size);
  for (let i = 0; i < count; i++) w32(buf, off + 4 + i * 4, ssrcs[i]);
  return size;
}

// ---------------------------------------------------------------------------------------------------------------------
// NTP time (RFC 5905 64-bit timestamp format: seconds since 1900-01-01 and a 32-bit fraction).

/** Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch). */
export const NTP_EPOCH_OFFSET_S = 2208988800;

/** A reusable NTP timestamp. */
export class NtpTime {
  sec = 0;
  frac = 0;
}

/** Converts Unix epoch milliseconds (may be fractional) to a 64-bit NTP timestamp in `out`. */
export function msToNtp(ms: number, out: NtpTime): NtpTime {
  const s = Math.floor(ms / 1000);
  const rem = ms - s * 1000;
  out.sec = (s + NTP_EPOCH_OFFSET_S) >>> 0;
  let frac = Math.round((rem / 1000) * 0x1_0000_0000);
  if (frac > 0xffffffff) frac = 0xffffffff;
  out.frac = frac >>> 0;
  return out;
}

/** Converts an NTP timestamp to Unix epoch milliseconds (era 0, i.e. until 2036). */
export function ntpToMs(sec: number, frac: number): number {
  return (sec - NTP_EPOCH_OFFSET_S) * 1000 + (frac / 0x1_0000_0000) * 1000;
}

/** The middle 32 bits of an NTP timestamp (16.16 fixed point seconds), as carried in LSR. */
export function ntpMiddle32(sec: number, frac: number): number {
  return (((sec & 0xffff) << 16) | (frac >>> 16)) >>> 0;
}

/** Middle 32 bits of the NTP time for Unix epoch milliseconds (the "compact NTP" clock used by LSR/DLSR RTT math). */
export function msToCompactNtp(ms: number): number {
  const s = Math.floor(ms / 1000);
  const rem = ms - s * 1000;
  const frac16 = Math.floor((rem * 65536) / 1000);
  return ((((s + NTP_EPOCH_OFFSET_S) & 0xffff) << 16) | frac16) >>> 0;
}

/** Converts a compact-NTP duration (1/65536 s units, e.g. DLSR) to milliseconds. */
export function compactNtpToMs(v: number): number {
  return ((v >>> 0) * 1000) / 65536;
}

/** Converts milliseconds to a compact-NTP duration (1/65536 s units), e.g. for DLSR. */
export function msToCompactNtpDuration(ms: number): number {
  return Math.floor((ms * 65536) / 1000) >>> 0;
}

/**
 * Round-trip time in ms from a report block (RFC 3550 §6.4.1): now − LSR − DLSR in compact NTP, all mod 2^32.
 * Returns -1 when LSR is 0 (no SR received yet) or the result is negative (clock skew / garbage).
 */
export function rttFromReport(nowMs: number, lastSr: number, delaySinceLastSr: number): number {
  if (lastSr === 0) return -1;
  const now = msToCompactNtp(nowMs);
  const rtt = (now - lastSr - delaySinceLastSr) | 0;
  if (rtt < 0) return -1;
  return (rtt * 1000) / 65536;
}
