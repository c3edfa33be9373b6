// Test driver around a client SDK: the official livekit-client, or Kite's own @kite/client with `?sdk=kite` (its API
// mirrors livekit-client's, so the same driver runs both). Tests call window.t.* through page.evaluate.
// Every room event is recorded in t.events with a timestamp; remote tracks are attached to media elements so the
// browser really decodes them.
const SDK = new URLSearchParams(location.search).get('sdk') === 'kite' ? 'kite' : 'livekit';
const LK = await import(SDK === 'kite' ? '/lib/kite-client/kite-client.js' : '/lib/livekit-client/livekit-client.esm.mjs');

const { Room, RoomEvent, Track } = LK;
const media = document.getElementById('media');

/** The native RTCPeerConnection of the publisher or subscriber side, whichever SDK runs. */
function nativePc(which) {
  const engine = t.room?.engine;
  if (SDK === 'kite') return (which === 'publisher' ? engine?.publisher : engine?.subscriber)?.pc?.native;
  const side = which === 'publisher' ? engine?.pcManager?.publisher : engine?.pcManager?.subscriber;
  return side?.getPC?.() ?? side?._pc;
}

/** The native RTCRtpSender of a local track. */
function nativeSender(track) {
  if (SDK === 'kite') return track?.transceiver?.native?.sender;
  return track?.sender;
}

const t = {
  LK,
  SDK,
  room: undefined,
  events: [],
  log(name, detail = {}) {
    t.events.push({ name, at: performance.now(), ...detail });
  },
  /** Connects; resolves with the join time in ms. */
  async connect(url, token, roomOptions = {}, connectOptions = {}) {
    const room = new Room(roomOptions);
    t.room = room;
    const who = (p) => p?.identity;
    room
      .on(RoomEvent.ParticipantConnected, (p) => t.log('ParticipantConnected', { identity: p.identity }))
      .on(RoomEvent.ParticipantDisconnected, (p) => t.log('ParticipantDisconnected', { identity: p.identity }))
      .on(RoomEvent.TrackPublished, (pub, p) => t.log('TrackPublished', { identity: who(p), sid: pub.trackSid, kind: pub.kind, source: pub.source }))
      .on(RoomEvent.TrackUnpublished, (pub, p) => t.log('TrackUnpublished', { identity: who(p), sid: pub.trackSid, kind: pub.kind }))
      .on(RoomEvent.TrackSubscribed, (track, pub, p) => {
        t.log('TrackSubscribed', { identity: who(p), sid: pub.trackSid, kind: track.kind, source: pub.source });
        const el = track.attach();
        el.dataset.sid = pub.trackSid;
        el.dataset.identity = p.identity;
        if (track.kind === 'video') el.muted = true;
        media.appendChild(el);
      })
      .on(RoomEvent.TrackUnsubscribed, (track, pub, p) => {
        t.log('TrackUnsubscribed', { identity: who(p), sid: pub.trackSid, kind: track.kind });
        track.detach().forEach((el) => el.remove());
      })
      .on(RoomEvent.TrackStreamStateChanged, (pub, state, p) => t.log('TrackStreamStateChanged', { identity: who(p), sid: pub.trackSid, state }))
      .on(RoomEvent.TrackMuted, (pub, p) => t.log('TrackMuted', { identity: who(p), sid: pub.trackSid }))
      .on(RoomEvent.TrackUnmuted, (pub, p) => t.log('TrackUnmuted', { identity: who(p), sid: pub.trackSid }))
      .on(RoomEvent.ParticipantMetadataChanged, (old, p) => t.log('ParticipantMetadataChanged', { identity: who(p), metadata: p.metadata }))
      .on(RoomEvent.ParticipantNameChanged, (name, p) => t.log('ParticipantNameChanged', { identity: who(p), newName: name }))
      .on(RoomEvent.ParticipantAttributesChanged, (changed, p) => t.log('ParticipantAttributesChanged', { identity: who(p), changed }))
      .on(RoomEvent.ParticipantPermissionsChanged, (prev, p) => t.log('ParticipantPermissionsChanged', { identity: who(p), canPublish: p.permissions?.canPublish, canSubscribe: p.permissions?.canSubscribe, canPublishData: p.permissions?.canPublishData }))
      .on(RoomEvent.RoomMetadataChanged, (md) => t.log('RoomMetadataChanged', { metadata: md }))
      .on(RoomEvent.ActiveSpeakersChanged, (speakers) => t.log('ActiveSpeakersChanged', { speakers: speakers.map((s) => s.identity), levels: speakers.map((s) => s.audioLevel), first: speakers[0]?.identity ?? '' }))
      .on(RoomEvent.ConnectionQualityChanged, (q, p) => t.log('ConnectionQualityChanged', { identity: who(p), quality: q }))
      .on(RoomEvent.DataReceived, (payload, p, kind, topic) => {
        if (t.quietData) {
          t.dataCount = (t.dataCount ?? 0) + 1;
          t.onData?.(payload, p, kind, topic);
          return;
        }
        t.log('DataReceived', { identity: who(p), kind, topic, text: new TextDecoder().decode(payload), size: payload.byteLength });
      })
      .on(RoomEvent.Reconnecting, () => t.log('Reconnecting'))
      .on(RoomEvent.SignalReconnecting, () => t.log('SignalReconnecting'))
      .on(RoomEvent.Reconnected, () => t.log('Reconnected'))
      .on(RoomEvent.Disconnected, (reason) => t.log('Disconnected', { reason }))
      .on(RoomEvent.LocalTrackPublished, (pub) => t.log('LocalTrackPublished', { sid: pub.trackSid, kind: pub.kind, source: pub.source }))
      .on(RoomEvent.LocalTrackUnpublished, (pub) => t.log('LocalTrackUnpublished', { sid: pub.trackSid }))
      .on(RoomEvent.MediaDevicesError, (e) => t.log('MediaDevicesError', { message: e.message }));
    const start = performance.now();
    await room.connect(url, token, connectOptions);
    t.log('Connected', { sid: room.localParticipant.sid });
    return performance.now() - start;
  },
  /** Waits until an event matching name (and fields) is recorded after `since`. */
  async waitEvent(name, match = {}, timeoutMs = 15000, since = 0) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const e = t.events.find((e) => e.name === name && e.at >= since && Object.entries(match).every(([k, v]) => e[k] === v));
      if (e) return e;
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${name} ${JSON.stringify(match)}; got ${t.events.map((e) => e.name).join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  },
  remoteTrack(identity, kind, source) {
    const p = t.room?.remoteParticipants.get(identity);
    if (!p) return undefined;
    for (const pub of p.trackPublications.values()) {
      if (pub.kind === kind && (!source || pub.source === source) && pub.track) return pub.track;
    }
    return undefined;
  },
  /** inbound-rtp stats of a remote track: framesDecoded, bytesReceived, packetsReceived, frameWidth, freezeCount… */
  async inbound(identity, kind, source) {
    const track = t.remoteTrack(identity, kind, source);
    if (!track?.receiver) return undefined;
    const report = await track.receiver.getStats();
    for (const s of report.values()) {
      if (s.type === 'inbound-rtp') {
        return {
          framesDecoded: s.framesDecoded ?? 0,
          framesReceived: s.framesReceived ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
          bytesReceived: s.bytesReceived ?? 0,
          packetsReceived: s.packetsReceived ?? 0,
          packetsLost: s.packetsLost ?? 0,
          nackCount: s.nackCount ?? 0,
          pliCount: s.pliCount ?? 0,
          freezeCount: s.freezeCount ?? 0,
          framesPerSecond: s.framesPerSecond ?? 0,
          totalFreezesDuration: s.totalFreezesDuration ?? 0,
          audioLevel: s.audioLevel,
          codec: s.codecId,
          mimeType: report.get(s.codecId)?.mimeType ?? '',
        };
      }
    }
    return undefined;
  },
  /** Per-encoding state of a local video track: sender parameters (active) and outbound-rtp stats, by rid. */
  async outbound(source = 'camera') {
    let pub;
    for (const p of t.room.localParticipant.trackPublications.values()) if (p.source === source && p.kind === 'video') pub = p;
    const sender = nativeSender(pub?.track);
    if (!sender) return undefined;
    const params = sender.getParameters();
    const report = await sender.getStats();
    const out = {};
    for (const e of params.encodings ?? []) out[e.rid ?? ''] = { active: e.active !== false };
    for (const s of report.values()) {
      if (s.type !== 'outbound-rtp') continue;
      const k = s.rid ?? '';
      out[k] = { ...(out[k] ?? {}), framesEncoded: s.framesEncoded ?? 0, bytesSent: s.bytesSent ?? 0, frameWidth: s.frameWidth ?? 0, statsActive: s.active };
    }
    return out;
  },
  /**
   * The publisher's view of its uplink: the send-side estimate (availableOutgoingBitrate of the selected pair) and, per
   * rid of the camera, what the encoder targets and sends and whether bandwidth limits it.
   */
  async publisherBwe(source = 'camera') {
    const pc = nativePc('publisher');
    if (!pc) return undefined;
    const report = await pc.getStats();
    let available = 0;
    for (const s of report.values()) if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') available = Math.max(available, s.availableOutgoingBitrate ?? 0);
    let pub;
    for (const p of t.room.localParticipant.trackPublications.values()) if (p.source === source && p.kind === 'video') pub = p;
    const sender = nativeSender(pub?.track);
    const layers = {};
    if (sender) {
      for (const s of (await sender.getStats()).values()) {
        if (s.type !== 'outbound-rtp') continue;
        layers[s.rid ?? ''] = { bytesSent: s.bytesSent ?? 0, framesEncoded: s.framesEncoded ?? 0, frameWidth: s.frameWidth ?? 0, targetBitrate: s.targetBitrate ?? 0, limitation: s.qualityLimitationReason ?? '' };
      }
    }
    return { at: performance.now(), available, layers };
  },
  /** Sum of the m-lines in the subscriber connection's remote description (what the server offered). */
  subscriberMLines() {
    const pc = nativePc('subscriber');
    const sdp = pc?.remoteDescription?.sdp ?? '';
    return sdp.split('\n').filter((l) => l.startsWith('m=')).length;
  },
  /** The selected ICE candidate pair of a peer connection ('publisher' | 'subscriber'). */
  async selectedPair(which = 'subscriber') {
    const pc = nativePc(which);
    if (!pc) return undefined;
    const report = await pc.getStats();
    let pairId;
    for (const s of report.values()) if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    const pair = pairId && report.get(pairId);
    if (!pair) return undefined;
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    return { local: { type: local?.candidateType, protocol: local?.protocol, relayProtocol: local?.relayProtocol }, remote: { type: remote?.candidateType, protocol: remote?.protocol, address: remote?.address, port: remote?.port } };
  },
};

window.t = t;
window.LK = LK;
window.ready = true;
