/** RTP-level building blocks of Kite's media core: allocation-free parsing, rewriting and per-SSRC state. */
export * from './seq.js';
export * from './packet.js';
export * from './rtcp.js';
export * from './history.js';
export * from './nack.js';
export * from './rtx.js';
export * from './jitter.js';
export * from './codecs/vp8.js';
export * from './codecs/vp9.js';
export * from './codecs/h264.js';
export * from './codecs/av1.js';
export * from './codecs/dd.js';
