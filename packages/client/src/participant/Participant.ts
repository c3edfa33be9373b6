// What every participant has: identity, name, metadata, attributes, permissions, speaking state, connection
// quality, and its track publications.
import { ParticipantInfo_Kind, TypedEventEmitter, type ParticipantInfo, type ParticipantPermission } from '@kite/protocol';
import { ParticipantEvent, type ConnectionQualityName, type ParticipantEventCallbacks } from '../events.js';
import type { TrackPublication } from '../track/TrackPublication.js';
import { Track } from '../track/Track.js';

export abstract class Participant extends TypedEventEmitter<ParticipantEventCallbacks> {
  sid: string;
  identity: string;
  name: string | undefined;
  metadata: string | undefined;
  attributes: Record<string, string> = {};
  permissions: ParticipantPermission | undefined;
  kind: ParticipantInfo_Kind = ParticipantInfo_Kind.STANDARD;
  audioLevel = 0;
  isSpeaking = false;
  lastSpokeAt: Date | undefined;
  connectionQuality: ConnectionQualityName = 'unknown';
  joinedAt: Date | undefined;
  /** The last ParticipantInfo applied (its version orders updates). */
  info: ParticipantInfo | undefined;
  abstract readonly trackPublications: Map<string, TrackPublication>;

  constructor(sid: string, identity: string, name?: string, metadata?: string) {
    super();
    this.sid = sid;
    this.identity = identity;
    this.name = name;
    this.metadata = metadata;
  }

  abstract get isLocal(): boolean;

  get isAgent(): boolean {
    return this.kind === ParticipantInfo_Kind.AGENT;
  }

  get audioTrackPublications(): Map<string, TrackPublication> {
    return new Map([...this.trackPublications].filter(([, p]) => p.kind === Track.Kind.Audio));
  }

  get videoTrackPublications(): Map<string, TrackPublication> {
    return new Map([...this.trackPublications].filter(([, p]) => p.kind === Track.Kind.Video));
  }

  getTrackPublications(): TrackPublication[] {
    return [...this.trackPublications.values()];
  }

  getTrackPublication(source: Track.Source): TrackPublication | undefined {
    for (const p of this.trackPublications.values()) if (p.source === source) return p;
    return undefined;
  }

  getTrackPublicationByName(name: string): TrackPublication | undefined {
    for (const p of this.trackPublications.values()) if (p.trackName === name) return p;
    return undefined;
  }

  get isCameraEnabled(): boolean {
    const p = this.getTrackPublication(Track.Source.Camera);
    return !!p && !p.isMuted;
  }

  get isMicrophoneEnabled(): boolean {
    const p = this.getTrackPublication(Track.Source.Microphone);
    return !!p && !p.isMuted;
  }

  get isScreenShareEnabled(): boolean {
    return !!this.getTrackPublication(Track.Source.ScreenShare);
  }

  /**
   * Applies a ParticipantInfo (join response or update). Older versions of the same participant are ignored, as
   * livekit-client does; returns false then.
   */
  updateInfo(info: ParticipantInfo): boolean {
    if (this.info && this.info.sid === info.sid && info.version < this.info.version) return false;
    this.sid = info.sid;
    this.identity = info.identity;
    this.kind = info.kind;
    if (info.joinedAt) this.joinedAt = new Date(Number(info.joinedAt) * 1000);
    const prevMetadata = this.metadata;
    const first = this.info === undefined;
    this.info = info;
    if (this.name !== info.name) {
      this.name = info.name;
      if (!first) this.emit(ParticipantEvent.ParticipantNameChanged, info.name);
    }
    if ((prevMetadata ?? '') !== info.metadata) {
      this.metadata = info.metadata;
      if (!first) this.emit(ParticipantEvent.ParticipantMetadataChanged, prevMetadata, this);
    }
    const changed = diffAttributes(this.attributes, info.attributes);
    this.attributes = { ...info.attributes };
    if (!first && Object.keys(changed).length) this.emit(ParticipantEvent.AttributesChanged, changed);
    if (info.permission) {
      const prev = this.permissions;
      this.permissions = info.permission;
      if (!first && JSON.stringify(prev) !== JSON.stringify(info.permission)) this.emit(ParticipantEvent.ParticipantPermissionsChanged, prev);
    }
    return true;
  }

  setSpeaking(level: number, speaking: boolean): void {
    this.audioLevel = level;
    if (speaking) this.lastSpokeAt = new Date();
    if (this.isSpeaking === speaking) return;
    this.isSpeaking = speaking;
    this.emit(ParticipantEvent.IsSpeakingChanged, speaking);
  }

  setConnectionQuality(q: ConnectionQualityName): void {
    if (this.connectionQuality === q) return;
    this.connectionQuality = q;
    this.emit(ParticipantEvent.ConnectionQualityChanged, q);
  }
}

/** Keys whose value changed, appeared (new value) or disappeared (''), as livekit-client reports them. */
function diffAttributes(prev: Record<string, string>, next: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(next)) if (prev[k] !== v) out[k] = v;
  for (const k of Object.keys(prev)) if (!(k in next)) out[k] = '';
  return out;
}
