// Big-endian writes for the RTCP writers; internal to the package.

export function w32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >>> 24) & 0xff;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
}

export function w16(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >> 8) & 0xff;
  buf[p + 1] = v & 0xff;
}
