// One meeting: the Room, its chat, the sticky active speaker, which remote videos are received at which layer, and
// the local controls (with the workarounds this SDK needs). The UI re-renders on `subscribe` notifications and reads
// the Room's participants directly.
import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  VideoQuality,
  type ChatMessage,
  type LocalAudioTrack,
  type LocalTrack,
  type LocalVideoTrack,
  type Participant,
  type RemoteParticipant,
  type RemoteTrackPublication,
} from '@kite/client';
import { failure, type Failure } from './errors';

export const CHAT_TOPIC = 'lk.chat';
/** @livekit/components' pre-data-streams chat: JSON on a data packet with this topic. */
export const LEGACY_CHAT_TOPIC = 'lk-chat-topic';

export interface ChatEntry {
  /** `${from}|${id}`: one entry per sender and message id (a message may arrive by two routes). */
  key: string;
  id: string;
  from: string;
  name: string;
  text: string;
  ts: number;
  local: boolean;
  failed?: boolean;
}

export type ToastKind = 'info' | 'success' | 'warn' | 'error';

export interface SessionHooks {
  toast(text: string, kind?: ToastKind, opts?: { id?: string; sticky?: boolean }): void;
  /** The session is over: `undefined` when the user left, a Failure when the server or the network ended it. */
  ended(f: Failure | undefined): void;
}

export interface StartOptions {
  cameraOn: boolean;
  micOn: boolean;
  /** The pre-join preview tracks, published as they are (no second capture). */
  camera?: LocalVideoTrack;
  mic?: LocalAudioTrack;
}

export type VideoRole = 'high' | 'low';
export type Busy = 'mic' | 'camera' | 'screen';

const ROOM_EVENTS = [
  RoomEvent.ConnectionStateChanged,
  RoomEvent.ParticipantConnected,
  RoomEvent.ParticipantDisconnected,
  RoomEvent.TrackPublished,
  RoomEvent.TrackUnpublished,
  RoomEvent.TrackSubscribed,
  RoomEvent.TrackUnsubscribed,
  RoomEvent.TrackMuted,
  RoomEvent.TrackUnmuted,
  RoomEvent.LocalTrackPublished,
  RoomEvent.LocalTrackUnpublished,
  RoomEvent.ActiveSpeakersChanged,
  RoomEvent.ConnectionQualityChanged,
  RoomEvent.ParticipantNameChanged,
  RoomEvent.ParticipantMetadataChanged,
  RoomEvent.TrackStreamStateChanged,
  RoomEvent.Reconnected,
] as const;

const mediaOf = (t: LocalTrack | undefined) => t?.mediaStreamTrack as MediaStreamTrack | undefined;

export class MeetSession {
  readonly room: Room;
  chat: ChatEntry[] = [];
  unread = 0;
  /** The chat panel is open: messages arriving are read. */
  chatOpen = false;
  /** The remote participant who spoke last (sticky: stays until someone else speaks). */
  speaker: string | undefined;
  /** Identities sharing a screen, most recent first. */
  shares: string[] = [];
  readonly busy = new Set<Busy>();
  private listeners = new Set<() => void>();
  private scheduled = false;
  private connected = false;
  private leaving = false;
  private over = false;
  private chatSeq = 0;
  private reconnectingAt = 0;
  private reconnecting = false;
  private reconnectSeq = 0;
  /** Who was here when a reconnection started (identity → name), until it is over. */
  private knownAtReconnect: Map<string, string> | undefined;
  /** What each remote video publication was last told (role + whether its track had arrived). */
  private roles = new WeakMap<RemoteTrackPublication, string>();

  constructor(
    readonly roomName: string,
    private readonly hooks: SessionHooks,
    devices: { camera?: string; mic?: string } = {},
  ) {
    // Layers are chosen by the layout (setVideoQuality per tile), not adaptiveStream; dynacast lets publishers stop
    // encoding the layers nobody receives.
    this.room = new Room({
      adaptiveStream: false,
      dynacast: true,
      videoCaptureDefaults: devices.camera ? { deviceId: devices.camera } : {},
      audioCaptureDefaults: devices.mic ? { deviceId: devices.mic } : {},
    });
    this.wire();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Change notification (batched: many events in one task give one render)

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.reconcileShares();
      for (const fn of [...this.listeners]) fn();
    });
  }

  private reconcileShares(): void {
    const sharing = this.participants().filter((p) => p.getTrackPublication(Track.Source.ScreenShare));
    const ids = new Set(sharing.map((p) => p.identity));
    const kept = this.shares.filter((id) => ids.has(id));
    const fresh = sharing.map((p) => p.identity).filter((id) => !kept.includes(id));
    this.shares = [...fresh, ...kept];
  }

  /** The local participant, then the remote ones in join order. */
  participants(): Participant[] {
    return [this.room.localParticipant, ...this.room.remoteParticipants.values()];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Room events

  private wire(): void {
    const r = this.room;
    const bump = () => this.changed();
    for (const ev of ROOM_EVENTS) r.on(ev, bump);

    // A full reconnect drops everyone and announces them again: no "left"/"joined" toasts for that, only for
    // people really gone once it is over.
    r.on(RoomEvent.ParticipantConnected, (p) => {
      if (this.knownAtReconnect?.has(p.identity)) return;
      this.hooks.toast(`${displayName(p)} joined`, 'info');
    });
    r.on(RoomEvent.ParticipantDisconnected, (p) => {
      if (this.speaker === p.identity) this.speaker = undefined;
      if (this.knownAtReconnect) return;
      this.hooks.toast(`${displayName(p)} left`, 'info');
    });
    r.on(RoomEvent.ActiveSpeakersChanged, (speakers) => {
      const remote = speakers.filter((s) => !s.isLocal);
      if (remote.length && !remote.some((s) => s.identity === this.speaker)) this.speaker = remote[0]!.identity;
    });
    // Reconnecting: the media path is being recovered; SignalReconnecting: only the signalling socket (livekit-client
    // 2.x splits them; one recovery may give both). Either way the user is told, and told when it is over.
    const reconnecting = () => {
      this.reconnectSeq++;
      if (this.reconnecting) return;
      this.reconnecting = true;
      this.reconnectingAt = Date.now();
      this.knownAtReconnect ??= new Map([...r.remoteParticipants.values()].map((p) => [p.identity, displayName(p)]));
      this.hooks.toast('Connection lost. Reconnecting…', 'warn', { id: 'reconnect', sticky: true });
      this.changed();
    };
    r.on(RoomEvent.Reconnecting, reconnecting);
    r.on(RoomEvent.SignalReconnecting, reconnecting);
    r.on(RoomEvent.Reconnected, () => {
      // A full reconnect gives new publications; a resume keeps them: tell the server our layer choices again.
      this.roles = new WeakMap();
      this.reconnecting = false;
      const seq = this.reconnectSeq;
      // Keep "Reconnecting…" on screen long enough to be read, even when the resume took a few ms.
      const wait = Math.max(0, 1000 - (Date.now() - this.reconnectingAt));
      setTimeout(() => {
        if (this.over || this.reconnecting || seq !== this.reconnectSeq) return; // another recovery started
        this.hooks.toast('Reconnected', 'success', { id: 'reconnect' });
        const known = this.knownAtReconnect;
        this.knownAtReconnect = undefined;
        for (const [identity, name] of known ?? []) if (!r.remoteParticipants.has(identity)) this.hooks.toast(`${name} left`, 'info');
      }, wait);
    });
    r.on(RoomEvent.Disconnected, (reason) => {
      if (!this.connected) return; // a failed connect() is reported by its promise
      this.finish(this.leaving || reason === DisconnectReason.CLIENT_INITIATED ? undefined : disconnectFailure(reason));
    });

    // Chat: text streams on lk.chat (what we send), plus the two legacy forms other LiveKit clients may send.
    r.registerTextStreamHandler(CHAT_TOPIC, (reader, { identity }) => {
      void (async () => {
        const entry = this.addChat(reader.info.id, identity, '', reader.info.timestamp);
        if (!entry) return;
        try {
          for await (const piece of reader) {
            entry.text += piece;
            this.chat = [...this.chat];
            this.changed();
          }
        } catch {
          // a stream cut short keeps what arrived
        }
      })();
    });
    r.on(RoomEvent.ChatMessage, (msg: ChatMessage, from) => {
      if (!from || from.isLocal) return;
      this.addChat(msg.id, from.identity, msg.message, msg.timestamp, msg.editTimestamp !== undefined);
    });
    r.on(RoomEvent.DataReceived, (payload, from, _kind, topic) => {
      if (topic !== LEGACY_CHAT_TOPIC || !from) return;
      try {
        const m = JSON.parse(new TextDecoder().decode(payload)) as { id?: string; message?: string; timestamp?: number; ignoreLegacy?: boolean };
        // Senders that also stream the text mark the legacy copy ignorable.
        if (m.ignoreLegacy || typeof m.message !== 'string') return;
        this.addChat(m.id ?? `legacy-${++this.chatSeq}`, from.identity, m.message, m.timestamp ?? Date.now());
      } catch {
        // not a chat message
      }
    });
  }

  private addChat(id: string, from: string, text: string, ts: number, edit = false): ChatEntry | undefined {
    const key = `${from}|${id}`;
    const existing = this.chat.find((c) => c.key === key);
    if (existing) {
      if (edit) {
        existing.text = text;
        this.chat = [...this.chat];
        this.changed();
      }
      return undefined;
    }
    const p = this.room.getParticipantByIdentity(from);
    const entry: ChatEntry = { key, id, from, name: p ? displayName(p) : from, text, ts: ts || Date.now(), local: from === this.room.localParticipant.identity };
    this.chat = [...this.chat, entry];
    if (!this.chatOpen && !entry.local) this.unread++;
    this.changed();
    return entry;
  }

  async sendChat(text: string): Promise<void> {
    const lp = this.room.localParticipant;
    const entry = this.addChat(`pending-${++this.chatSeq}`, lp.identity, text, Date.now())!;
    try {
      const info = await lp.sendText(text, { topic: CHAT_TOPIC });
      entry.id = info.id;
      entry.key = `${lp.identity}|${info.id}`;
    } catch (err) {
      entry.failed = true;
      this.hooks.toast(`Message not sent: ${(err as Error).message}`, 'error');
    }
    this.chat = [...this.chat];
    this.changed();
  }

  setChatOpen(open: boolean): void {
    this.chatOpen = open;
    if (open) this.unread = 0;
    this.changed();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connecting and leaving

  /** Connects (rejects with the SDK's ConnectionError), then publishes the pre-join tracks in the background. */
  async connect(url: string, token: string, start: StartOptions): Promise<void> {
    try {
      await this.room.connect(url, token);
    } catch (err) {
      start.camera?.stop();
      start.mic?.stop();
      throw err;
    }
    this.connected = true;
    this.changed();
    void this.publishInitial(start);
  }

  private async publishInitial({ cameraOn, micOn, camera, mic }: StartOptions): Promise<void> {
    const lp = this.room.localParticipant;
    if (!micOn) mic?.stop();
    if (!cameraOn) camera?.stop();
    if (micOn) {
      this.busy.add('mic');
      await (mic ? lp.publishTrack(mic, { source: Track.Source.Microphone }) : lp.setMicrophoneEnabled(true)).catch((err: Error) => this.mediaError('Microphone', err));
      this.busy.delete('mic');
      this.changed();
    }
    if (cameraOn) {
      this.busy.add('camera');
      await (camera ? lp.publishTrack(camera, { source: Track.Source.Camera }) : lp.setCameraEnabled(true)).catch((err: Error) => this.mediaError('Camera', err));
      this.busy.delete('camera');
      this.changed();
    }
  }

  async leave(): Promise<void> {
    this.leaving = true;
    try {
      await this.room.disconnect();
    } finally {
      this.finish(undefined);
    }
  }

  private finish(f: Failure | undefined): void {
    if (this.over) return;
    this.over = true;
    this.room.localParticipant.stopTracks();
    this.hooks.ended(f);
  }

  get isOver(): boolean {
    return this.over;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Local controls

  get micOn(): boolean {
    return this.room.localParticipant.isMicrophoneEnabled;
  }

  /** Camera publication present, unmuted, and capturing (we stop the capture while it is off). */
  get cameraOn(): boolean {
    const pub = this.room.localParticipant.getTrackPublication(Track.Source.Camera);
    return !!pub && !pub.isMuted && mediaOf(pub.track)?.readyState !== 'ended';
  }

  get screenOn(): boolean {
    return this.room.localParticipant.isScreenShareEnabled;
  }

  private async withBusy(what: Busy, fn: () => Promise<unknown>): Promise<void> {
    if (this.busy.has(what)) return;
    this.busy.add(what);
    this.changed();
    try {
      await fn();
    } finally {
      this.busy.delete(what);
      this.changed();
    }
  }

  private mediaError(what: string, err: Error): void {
    const name = err?.name ?? '';
    const why =
      name === 'NotAllowedError' ? 'permission denied' : name === 'NotFoundError' ? 'no device found' : name === 'NotReadableError' ? 'the device is in use' : err?.message || String(err);
    this.hooks.toast(`${what}: ${why}`, 'error');
  }

  toggleMic(): Promise<void> {
    return this.withBusy('mic', () => this.room.localParticipant.setMicrophoneEnabled(!this.micOn).catch((err: Error) => this.mediaError('Microphone', err)));
  }

  toggleCamera(): Promise<void> {
    return this.withBusy('camera', async () => {
      const lp = this.room.localParticipant;
      try {
        // The SDK releases the camera while it is muted (its light goes off) and reopens it on unmute.
        await lp.setCameraEnabled(!this.cameraOn);
      } catch (err) {
        this.mediaError('Camera', err as Error);
      }
    });
  }

  toggleScreen(): Promise<void> {
    return this.withBusy('screen', async () => {
      const lp = this.room.localParticipant;
      try {
        if (this.screenOn) {
          await lp.setScreenShareEnabled(false);
          return;
        }
        // The browser's own "Stop sharing" unpublishes the share (the SDK handles it).
        await lp.setScreenShareEnabled(true);
      } catch (err) {
        // Cancelling the browser's picker is not an error worth a toast.
        if ((err as Error).name !== 'NotAllowedError' && (err as Error).name !== 'AbortError') this.mediaError('Screen share', err as Error);
      }
    });
  }

  /** The device in use (or chosen for the next capture) for `kind`. */
  currentDevice(kind: 'videoinput' | 'audioinput'): string | undefined {
    const source = kind === 'videoinput' ? Track.Source.Camera : Track.Source.Microphone;
    const media = mediaOf(this.room.localParticipant.getTrackPublication(source)?.track);
    const live = media && media.readyState === 'live' ? media.getSettings().deviceId : undefined;
    const chosen = (kind === 'videoinput' ? this.room.options.videoCaptureDefaults : this.room.options.audioCaptureDefaults).deviceId;
    return live || (typeof chosen === 'string' ? chosen : chosen?.exact);
  }

  async switchDevice(kind: 'videoinput' | 'audioinput', deviceId: string): Promise<void> {
    try {
      // With the camera off, the SDK only remembers the device and opens it on unmute.
      await this.room.switchActiveDevice(kind, deviceId);
    } catch (err) {
      this.mediaError(kind === 'videoinput' ? 'Camera' : 'Microphone', err as Error);
    }
    this.changed();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Receiving video

  /**
   * Tells the server which remote videos to send and at which simulcast layer: `visible` maps the publications on
   * screen to 'high' (stage) or 'low' (small tiles); every other remote video is disabled (not forwarded) — tiles on
   * other pages are not attached either. Sent only on change (and again once a track arrives or after a reconnect).
   */
  applyVideoRoles(visible: Map<RemoteTrackPublication, VideoRole>): void {
    for (const p of this.room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.kind !== Track.Kind.Video) continue;
        const role = visible.get(pub) ?? 'off';
        const key = `${role}:${pub.track ? 1 : 0}:${pub.trackSid}`;
        if (this.roles.get(pub) === key) continue;
        this.roles.set(pub, key);
        if (role === 'off') {
          pub.setEnabled(false);
        } else {
          pub.setEnabled(true);
          pub.setVideoQuality(role === 'high' ? VideoQuality.HIGH : VideoQuality.LOW);
        }
      }
    }
  }

  remote(identity: string): RemoteParticipant | undefined {
    return this.room.remoteParticipants.get(identity);
  }
}

export function displayName(p: Participant): string {
  return p.name || p.identity;
}

/** Why the server or the network ended a session that was connected. */
export function disconnectFailure(reason: DisconnectReason | undefined): Failure {
  switch (reason) {
    case DisconnectReason.CONNECTION_TIMEOUT:
    case DisconnectReason.SIGNAL_CLOSE:
    case DisconnectReason.MEDIA_FAILURE:
      return failure('unreachable', `The connection to the server was lost and could not be restored (${DisconnectReason[reason]}).`, 'Connection lost');
    case DisconnectReason.SERVER_SHUTDOWN:
      return failure('unreachable', 'The server shut down.', 'Server stopped');
    case DisconnectReason.PARTICIPANT_REMOVED:
      return failure('other', 'A moderator removed you from the room.', 'You were removed');
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return failure('other', 'The room was closed.', 'Meeting ended');
    case DisconnectReason.DUPLICATE_IDENTITY:
      return failure('other', 'You joined this room from another tab or device.', 'Joined elsewhere');
    default:
      return failure('other', `Disconnected by the server (${reason !== undefined ? (DisconnectReason[reason] ?? reason) : 'no reason given'}).`, 'Disconnected');
  }
}
