// Binary and proto3-JSON compatibility with the official @livekit/protocol (protobuf-es) classes.
import { describe, expect, it } from 'vitest';
import * as lk from '@livekit/protocol';
import {
  DataPacket,
  DataPacket_Kind,
  JoinResponse,
  ParticipantInfo_State,
  ParticipantUpdate,
  ProtocolError,
  SignalRequest,
  SignalResponse,
  TrackSource,
  TrackType,
  UpdateParticipantRequest,
  WebhookEvent,
  base64Decode,
  base64UrlEncode,
} from '@kite/protocol';

const joinResponse = {
  room: { sid: 'RM_abc', name: 'r1', emptyTimeout: 300, creationTime: 1_700_000_000, creationTimeMs: 1_700_000_000_123 },
  participant: {
    sid: 'PA_alice',
    identity: 'alice',
    state: ParticipantInfo_State.JOINED,
    joinedAt: 1_700_000_000,
    joinedAtMs: 1_700_000_000_456,
    attributes: { role: 'host' },
    permission: { canPublish: true, canSubscribe: true, canPublishSources: [TrackSource.CAMERA, TrackSource.MICROPHONE] },
    tracks: [{ sid: 'TR_1', type: TrackType.VIDEO, width: 1280, height: 720, simulcast: true, layers: [{ quality: 2, width: 1280, height: 720, rid: 'f' }] }],
  },
  otherParticipants: [{ sid: 'PA_bob', identity: 'bob', name: 'Bob' }],
  serverInfo: { version: '1.9.0', protocol: 17 },
  pingInterval: 5,
  pingTimeout: 15,
  subscriberPrimary: true,
  iceServers: [{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: 'u', credential: 'c' }],
  enabledPublishCodecs: [{ mime: 'video/VP8' }, { mime: 'audio/opus' }],
};

describe('binary compatibility with @livekit/protocol', () => {
  it('JoinResponse: Kite bytes decode in protobuf-es and back', () => {
    const bytes = JoinResponse.encode(joinResponse);
    const theirs = lk.JoinResponse.fromBinary(bytes);
    expect(theirs.participant?.identity).toBe('alice');
    expect(theirs.participant?.attributes).toEqual({ role: 'host' });
    expect(theirs.participant?.joinedAtMs).toBe(1_700_000_000_456n);
    expect(theirs.participant?.permission?.canPublishSources).toEqual([lk.TrackSource.CAMERA, lk.TrackSource.MICROPHONE]);
    expect(theirs.participant?.tracks[0]?.layers[0]?.rid).toBe('f');
    expect(theirs.otherParticipants[0]?.name).toBe('Bob');
    expect(theirs.serverInfo?.version).toBe('1.9.0');
    expect(theirs.pingTimeout).toBe(15);
    expect(theirs.iceServers[0]?.urls).toEqual(['turn:127.0.0.1:3478?transport=udp']);

    const back = JoinResponse.decode(theirs.toBinary());
    expect(back.participant?.joinedAtMs).toBe(1_700_000_000_456);
    expect(back.room?.creationTimeMs).toBe(1_700_000_000_123);
    expect(back.participant?.tracks[0]?.simulcast).toBe(true);
    expect(back.subscriberPrimary).toBe(true);
    expect(back.alternativeUrl).toBe(''); // proto3 default filled in
    expect(back.clientConfiguration).toBeUndefined(); // unset message stays absent
  });

  it('ParticipantUpdate wrapped in SignalResponse, with the oneof discriminator', () => {
    const bytes = SignalResponse.encode({
      update: { participants: [{ sid: 'PA_x', identity: 'x', version: 7, state: ParticipantInfo_State.DISCONNECTED, disconnectReason: 2 }] },
    });
    const theirs = lk.SignalResponse.fromBinary(bytes);
    expect(theirs.message.case).toBe('update');
    const p = (theirs.message.value as lk.ParticipantUpdate).participants[0]!;
    expect(p.version).toBe(7);
    expect(p.state).toBe(lk.ParticipantInfo_State.DISCONNECTED);
    expect(p.disconnectReason).toBe(lk.DisconnectReason.DUPLICATE_IDENTITY);

    const ours = SignalResponse.decode(theirs.toBinary());
    expect(ours.message).toBe('update');
    expect(ours.update?.participants[0]?.version).toBe(7);
    expect(ParticipantUpdate.decode(ParticipantUpdate.encode(ours.update!)).participants).toHaveLength(1);
  });

  it('SignalRequest from the official client decodes in Kite (offer, ping_req, leave)', () => {
    const offer = new lk.SignalRequest({ message: { case: 'offer', value: new lk.SessionDescription({ type: 'offer', sdp: 'v=0', id: 3 }) } });
    const ours = SignalRequest.decode(offer.toBinary());
    expect(ours.message).toBe('offer');
    expect(ours.offer).toMatchObject({ type: 'offer', sdp: 'v=0', id: 3 });

    const ping = new lk.SignalRequest({ message: { case: 'pingReq', value: new lk.Ping({ timestamp: 1_700_000_000_999n, rtt: 12n }) } });
    expect(SignalRequest.decode(ping.toBinary()).pingReq).toEqual({ timestamp: 1_700_000_000_999, rtt: 12 });

    const leave = new lk.SignalRequest({ message: { case: 'leave', value: new lk.LeaveRequest({ reason: lk.DisconnectReason.CLIENT_INITIATED }) } });
    const l = SignalRequest.decode(leave.toBinary());
    expect(l.message).toBe('leave');
    expect(l.leave?.reason).toBe(1);
  });

  it('DataPacket with a user payload and topic, both ways', () => {
    const payload = new Uint8Array([1, 2, 3, 250]);
    const bytes = DataPacket.encode({
      kind: DataPacket_Kind.LOSSY,
      participantIdentity: 'alice',
      destinationIdentities: ['bob'],
      sequence: 42,
      user: { payload, topic: 'chat' },
    });
    const theirs = lk.DataPacket.fromBinary(bytes);
    expect(theirs.kind).toBe(lk.DataPacket_Kind.LOSSY);
    expect(theirs.value.case).toBe('user');
    const user = theirs.value.value as lk.UserPacket;
    expect(Array.from(user.payload)).toEqual([1, 2, 3, 250]);
    expect(user.topic).toBe('chat');
    expect(theirs.sequence).toBe(42);

    const rpc = new lk.DataPacket({
      destinationIdentities: ['bob'],
      value: { case: 'rpcRequest', value: new lk.RpcRequest({ id: 'r1', method: 'greet', payload: 'hi', responseTimeoutMs: 5000, version: 1 }) },
    });
    const ours = DataPacket.decode(rpc.toBinary());
    expect(ours.value).toBe('rpcRequest');
    expect(ours.rpcRequest).toMatchObject({ id: 'r1', method: 'greet', payload: 'hi', responseTimeoutMs: 5000 });
    // Stamping the sender and re-encoding (what the server does) keeps the payload intact for the official decoder.
    ours.participantIdentity = 'alice';
    const again = lk.DataPacket.fromBinary(DataPacket.encode(ours));
    expect(again.participantIdentity).toBe('alice');
    expect((again.value.value as lk.RpcRequest).method).toBe('greet');
  });

  it('WebhookEvent both ways', () => {
    const bytes = WebhookEvent.encode({ event: 'room_started', id: 'EV_1', createdAt: 1_700_000_000, room: { sid: 'RM_1', name: 'r' } });
    const theirs = lk.WebhookEvent.fromBinary(bytes);
    expect(theirs.event).toBe('room_started');
    expect(theirs.createdAt).toBe(1_700_000_000n);
    expect(WebhookEvent.decode(theirs.toBinary()).room?.name).toBe('r');
  });

  it('malformed bytes give a ProtocolError, not a crash', () => {
    expect(() => SignalRequest.decode(new Uint8Array([0x0a, 0xff, 0xff, 0xff]))).toThrow(ProtocolError);
    expect(() => DataPacket.decode(new Uint8Array([0xff]))).toThrow(ProtocolError);
  });
});

describe('proto3 JSON', () => {
  it('writes lowerCamelCase, omits defaults, int64 as strings: what the official fromJson reads', () => {
    const json = WebhookEvent.toJson({
      event: 'participant_joined',
      id: 'EV_2',
      createdAt: 1_700_000_001,
      participant: { sid: 'PA_1', identity: 'alice', joinedAt: 1_700_000_000, state: ParticipantInfo_State.ACTIVE },
    });
    expect(json).toEqual({
      event: 'participant_joined',
      id: 'EV_2',
      createdAt: '1700000001',
      participant: { sid: 'PA_1', identity: 'alice', joinedAt: '1700000000', state: 'ACTIVE' },
    });
    const theirs = lk.WebhookEvent.fromJson(json as never);
    expect(theirs.participant?.state).toBe(lk.ParticipantInfo_State.ACTIVE);
    expect(theirs.createdAt).toBe(1_700_000_001n);
  });

  it('reads what the official toJson writes, and proto (snake_case) names too', () => {
    const req = new lk.UpdateParticipantRequest({
      room: 'r',
      identity: 'i',
      metadata: 'm',
      permission: new lk.ParticipantPermission({ canPublish: true, canPublishSources: [lk.TrackSource.CAMERA] }),
      attributes: { a: 'b' },
    });
    const ours = UpdateParticipantRequest.fromJson(req.toJson());
    expect(ours.permission?.canPublish).toBe(true);
    expect(ours.permission?.canPublishSources).toEqual([TrackSource.CAMERA]);
    expect(ours.attributes).toEqual({ a: 'b' });

    const snake = UpdateParticipantRequest.fromJson({ room: 'r', identity: 'i', permission: { can_publish_data: false, can_subscribe: 1 === 1 } });
    expect(snake.permission?.canSubscribe).toBe(true);
    expect(snake.permission?.canPublishData).toBe(false);
  });

  it('accepts enums by name or number, int64 as string or number, bytes as base64', () => {
    const dp = DataPacket.fromJson({ kind: 'LOSSY', sequence: '9', user: { payload: 'AQID', topic: 't' } });
    expect(dp.kind).toBe(DataPacket_Kind.LOSSY);
    expect(Array.from(dp.user!.payload)).toEqual([1, 2, 3]);
    expect(DataPacket.fromJson({ kind: 1 }).kind).toBe(DataPacket_Kind.LOSSY);
  });

  it('useProtoNames + emitDefaults reproduces the Go Twirp server style', () => {
    const json = lk.Room.fromJson({}); // sanity: the official reader accepts an empty object
    expect(json.name).toBe('');
    const out = JoinResponse.toJson({ pingInterval: 5 }, { useProtoNames: true, emitDefaults: true });
    expect(out.ping_interval).toBe(5);
    expect(out.subscriber_primary).toBe(false);
    expect(out.other_participants).toEqual([]);
    expect(out).not.toHaveProperty('room'); // unset messages are omitted even with emitDefaults, as protojson does
  });

  it('rejects values of the wrong type with the field path', () => {
    expect(() => UpdateParticipantRequest.fromJson({ permission: { canPublish: 'yes' } })).toThrow(/permission\.canPublish: expected a boolean/);
    expect(() => DataPacket.fromJson({ kind: 'SOMETIMES' })).toThrow(/unknown DataPacket.Kind|unknown Kind/);
    expect(() => DataPacket.fromJson({ sequence: 1.5 })).toThrow(/sequence: expected an integer/);
    expect(() => DataPacket.fromJson('nope')).toThrow(ProtocolError);
  });

  it('base64url helpers round-trip (join_request parameter)', () => {
    const bytes = new Uint8Array([251, 255, 191, 0, 1]);
    expect(Array.from(base64Decode(base64UrlEncode(bytes)))).toEqual(Array.from(bytes));
  });
});
