// This client's participant: capturing and publishing tracks, muting, data, metadata, RPC and data streams.
// Publishing follows livekit-client: add the sender to the publisher connection, send AddTrackRequest (cid = the
// sender's msid track id) and negotiate in parallel; the server answers TrackPublishedResponse or a
// RequestResponse refusal.
import {
  DataPacket_Kind,
  RequestResponse_Reason,
  type ChatMessage as ChatMessageProto,
  type DataPacket,
  type PartialMessage,
  type RequestResponse,
  type TrackInfo,
  type TrackPublishedResponse,
} from '@kite/protocol';
import { ParticipantEvent } from '../events.js';
import type { RTCEngine } from '../engine/RTCEngine.js';
import { platform, type MediaTrack } from '../platform/types.js';
import { computeVideoEncodings, videoLayers, type EncodingOptions } from '../track/encodings.js';
import { LocalAudioTrack, LocalTrack, LocalVideoTrack } from '../track/LocalTrack.js';
import { LocalTrackPublication } from '../track/TrackPublication.js';
import { Track } from '../track/Track.js';
import { createLocalTracks, type CreateLocalTracksOptions, type AudioCaptureOptions, type VideoCaptureOptions, type ScreenShareCaptureOptions, createLocalScreenTracks } from '../track/create.js';
import type { ChatMessage } from '../types.js';
import type { RpcManager, PerformRpcParams, RpcInvocationData } from '../data/rpc.js';
import type { StreamManager } from '../data/streams.js';
import { Participant } from './Participant.js';

export interface TrackPublishOptions extends EncodingOptions {
  name?: string;
  source?: Track.Source;
  /** Video codec to publish (vp8 only in this version; the server negotiates what it supports). */
  videoCodec?: 'vp8' | 'h264' | 'vp9' | 'av1';
  dtx?: boolean;
  red?: boolean;
  stereo?: boolean;
  stream?: string;
}

export interface DataPublishOptions {
  reliable?: boolean;
  destinationIdentities?: string[];
  topic?: string;
}

/** The publish was refused by the server (no permission, limits…) or failed to negotiate. */
export class PublishTrackError extends Error {
  constructor(
    message: string,
    readonly response?: RequestResponse,
  ) {
    super(message);
    this.name = 'PublishTrackError';
  }
}

export interface LocalParticipantContext {
  engine: RTCEngine;
  publishDefaults: TrackPublishOptions;
  dynacast: boolean;
  stopLocalTrackOnUnpublish: boolean;
  videoCaptureDefaults: VideoCaptureOptions;
  audioCaptureDefaults: AudioCaptureOptions;
  rpc: RpcManager;
  streams: StreamManager;
}

const PUBLISH_TIMEOUT_MS = 15_000;

export class LocalParticipant extends Participant {
  readonly trackPublications = new Map<string, LocalTrackPublication>();
  /** Publishes in flight, by source (setCameraEnabled twice in a row publishes once). */
  private pendingSources = new Map<Track.Source, Promise<LocalTrackPublication | undefined>>();
  private chatSeq = 0;

  constructor(
    sid: string,
    identity: string,
    private readonly ctx: LocalParticipantContext,
  ) {
    super(sid, identity);
  }

  get isLocal(): true {
    return true;
  }

  private get engine(): RTCEngine {
    return this.ctx.engine;
  }

  override getTrackPublication(source: Track.Source): LocalTrackPublication | undefined {
    return super.getTrackPublication(source) as LocalTrackPublication | undefined;
  }

  override getTrackPublicationByName(name: string): LocalTrackPublication | undefined {
    return super.getTrackPublicationByName(name) as LocalTrackPublication | undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Camera, microphone, screen

  setCameraEnabled(enabled: boolean, options?: VideoCaptureOptions, publishOptions?: TrackPublishOptions): Promise<LocalTrackPublication | undefined> {
    return this.setSourceEnabled(Track.Source.Camera, enabled, options, publishOptions);
  }

  setMicrophoneEnabled(enabled: boolean, options?: AudioCaptureOptions, publishOptions?: TrackPublishOptions): Promise<LocalTrackPublication | undefined> {
    return this.setSourceEnabled(Track.Source.Microphone, enabled, options, publishOptions);
  }

  setScreenShareEnabled(enabled: boolean, options?: ScreenShareCaptureOptions, publishOptions?: TrackPublishOptions): Promise<LocalTrackPublication | undefined> {
    return this.setSourceEnabled(Track.Source.ScreenShare, enabled, options, publishOptions);
  }

  /**
   * Camera and microphone: the first enable captures and publishes, later toggles mute/unmute the same track (as
   * livekit-client). Screen share: enable publishes, disable unpublishes.
   */
  async setSourceEnabled(source: Track.Source, enabled: boolean, options?: object, publishOptions?: TrackPublishOptions): Promise<LocalTrackPublication | undefined> {
    const inFlight = this.pendingSources.get(source);
    if (inFlight) await inFlight.catch(() => undefined);
    let pub = this.getTrackPublication(source);
    if (enabled) {
      if (pub) {
        await pub.unmute();
        return pub;
      }
      const work = (async () => {
        const tracks = await this.capture(source, options).catch((err: Error) => {
          // Permission denied, no device, device busy: the app hears about it (and the call still rejects).
          this.emit(ParticipantEvent.MediaDevicesError, err);
          throw err;
        });
        let first: LocalTrackPublication | undefined;
        for (const t of tracks) {
          const p = await this.publishTrack(t, publishOptions);
          first ??= p;
        }
        return first;
      })();
      this.pendingSources.set(source, work);
      try {
        return await work;
      } finally {
        this.pendingSources.delete(source);
      }
    }
    if (!pub?.track) return pub;
    if (source === Track.Source.ScreenShare) {
      const audio = this.getTrackPublication(Track.Source.ScreenShareAudio);
      await this.unpublishTrack(pub.track);
      if (audio?.track) await this.unpublishTrack(audio.track);
      return pub;
    }
    await pub.mute();
    pub = this.getTrackPublication(source);
    return pub;
  }

  private capture(source: Track.Source, options?: object): Promise<LocalTrack[]> {
    if (source === Track.Source.ScreenShare) return createLocalScreenTracks(options as ScreenShareCaptureOptions);
    return createLocalTracks(
      source === Track.Source.Camera
        ? { video: { ...this.ctx.videoCaptureDefaults, ...(options as VideoCaptureOptions) } }
        : { audio: { ...this.ctx.audioCaptureDefaults, ...(options as AudioCaptureOptions) } },
    );
  }

  /** Creates tracks with the room's capture defaults (not published). */
  createTracks(options: CreateLocalTracksOptions): Promise<LocalTrack[]> {
    return createLocalTracks({
      audio: options.audio === true ? this.ctx.audioCaptureDefaults : options.audio ? { ...this.ctx.audioCaptureDefaults, ...options.audio } : options.audio,
      video: options.video === true ? this.ctx.videoCaptureDefaults : options.video ? { ...this.ctx.videoCaptureDefaults, ...options.video } : options.video,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Publishing

  /** Publishes a LocalTrack (or a platform media track, wrapped); resolves once the server accepted it. */
  async publishTrack(trackOrMedia: LocalTrack | MediaTrack, options: TrackPublishOptions = {}): Promise<LocalTrackPublication> {
    const track = trackOrMedia instanceof LocalTrack ? trackOrMedia : wrapMediaTrack(trackOrMedia, options.source);
    for (const p of this.trackPublications.values()) if (p.track === track) return p;
    const opts: TrackPublishOptions = { ...this.ctx.publishDefaults, ...options };
    // A platform that sends one encoding per sender publishes one layer, and says so (no layers it never sends).
    if (!platform().simulcast) opts.simulcast = false;
    if (options.source) track.source = options.source;
    const engine = this.engine;
    const publisher = engine.publisher;
    if (!publisher) throw new PublishTrackError('cannot publish: not connected');

    let width = 0;
    let height = 0;
    let encodings: ReturnType<typeof computeVideoEncodings> | undefined;
    if (track instanceof LocalVideoTrack) {
      const dims = (await track.waitForDimensions()) ?? { width: 1280, height: 720 };
      width = dims.width;
      height = dims.height;
      encodings = computeVideoEncodings(track.source === Track.Source.ScreenShare, width, height, opts);
      track.encodings = encodings;
    }
    const transceiver = publisher.pc.addTransceiver(track.mediaStreamTrack, {
      direction: 'sendonly',
      streams: [opts.stream ?? 'kite'],
      sendEncodings: encodings && encodings.length > 0 && Object.keys(encodings[0]!).length > 0 ? encodings : undefined,
    });
    track.transceiver = transceiver;
    track.sender = transceiver.sender;
    const cid = transceiver.msidTrackId;

    const response = this.waitPublishResponse(cid);
    engine.send({
      addTrack: {
        cid,
        name: opts.name ?? defaultName(track.source),
        type: Track.kindToProto(track.kind),
        source: Track.sourceToProto(track.source),
        muted: track.isMuted,
        width,
        height,
        layers: track instanceof LocalVideoTrack && encodings ? videoLayers(width, height, encodings) : [],
        simulcastCodecs: track instanceof LocalVideoTrack ? [{ codec: opts.videoCodec ?? 'vp8', cid, layers: [] }] : [],
        disableDtx: opts.dtx === false,
        stereo: !!opts.stereo,
        disableRed: opts.red === false,
        stream: opts.stream ?? '',
      },
    });
    const negotiated = engine.negotiatePublisher();
    let info: TrackInfo;
    try {
      const [res] = await Promise.all([response, negotiated]);
      info = res;
    } catch (err) {
      publisher.pc.removeTransceiver(transceiver);
      track.sender = track.transceiver = undefined;
      void engine.negotiatePublisher().catch(() => undefined);
      throw err;
    }
    const pub = new LocalTrackPublication(track.kind, info, track);
    track.sid = info.sid;
    track.onMuteChanged = (muted) => {
      engine.send({ mute: { sid: pub.trackSid, muted } });
      this.emit(muted ? ParticipantEvent.TrackMuted : ParticipantEvent.TrackUnmuted, pub);
    };
    this.trackPublications.set(info.sid, pub);
    if (track.source === Track.Source.ScreenShare || track.source === Track.Source.ScreenShareAudio) {
      // The browser's own "Stop sharing" ends the capture: the share is over for everyone.
      platform().onEnded(track.mediaStreamTrack, () => {
        if (pub.track === track) void this.unpublishTrack(track);
      });
    }
    this.emit(ParticipantEvent.LocalTrackPublished, pub);
    return pub;
  }

  private waitPublishResponse(cid: string): Promise<TrackInfo> {
    const signal = this.engine.signal;
    return new Promise<TrackInfo>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.off('trackPublished', onPublished);
        signal.off('requestResponse', onRefused);
      };
      const onPublished = (r: TrackPublishedResponse) => {
        if (r.cid !== cid || !r.track) return;
        done();
        resolve(r.track);
      };
      const onRefused = (r: RequestResponse) => {
        if (r.addTrack?.cid !== cid) return;
        done();
        reject(new PublishTrackError(`publish refused: ${RequestResponse_Reason[r.reason] ?? r.reason} ${r.message}`.trim(), r));
      };
      const timer = setTimeout(() => {
        done();
        reject(new PublishTrackError(`publish timed out: no answer from the server within ${PUBLISH_TIMEOUT_MS} ms`));
      }, PUBLISH_TIMEOUT_MS);
      signal.on('trackPublished', onPublished);
      signal.on('requestResponse', onRefused);
    });
  }

  /** Stops sending a track (and stops its capture when `stopOnUnpublish`, default: the room's setting). */
  async unpublishTrack(track: LocalTrack | MediaTrack, stopOnUnpublish?: boolean): Promise<LocalTrackPublication | undefined> {
    let pub: LocalTrackPublication | undefined;
    for (const p of this.trackPublications.values()) if (p.track === track || p.track?.mediaStreamTrack === track) pub = p;
    if (!pub) return undefined;
    const local = pub.track!;
    this.trackPublications.delete(pub.trackSid);
    if (local.transceiver) this.engine.publisher?.pc.removeTransceiver(local.transceiver);
    local.sender = local.transceiver = undefined;
    local.onMuteChanged = undefined;
    pub.clearTrack();
    if (stopOnUnpublish ?? this.ctx.stopLocalTrackOnUnpublish) local.stop();
    this.emit(ParticipantEvent.LocalTrackUnpublished, pub);
    if (!this.engine.isClosed) await this.engine.negotiatePublisher().catch(() => undefined);
    return pub;
  }

  async unpublishTracks(tracks: (LocalTrack | MediaTrack)[]): Promise<LocalTrackPublication[]> {
    const out: LocalTrackPublication[] = [];
    for (const t of tracks) {
      const p = await this.unpublishTrack(t);
      if (p) out.push(p);
    }
    return out;
  }

  /** After a full reconnect: publish every track again on the new session (same tracks, new sids). */
  async republishAll(): Promise<void> {
    const pubs = [...this.trackPublications.values()];
    this.trackPublications.clear();
    for (const pub of pubs) {
      const track = pub.track;
      if (!track) continue;
      track.sender = track.transceiver = undefined;
      this.emit(ParticipantEvent.LocalTrackUnpublished, pub);
      await this.publishTrack(track, { name: pub.trackName, source: track.source }).catch(() => undefined);
    }
  }

  /** Server-side changes to our tracks: mute by an admin, or forced unpublish. */
  serverMuted(sid: string, muted: boolean): void {
    const pub = this.trackPublications.get(sid);
    if (!pub?.track) return;
    void (muted ? pub.track.mute() : pub.track.unmute());
  }

  serverUnpublished(sid: string): void {
    const pub = this.trackPublications.get(sid);
    if (pub?.track) void this.unpublishTrack(pub.track);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Metadata

  private requestId = 0;

  /** Asks the server to change this participant's metadata (needs canUpdateOwnMetadata). */
  async setMetadata(metadata: string): Promise<void> {
    this.engine.send({ updateMetadata: { metadata, name: this.name ?? '', attributes: {}, requestId: ++this.requestId } });
  }

  async setName(name: string): Promise<void> {
    this.engine.send({ updateMetadata: { name, metadata: this.metadata ?? '', attributes: {}, requestId: ++this.requestId } });
  }

  /** Sets attributes (merged with the current ones; an empty value deletes a key). */
  async setAttributes(attributes: Record<string, string>): Promise<void> {
    this.engine.send({ updateMetadata: { attributes, name: this.name ?? '', metadata: this.metadata ?? '', requestId: ++this.requestId } });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Data

  /** Sends user data to everyone (or `destinationIdentities`) on the reliable (default) or lossy channel. */
  async publishData(data: Uint8Array, options: DataPublishOptions = {}): Promise<void> {
    const reliable = options.reliable ?? true;
    const destinationIdentities = options.destinationIdentities ?? [];
    const packet: PartialMessage<DataPacket> = {
      destinationIdentities,
      participantIdentity: this.identity,
      user: { payload: data, topic: options.topic, destinationIdentities, participantIdentity: this.identity },
    };
    await this.engine.sendData(packet, reliable ? DataPacket_Kind.RELIABLE : DataPacket_Kind.LOSSY);
  }

  /** A chat message as livekit-client's sendChatMessage sends it (legacy ChatMessage packet). */
  async sendChatMessage(text: string, destinationIdentities: string[] = []): Promise<ChatMessage> {
    const msg: ChatMessage = { id: `${Date.now().toString(36)}-${++this.chatSeq}-${Math.random().toString(36).slice(2, 8)}`, message: text, timestamp: Date.now() };
    const chat: PartialMessage<ChatMessageProto> = { id: msg.id, message: text, timestamp: msg.timestamp, generated: false };
    await this.engine.sendData({ destinationIdentities, participantIdentity: this.identity, chatMessage: chat }, DataPacket_Kind.RELIABLE);
    this.emit(ParticipantEvent.ChatMessage, msg);
    return msg;
  }

  // -------------------------------------------------------------------------------------------------------------
  // RPC and data streams

  performRpc(params: PerformRpcParams): Promise<string> {
    return this.ctx.rpc.performRpc(params);
  }

  /** @deprecated in livekit-client too: prefer room.registerRpcMethod. */
  registerRpcMethod(method: string, handler: (data: RpcInvocationData) => Promise<string>): void {
    this.ctx.rpc.registerRpcMethod(method, handler);
  }

  unregisterRpcMethod(method: string): void {
    this.ctx.rpc.unregisterRpcMethod(method);
  }

  sendText(...args: Parameters<StreamManager['sendText']>): ReturnType<StreamManager['sendText']> {
    return this.ctx.streams.sendText(...args);
  }

  streamText(...args: Parameters<StreamManager['streamText']>): ReturnType<StreamManager['streamText']> {
    return this.ctx.streams.streamText(...args);
  }

  streamBytes(...args: Parameters<StreamManager['streamBytes']>): ReturnType<StreamManager['streamBytes']> {
    return this.ctx.streams.streamBytes(...args);
  }

  sendBytes(...args: Parameters<StreamManager['sendBytes']>): ReturnType<StreamManager['sendBytes']> {
    return this.ctx.streams.sendBytes(...args);
  }

  sendFile(...args: Parameters<StreamManager['sendFile']>): ReturnType<StreamManager['sendFile']> {
    return this.ctx.streams.sendFile(...args);
  }

  /**
   * Who may subscribe to this participant's tracks (livekit-client's signature): everyone, or the listed
   * participants (by identity or sid), each for all tracks or some track sids.
   */
  setTrackSubscriptionPermissions(
    allParticipantsAllowed: boolean,
    participantTrackPermissions: { participantIdentity?: string; participantSid?: string; allowAll?: boolean; allowedTrackSids?: string[] }[] = [],
  ): void {
    this.engine.send({
      subscriptionPermission: {
        allParticipants: allParticipantsAllowed,
        trackPermissions: participantTrackPermissions.map((p) => ({
          participantIdentity: p.participantIdentity ?? '',
          participantSid: p.participantSid ?? '',
          allTracks: p.allowAll ?? false,
          trackSids: p.allowedTrackSids ?? [],
        })),
      },
    });
  }

  /** Stops every local track (on disconnect). */
  stopTracks(): void {
    for (const p of this.trackPublications.values()) p.track?.stop();
  }
}

function defaultName(source: Track.Source): string {
  return source === Track.Source.Unknown ? '' : source;
}

function wrapMediaTrack(media: MediaTrack, source?: Track.Source): LocalTrack {
  const track = media.kind === 'video' ? new LocalVideoTrack(media, {}, true, platform().trackDimensions(media)) : new LocalAudioTrack(media, {}, true);
  if (source) track.source = source;
  return track;
}

