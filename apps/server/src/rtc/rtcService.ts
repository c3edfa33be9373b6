// The signalling endpoints: GET /rtc (WebSocket, LiveKit protocol v0: two peer connections), GET /rtc/v1 (protocol v1:
// one peer connection, the JoinRequest in the `join_request` parameter), and their /validate.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import {
  CandidateProtocol,
  ClientConfigSetting,
  COMPATIBLE_SERVER_VERSION,
  DisconnectReason,
  LeaveRequest_Action,
  PROTOCOL_VERSION,
  ServerInfo_Edition,
  SignalResponse,
  type JoinResponse,
  type PartialMessage,
} from '@kite/protocol';
import { KITE_CODECS, type IceOptions } from '@kite/sfu';
import type { KiteConfig } from '../config/index.js';
import type { KeyProvider } from '../auth/tokens.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../logger.js';
import type { RoomManager } from '../rooms/roomManager.js';
import type { RoomStore } from '../rooms/store.js';
import type { Router } from '../routing/router.js';
import type { RelayedConnect, SignalRelay } from '../routing/signalRelay.js';
import { checkConnect, checkConnectV1, type ConnectParams } from './connectRequest.js';
import { Participant, PING_INTERVAL, PING_TIMEOUT } from './participant.js';
import { CloseCode, SignalConnection } from './signalConnection.js';
import { iceServersFor } from '../turn/iceServers.js';

export interface RtcServiceOptions {
  config: KiteConfig;
  keys: KeyProvider;
  rooms: RoomManager;
  /** Room state of every node (the rooms this node hosts are also in `rooms`). */
  store: RoomStore;
  /** Which node hosts a room (always this one without Redis). */
  router: Router;
  /** Multi-node: relays signalling for rooms hosted elsewhere. */
  relay?: SignalRelay;
  ice: IceOptions;
  log: Logger;
  nodeId: string;
}

type Query = Record<string, string | undefined>;
type Validation = { ok: true; params: ConnectParams } | { ok: false; status: number; message: string };

declare module 'fastify' {
  interface FastifyRequest {
    kiteConnect?: ConnectParams;
    /** The node hosting the room, when it is not this one. */
    kiteRelayTo?: string;
  }
}

export async function registerRtcService(app: FastifyInstance, opts: RtcServiceOptions): Promise<void> {
  const { config, rooms, store, router, relay, log } = opts;
  await app.register(websocket, { options: { maxPayload: config.limit.signal_message_size_limit } });

  /**
   * The checks of validateInternal: token, grants (and for v1 the join_request), room existence and capacity. A room
   * hosted elsewhere is checked on its stored state here, and again by its node when the session reaches it.
   */
  async function validate(c: RelayedConnect): Promise<Validation> {
    const check = await (c.v1 ? checkConnectV1 : checkConnect)(c.query, c.authorization, opts.keys, c.userAgent);
    if (!check.ok) return check;
    const { roomName, identity } = check.params;
    const room = rooms.getRoom(roomName);
    const stored = room ? undefined : await store.loadRoom(roomName);
    if (!room && !stored && !config.room.auto_create && !check.params.grants.video?.roomCreate) {
      return { ok: false, status: 404, message: 'requested room does not exist' };
    }
    const full = room
      ? room.isFull(identity)
      : !!stored && stored.maxParticipants > 0 && stored.numParticipants >= stored.maxParticipants && !(await store.loadParticipant(roomName, identity));
    if (full) return { ok: false, status: 503, message: 'room is full' };
    return check;
  }

  const connectOf = (req: FastifyRequest, v1: boolean): RelayedConnect => ({
    query: req.query as Query,
    authorization: req.headers.authorization,
    userAgent: req.headers['user-agent'],
    v1,
  });

  const refuse = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).header('access-control-allow-origin', '*').type('text/plain').send(message);

  for (const [path, v1] of [['/rtc/validate', false], ['/rtc/v1/validate', true]] as const) {
    app.get(path, async (req, reply) => {
      const v = await validate(connectOf(req, v1));
      if (!v.ok) return refuse(reply, v.status, v.message);
      return reply.header('access-control-allow-origin', '*').type('text/plain').send('success');
    });
  }

  /**
   * Refuses an upgrade that fails validation with LiveKit's status and text (a plain GET goes on to a 404), and finds
   * the room's node: a new room is placed now; a resume goes where the session lives (if no live node has it, the
   * local path refuses it and the client rejoins).
   */
  const checkUpgrade = (v1: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return; // plain GET: 404 below, as LiveKit
    const v = await validate(connectOf(req, v1));
    if (!v.ok) {
      log.info({ status: v.status, reason: v.message, url: redactUrl(req.url) }, 'signal connection refused');
      return refuse(reply, v.status, v.message);
    }
    let host: string | undefined;
    try {
      host = await router.hostOf(v.params.roomName, !v.params.reconnect);
    } catch (err) {
      log.error({ err: (err as Error).message, room: v.params.roomName }, 'room placement failed');
      return refuse(reply, 503, 'no node available for the room');
    }
    if (!host && !v.params.reconnect) return refuse(reply, 503, 'no node available for the room');
    req.kiteConnect = v.params;
    if (host && host !== opts.nodeId) req.kiteRelayTo = host;
  };
  const openSession = (v1: boolean) => (socket: WebSocket, req: FastifyRequest) => {
    if (req.kiteRelayTo && relay) {
      relay.relay(socket, req.kiteRelayTo, connectOf(req, v1));
      return;
    }
    runSession(new SignalConnection(socket, log), req.kiteConnect!);
  };
  const runSession = (signal: SignalConnection, params: ConnectParams) => {
    void startSession(signal, params, opts).catch((err: Error) => {
      log.error({ err: err.message }, 'join failed');
      signal.send({ leave: { reason: DisconnectReason.JOIN_FAILURE, action: LeaveRequest_Action.DISCONNECT } });
      signal.close(CloseCode.internalError, 'join failed');
    });
  };
  for (const [url, v1] of [['/rtc', false], ['/rtc/v1', true]] as const) {
    app.route({
      method: 'GET',
      url,
      preValidation: checkUpgrade(v1),
      handler: async (_req, reply) => reply.code(404).type('text/plain').send(''),
      wsHandler: openSession(v1),
    });
  }

  // Sessions another node accepted for a room hosted here: checked again here (this node's view of the room is the
  // authoritative one), then run like a direct one.
  if (relay) {
    relay.accept = (socket, connect) => {
      const signal = new SignalConnection(socket, log);
      void validate(connect).then(
        (v) => {
          if (v.ok) return runSession(signal, v.params);
          log.info({ status: v.status, reason: v.message }, 'relayed signal connection refused');
          signal.send({ leave: { reason: DisconnectReason.JOIN_FAILURE, action: LeaveRequest_Action.DISCONNECT } });
          signal.close(CloseCode.policyViolation, v.message);
        },
        (err: Error) => {
          log.error({ err: err.message }, 'relayed session check failed');
          signal.close(CloseCode.internalError, 'join failed');
        },
      );
    };
  }
}

async function startSession(signal: SignalConnection, params: ConnectParams, opts: RtcServiceOptions): Promise<void> {
  const { config, rooms, log } = opts;
  if (params.reconnect) {
    resumeSession(signal, params, opts);
    return;
  }
  const room = await rooms.getOrCreateRoom({ name: params.roomName });
  if (room.isFull(params.identity)) {
    signal.send({ leave: { reason: DisconnectReason.JOIN_FAILURE, action: LeaveRequest_Action.DISCONNECT } });
    signal.close(CloseCode.policyViolation, 'room is full');
    return;
  }
  const previous = room.getParticipant(params.identity);
  const takeOver = previous?.canBeTakenOver ? { sid: previous.sid, version: previous.version } : undefined;
  // force-tcp / force-tls (SimulateScenario switch_candidate_protocol) apply from this join on; a session that takes
  // an earlier one over keeps its preference, as LiveKit keeps a participant's ICE config across rejoins.
  const preference = room.takeCandidatePreference(params.identity) ?? (previous && candidatePreferences.get(previous));
  const ice: IceOptions = preference === CandidateProtocol.TCP ? { ...opts.ice, protocols: ['tcp'] } : opts.ice;
  const participant = new Participant({ params, signal, room, config, ice, log, takeOver });
  if (preference !== undefined && preference !== CandidateProtocol.UDP) {
    candidatePreferences.set(participant, preference);
    log.info({ room: room.name, participant: params.identity, preference: CandidateProtocol[preference] }, 'candidate protocol preference applied');
  }
  room.join(participant, (others) => {
    const join: PartialMessage<JoinResponse> = {
      room: room.toProto(),
      participant: participant.toProto(),
      otherParticipants: others,
      serverVersion: COMPATIBLE_SERVER_VERSION,
      serverRegion: config.region,
      ...iceForClient(config, participant, params),
      subscriberPrimary: participant.subscriberPrimary,
      pingInterval: PING_INTERVAL,
      pingTimeout: PING_TIMEOUT,
      serverInfo: serverInfo(opts),
      enabledPublishCodecs: enabledPublishCodecs(config),
      fastPublish: participant.permission.canPublish,
    };
    signal.send({ join } satisfies PartialMessage<SignalResponse>);
  });
}

/**
 * Resume (reconnect=1&sid=PA_…): the participant must still be in its room with that sid; otherwise the client is told
 * to rejoin (LeaveRequest STATE_MISMATCH / RECONNECT as the first message, as LiveKit does).
 */
function resumeSession(signal: SignalConnection, params: ConnectParams, opts: RtcServiceOptions): void {
  const room = opts.rooms.getRoom(params.roomName);
  const participant = room?.getParticipant(params.identity);
  // A resume keeps the session's peer connections: it must come on the signalling path (v0 / v1) the session uses.
  const samePath = participant?.singlePeerConnection === !!params.singlePeerConnection;
  if (!room || !participant || !participant.resumable || (params.sid && participant.sid !== params.sid) || !samePath) {
    opts.log.info({ room: params.roomName, participant: params.identity, sid: params.sid }, 'resume refused: no such session; the client rejoins');
    signal.send({ leave: { canReconnect: true, reason: DisconnectReason.STATE_MISMATCH, action: LeaveRequest_Action.RECONNECT } });
    signal.close(CloseCode.normal, 'state mismatch');
    return;
  }
  const since = participant.signalLostSince || Date.now();
  participant.resume(
    signal,
    {
      // Fresh TURN credentials and the same candidate policy as the join: the client applies both to its connections.
      ...iceForClient(opts.config, participant, params),
      serverInfo: serverInfo(opts),
      lastMessageSeq: participant.lastReliableSeq,
    },
    { participants: room.missedSince(participant, since), room: room.toProto() },
    room.takeResumeSimulation(params.identity),
  );
}

/** force-tcp / force-tls of a session (absent: UDP, the default). */
const candidatePreferences = new WeakMap<Participant, CandidateProtocol>();

/**
 * ice_servers and client_configuration of a JoinResponse / ReconnectResponse, as LiveKit's iceServersForParticipant
 * and ICE config: TLS → only the turns: URL and force_relay (the client sets iceTransportPolicy 'relay'); TCP → the
 * usual servers (the participant's transports offer ICE-TCP candidates only).
 */
function iceForClient(config: KiteConfig, participant: Participant, params: ConnectParams): Pick<PartialMessage<JoinResponse>, 'iceServers' | 'clientConfiguration'> {
  const tls = candidatePreferences.get(participant) === CandidateProtocol.TLS;
  const iceServers = iceServersFor(config, { sid: participant.sid, apiKey: params.apiKey }, { tlsOnly: tls });
  // Without TURN/TLS iceServersFor falls back to the plain turn: URLs and the relay goes over those (as LiveKit);
  // without any TURN server, forcing relay could only break the session, so it is not forced.
  const relay = tls && iceServers.length > 0;
  return relay ? { iceServers, clientConfiguration: { forceRelay: ClientConfigSetting.ENABLED } } : { iceServers };
}

function serverInfo(opts: RtcServiceOptions) {
  return {
    edition: ServerInfo_Edition.Standard,
    version: COMPATIBLE_SERVER_VERSION,
    protocol: PROTOCOL_VERSION,
    region: opts.config.region,
    nodeId: opts.nodeId,
  };
}

/** The room's codecs a client may publish with (RTX is implied). */
function enabledPublishCodecs(config: KiteConfig): { mime: string; fmtpLine: string }[] {
  const enabled = new Set(config.room.enabled_codecs.map((c) => c.mime.toLowerCase()));
  return KITE_CODECS.filter((c) => enabled.size === 0 || enabled.has(c.mime.toLowerCase())).map((c) => ({ mime: c.mime, fmtpLine: '' }));
}
