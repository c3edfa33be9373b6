/** The signalling protocol version Kite speaks (livekit-client 2.x sends 17). */
export const PROTOCOL_VERSION = 17;
/**
 * The LiveKit server version Kite reports in JoinResponse.server_info. Clients gate features on it
 * (RPC needs ≥ 1.8.0), so it names the LiveKit release whose behaviour Kite matches, not Kite's own version.
 */
export const COMPATIBLE_SERVER_VERSION = '1.9.0';
/** Kite's own version, reported alongside. */
export const KITE_VERSION = '0.1.0';
