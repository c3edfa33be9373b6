// Another participant in the room: its publications follow the server's updates (published, unpublished,
// muted), and the media tracks that arrive on the subscriber connection attach to them.
import { type PartialMessage, type SignalRequest, type ParticipantInfo, type SubscriptionError } from '@kite/protocol';
import { ParticipantEvent } from '../events.js';
import type { MediaTrack, Transceiver } from '../platform/types.js';
import { RemoteAudioTrack, RemoteVideoTrack, type RemoteTrack } from '../track/RemoteTrack.js';
import { RemoteTrackPublication } from '../track/TrackPublication.js';
import { Track } from '../track/Track.js';
import { Participant } from './Participant.js';

/** A media track whose publication is not known yet (the media can beat the participant update). */
interface PendingMedia {
  track: MediaTrack;
  transceiver: Transceiver;
  at: number;
}

export class RemoteParticipant extends Participant {
  readonly trackPublications = new Map<string, RemoteTrackPublication>();
  private pending = new Map<string, PendingMedia>();
  private volume = 1;

  constructor(
    info: ParticipantInfo,
    private readonly opts: { autoSubscribe: boolean; adaptiveStream: boolean; send: (req: PartialMessage<SignalRequest>) => void },
  ) {
    super(info.sid, info.identity, info.name, info.metadata);
  }

  get isLocal(): false {
    return false;
  }

  override getTrackPublication(source: Track.Source): RemoteTrackPublication | undefined {
    return super.getTrackPublication(source) as RemoteTrackPublication | undefined;
  }

  override getTrackPublicationByName(name: string): RemoteTrackPublication | undefined {
    return super.getTrackPublicationByName(name) as RemoteTrackPublication | undefined;
  }

  /** Applies an update: new publications, removed ones, mute changes. Returns false for a stale update. */
  override updateInfo(info: ParticipantInfo): boolean {
    const first = this.info === undefined;
    if (!super.updateInfo(info)) return false;
    const seen = new Set<string>();
    for (const ti of info.tracks) {
      seen.add(ti.sid);
      let pub = this.trackPublications.get(ti.sid);
      if (!pub) {
        pub = new RemoteTrackPublication(Track.kindFromProto(ti.type), ti, () => this.sid, this.opts.autoSubscribe, this.opts.send);
        this.trackPublications.set(ti.sid, pub);
        const p = pub;
        pub.on('subscriptionStatusChanged', (status) => this.emit(ParticipantEvent.TrackSubscriptionStatusChanged, p, status));
        this.emit(ParticipantEvent.TrackPublished, pub);
        const media = this.pending.get(ti.sid);
        if (media) {
          this.pending.delete(ti.sid);
          this.addSubscribedMediaTrack(media.track, ti.sid, media.transceiver);
        }
        continue;
      }
      pub.updateInfo(ti);
      if (pub.isMuted !== ti.muted) {
        pub.setMutedState(ti.muted);
        this.emit(ti.muted ? ParticipantEvent.TrackMuted : ParticipantEvent.TrackUnmuted, pub);
      }
    }
    if (!first) for (const sid of [...this.trackPublications.keys()]) if (!seen.has(sid)) this.unpublishTrack(sid);
    return true;
  }

  /** A media track for `sid` arrived on the subscriber connection. */
  addSubscribedMediaTrack(mediaTrack: MediaTrack, sid: string, transceiver: Transceiver): void {
    const pub = this.trackPublications.get(sid);
    if (!pub) {
      this.pending.set(sid, { track: mediaTrack, transceiver, at: Date.now() });
      return;
    }
    const existing = pub.track;
    if (existing && existing.mediaStreamTrack === mediaTrack) return;
    if (existing) this.removeSubscribedTrack(pub);
    const track: RemoteTrack = pub.kind === Track.Kind.Video ? new RemoteVideoTrack(mediaTrack, sid, transceiver, this.opts.adaptiveStream) : new RemoteAudioTrack(mediaTrack, sid, transceiver);
    if (track instanceof RemoteAudioTrack) track.setVolume(this.volume);
    pub.setTrack(track);
    this.emit(ParticipantEvent.TrackSubscribed, track, pub);
  }

  /** The server stopped sending `sid` (unsubscribed, or the m-line was reused). */
  removeSubscribedTrack(pub: RemoteTrackPublication): void {
    const track = pub.track;
    if (!track) return;
    pub.setTrack(undefined);
    track.detach();
    this.emit(ParticipantEvent.TrackUnsubscribed, track, pub);
  }

  subscriptionFailed(sid: string, reason?: SubscriptionError): void {
    this.emit(ParticipantEvent.TrackSubscriptionFailed, sid, reason);
  }

  unpublishTrack(sid: string): void {
    const pub = this.trackPublications.get(sid);
    if (!pub) return;
    this.removeSubscribedTrack(pub);
    this.trackPublications.delete(sid);
    this.emit(ParticipantEvent.TrackUnpublished, pub);
  }

  /** Browser: playback volume of every audio track of this participant (0–1). */
  setVolume(volume: number): void {
    this.volume = volume;
    for (const p of this.trackPublications.values()) if (p.track instanceof RemoteAudioTrack) p.track.setVolume(volume);
  }

  getVolume(): number {
    return this.volume;
  }
}
