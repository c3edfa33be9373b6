// Single-port ICE: one UDP socket and one TCP listener shared by every server-side peer connection.
export { UdpMux, UdpMuxSession } from './UdpMux.js';
export type { UdpMuxOptions, UdpMuxHandler, UdpMuxStats } from './UdpMux.js';
export { TcpMux, TcpMuxSession } from './TcpMux.js';
export type { TcpMuxOptions, TcpMuxHandler, TcpMuxStats } from './TcpMux.js';
export { attachMuxes, muxProtocolsOf, MuxTcpProtocol, MuxUdpTransport } from './werift.js';
export type { AttachMuxOptions } from './werift.js';
export type { MuxAddress, MuxCredentials } from './common.js';
export { parseBindingRequest, verifyIntegrity } from './stun.js';
export type { BindingRequestInfo } from './stun.js';
