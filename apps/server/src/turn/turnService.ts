// Kite's TURN server as part of a Kite node: started from `turn.*` by createServer, stopped by close(). It serves
// TURN over UDP (turn.udp_port), TCP (the same port number) and TLS (turn.tls_port), relays only to Kite's own media
// ports (relayPolicy.ts), and accepts only the credentials Kite hands its participants (credentials.ts), for as long
// as those participants are connected to this node.
import { isIP } from 'node:net';
import { turn, type IceOptions } from '@kite/sfu';
import type { KiteConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { RoomManager } from '../rooms/roomManager.js';
import { detectNodeIp, isLoopback } from '../rtc/iceConfig.js';
import { generateCertificate, loadCertificate, type TurnCertificate } from './cert.js';
import { parseTurnUsername, turnPasswordLookup } from './credentials.js';
import { mediaPortsFromConfig, nodeMediaAddresses, relayAllowList, relayPolicy } from './relayPolicy.js';

type TurnServer = InstanceType<typeof turn.TurnServer>;
type AllocationInfo = turn.AllocationInfo;

/** LiveKit's realm is "livekit"; clients take the realm from the server's 401, so any value works. */
export const TURN_REALM = 'kite';

/**
 * A participant's browser makes one allocation per TURN URL per peer connection (two with /rtc), and again after an
 * ICE restart or a network change: room for that, but not for a client that loops.
 */
const MAX_ALLOCATIONS_PER_PARTICIPANT = 32;

export interface TurnServiceOptions {
  log: Logger;
  /** What Kite's peer connections bind and advertise (iceOptions(config)). */
  ice: IceOptions;
  /** The UDP mux's bound port, when Kite runs one (read when a peer is checked, so a port bound later counts). */
  muxPort?: () => number | undefined;
}

/** How clients reach the TURN server (ports as bound: configured 0 means any free port). */
export interface TurnEndpoints {
  /** Host (IP) for turn: URLs: the node's address, as LiveKit advertises it. */
  host: string;
  udpPort: number;
  /** TURN over TCP: the same port number as UDP unless that was taken. */
  tcpPort: number;
  /** TURN over TLS served by Kite; undefined without a certificate (or with turn.external_tls). */
  tlsPort?: number;
  /** Host name for turns: URLs (turn.domain, else `host`; the certificate must match it). */
  tlsHost: string;
  /** TLS is terminated by a load balancer: clients get turns:<domain>:443. */
  externalTls: boolean;
  /** With external_tls and turn.tls_port: the plain TCP port the load balancer forwards to. */
  externalTlsBackendPort?: number;
}

const services = new WeakMap<KiteConfig, TurnService>();

/** The TURN service running for this configuration object (createServer's), if any. */
export function turnServiceFor(cfg: KiteConfig): TurnService | undefined {
  const s = services.get(cfg);
  return s && !s.closed ? s : undefined;
}

export class TurnService {
  closed = false;
  /** sid → number of live Participant objects with it (a resumed session may briefly have two). */
  private readonly active = new Map<string, number>();

  constructor(
    readonly server: TurnServer,
    readonly endpoints: TurnEndpoints,
    readonly certificate: TurnCertificate | undefined,
    private readonly log: Logger,
  ) {}

  isParticipantActive(sid: string): boolean {
    return (this.active.get(sid) ?? 0) > 0;
  }

  participantJoined(sid: string): void {
    this.active.set(sid, (this.active.get(sid) ?? 0) + 1);
  }

  /** The participant's credentials stop working for new allocations and its allocations are freed at once. */
  participantLeft(sid: string): void {
    const n = (this.active.get(sid) ?? 0) - 1;
    if (n > 0) {
      this.active.set(sid, n);
      return;
    }
    this.active.delete(sid);
    const freed = this.server.deleteAllocations((a) => parseTurnUsername(a.username)?.participantSid === sid);
    if (freed > 0) this.log.debug({ sid, allocations: freed }, 'TURN allocations of a departed participant freed');
  }

  /** Follows every room of `rooms`: who may use TURN is who is connected. */
  watchRooms(rooms: RoomManager): void {
    rooms.on('roomStarted', (room) => {
      room.on('participantJoined', (_r, p) => this.participantJoined(p.sid));
      room.on('participantLeft', (_r, p) => this.participantLeft(p.sid));
    });
  }

  /** The live allocations made with one participant's credentials. */
  allocationsOf(sid: string): AllocationInfo[] {
    return this.server.allocations().filter((a) => parseTurnUsername(a.username)?.participantSid === sid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
  }
}

/**
 * With udp_port 0 the TCP listener takes the number the UDP socket got, which another program may hold on TCP: pick
 * again a few times rather than fail at random.
 */
async function startServer(options: turn.TurnServerOptions, anyPort: boolean): Promise<TurnServer> {
  for (let attempt = 0; ; attempt++) {
    const server = new turn.TurnServer(options);
    try {
      await server.start();
      return server;
    } catch (err) {
      if (!anyPort || attempt >= 4 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new Error(`TURN server could not start: ${(err as Error).message}`);
      }
    }
  }
}

/** Starts TURN per `cfg.turn` (callers check `turn.enabled`). Throws when a port cannot be bound. */
export async function startTurnService(cfg: KiteConfig, opts: TurnServiceOptions): Promise<TurnService> {
  const t = cfg.turn;
  const { log } = opts;
  const listen = cfg.bind_addresses.length ? cfg.bind_addresses : ['0.0.0.0'];
  const specificV4 = listen.find((a) => isIP(a) === 4 && a !== '0.0.0.0');
  const nodeIp = cfg.rtc.node_ip ?? (cfg.development ? '127.0.0.1' : detectNodeIp());
  // Clients must reach TURN at `host`: the node's address, unless TURN only listens on loopback.
  const host = listen.every((a) => isLoopback(a)) ? listen[0]! : (nodeIp ?? specificV4 ?? '127.0.0.1');

  let certificate: TurnCertificate | undefined;
  if (!t.external_tls) {
    if (t.cert_file && t.key_file) certificate = loadCertificate(t.cert_file, t.key_file);
    else if (cfg.development) certificate = await generateCertificate([t.domain, host, ...(nodeIp ? [nodeIp] : []), ...listen.filter((a) => a !== '0.0.0.0' && a !== '::')]);
  }

  const addresses = nodeMediaAddresses(cfg, opts.ice);
  const ports = mediaPortsFromConfig(cfg, opts.ice, opts.muxPort);
  const service: { current?: TurnService } = {};
  const options: turn.TurnServerOptions = {
    realm: TURN_REALM,
    getPassword: turnPasswordLookup(
      () => cfg.keys,
      (sid) => service.current?.isParticipantActive(sid) ?? false,
    ),
    // Credentials expire (TURN_CREDENTIAL_TTL_S) but a call must not: what ends an allocation early is its
    // participant leaving (participantLeft), not the clock.
    allocationsOutliveCredentials: true,
    isPeerAllowed: relayPolicy(addresses, ports, relayAllowList(t.relay_allow)),
    listenAddresses: listen,
    udpPort: t.udp_port,
    tls: certificate ? { port: t.tls_port, cert: certificate.cert, key: certificate.key, options: { minVersion: 'TLSv1.2' } } : null,
    extraTcpPorts: t.external_tls && t.tls_port > 0 ? [t.tls_port] : undefined,
    // XOR-RELAYED-ADDRESS is what Kite's media sees the relay as; relay sockets bind where TURN listens.
    relayAddress: nodeIp && isIP(nodeIp) === 4 ? nodeIp : (specificV4 ?? '127.0.0.1'),
    relayBindAddress: specificV4 ?? '0.0.0.0',
    relayPortRange: [t.relay_range_start, t.relay_range_end],
    maxAllocationsPerUser: MAX_ALLOCATIONS_PER_PARTICIPANT,
  };

  const server = await startServer(options, t.udp_port === 0);
  const bound = server.addresses();
  const endpoints: TurnEndpoints = {
    host,
    udpPort: bound.udp[0]!.port,
    tcpPort: bound.tcp[0]!.port,
    tlsPort: bound.tls[0]?.port,
    tlsHost: t.domain || host,
    externalTls: t.external_tls,
    externalTlsBackendPort: t.external_tls && t.tls_port > 0 ? t.tls_port : undefined,
  };
  const svc = new TurnService(server, endpoints, certificate, log);
  service.current = svc;
  services.set(cfg, svc);

  server.on('warning', (err) => log.warn({ err: err.message }, 'TURN warning'));
  server.on('auth-failure', (e) => log.debug({ code: e.code, transport: e.transport, client: `${e.client.address}:${e.client.port}`, username: e.username }, 'TURN authentication refused'));
  log.info(
    {
      udp_port: endpoints.udpPort,
      tcp_port: endpoints.tcpPort,
      tls_port: endpoints.tlsPort,
      external_tls: t.external_tls,
      relay_range: [t.relay_range_start, t.relay_range_end],
      relay_to: { addresses: [...addresses], ports: { fixed: ports.fixed, range: ports.range, mux: ports.muxPort !== undefined }, allow: t.relay_allow },
      cert: certificate && { self_signed: certificate.selfSigned, spki_sha256: certificate.spki, not_after: new Date(certificate.notAfter).toISOString() },
    },
    'TURN server started',
  );
  if (certificate?.selfSigned) {
    log.info(
      `TURN/TLS uses a self-signed certificate: browsers refuse it unless told to trust it, e.g. chromium --ignore-certificate-errors-spki-list=${certificate.spki}`,
    );
  }
  return svc;
}
