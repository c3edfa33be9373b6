// Event names and listener signatures, as livekit-client names them (string values included), so LiveKit code and
// docs transfer. The callback maps make `room.on(RoomEvent.TrackSubscribed, (track, publication, participant) => …)`
// checked by the compiler.
import type { ConnectionQuality, DataPacket_Kind, DisconnectReason, ParticipantPermission, SubscriptionError } from '@kite/protocol';
import type { Participant } from './participant/Participant.js';
import type { RemoteParticipant } from './participant/RemoteParticipant.js';
import type { LocalParticipant } from './participant/LocalParticipant.js';
import type { LocalTrackPublication, RemoteTrackPublication, TrackPublication } from './track/TrackPublication.js';
import type { RemoteTrack } from './track/RemoteTrack.js';
import type { LocalTrack } from './track/LocalTrack.js';
import type { Track } from './track/Track.js';
import type { ChatMessage, ConnectionState, SubscriptionStatus, TrackStreamState } from './types.js';

export enum RoomEvent {
  Connected = 'connected',
  Reconnecting = 'reconnecting',
  SignalReconnecting = 'signalReconnecting',
  Reconnected = 'reconnected',
  Disconnected = 'disconnected',
  ConnectionStateChanged = 'connectionStateChanged',
  ParticipantConnected = 'participantConnected',
  ParticipantDisconnected = 'participantDisconnected',
  TrackPublished = 'trackPublished',
  TrackSubscribed = 'trackSubscribed',
  TrackSubscriptionFailed = 'trackSubscriptionFailed',
  TrackUnpublished = 'trackUnpublished',
  TrackUnsubscribed = 'trackUnsubscribed',
  TrackMuted = 'trackMuted',
  TrackUnmuted = 'trackUnmuted',
  LocalTrackPublished = 'localTrackPublished',
  LocalTrackUnpublished = 'localTrackUnpublished',
  ActiveSpeakersChanged = 'activeSpeakersChanged',
  ParticipantMetadataChanged = 'participantMetadataChanged',
  ParticipantNameChanged = 'participantNameChanged',
  ParticipantAttributesChanged = 'participantAttributesChanged',
  RoomMetadataChanged = 'roomMetadataChanged',
  DataReceived = 'dataReceived',
  ChatMessage = 'chatMessage',
  ConnectionQualityChanged = 'connectionQualityChanged',
  TrackStreamStateChanged = 'trackStreamStateChanged',
  TrackSubscriptionPermissionChanged = 'trackSubscriptionPermissionChanged',
  TrackSubscriptionStatusChanged = 'trackSubscriptionStatusChanged',
  ParticipantPermissionsChanged = 'participantPermissionsChanged',
  SignalConnected = 'signalConnected',
  MediaDevicesError = 'mediaDevicesError',
  LocalTrackSubscribed = 'localTrackSubscribed',
  AudioPlaybackStatusChanged = 'audioPlaybackChanged',
}

export enum ParticipantEvent {
  TrackPublished = 'trackPublished',
  TrackSubscribed = 'trackSubscribed',
  TrackSubscriptionFailed = 'trackSubscriptionFailed',
  TrackUnpublished = 'trackUnpublished',
  TrackUnsubscribed = 'trackUnsubscribed',
  TrackMuted = 'trackMuted',
  TrackUnmuted = 'trackUnmuted',
  LocalTrackPublished = 'localTrackPublished',
  LocalTrackUnpublished = 'localTrackUnpublished',
  ParticipantMetadataChanged = 'participantMetadataChanged',
  ParticipantNameChanged = 'participantNameChanged',
  AttributesChanged = 'attributesChanged',
  DataReceived = 'dataReceived',
  ChatMessage = 'chatMessage',
  IsSpeakingChanged = 'isSpeakingChanged',
  ConnectionQualityChanged = 'connectionQualityChanged',
  TrackStreamStateChanged = 'trackStreamStateChanged',
  TrackSubscriptionPermissionChanged = 'trackSubscriptionPermissionChanged',
  TrackSubscriptionStatusChanged = 'trackSubscriptionStatusChanged',
  ParticipantPermissionsChanged = 'participantPermissionsChanged',
  LocalTrackSubscribed = 'localTrackSubscribed',
  MediaDevicesError = 'mediaDevicesError',
}

export enum TrackEvent {
  Message = 'message',
  Muted = 'muted',
  Unmuted = 'unmuted',
  Restarted = 'restarted',
  Ended = 'ended',
  Subscribed = 'subscribed',
  Unsubscribed = 'unsubscribed',
  UpdateSettings = 'updateSettings',
  UpdateSubscription = 'updateSubscription',
  AudioPlaybackStarted = 'audioPlaybackStarted',
  AudioPlaybackFailed = 'audioPlaybackFailed',
  VisibilityChanged = 'visibilityChanged',
  VideoDimensionsChanged = 'videoDimensionsChanged',
  ElementAttached = 'elementAttached',
  ElementDetached = 'elementDetached',
  StreamStateChanged = 'streamStateChanged',
  TrackSubscriptionStatusChanged = 'subscriptionStatusChanged',
  SubscriptionPermissionChanged = 'subscriptionPermissionChanged',
  TimeSyncUpdate = 'timeSyncUpdate',
}

export interface RoomEventCallbacks {
  [RoomEvent.Connected]: () => void;
  [RoomEvent.Reconnecting]: () => void;
  [RoomEvent.SignalReconnecting]: () => void;
  [RoomEvent.Reconnected]: () => void;
  [RoomEvent.Disconnected]: (reason?: DisconnectReason) => void;
  [RoomEvent.ConnectionStateChanged]: (state: ConnectionState) => void;
  [RoomEvent.ParticipantConnected]: (participant: RemoteParticipant) => void;
  [RoomEvent.ParticipantDisconnected]: (participant: RemoteParticipant) => void;
  [RoomEvent.TrackPublished]: (publication: RemoteTrackPublication, participant: RemoteParticipant) => void;
  [RoomEvent.TrackSubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication, participant: RemoteParticipant) => void;
  [RoomEvent.TrackSubscriptionFailed]: (trackSid: string, participant: RemoteParticipant, reason?: SubscriptionError) => void;
  [RoomEvent.TrackUnpublished]: (publication: RemoteTrackPublication, participant: RemoteParticipant) => void;
  [RoomEvent.TrackUnsubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication, participant: RemoteParticipant) => void;
  [RoomEvent.TrackMuted]: (publication: TrackPublication, participant: Participant) => void;
  [RoomEvent.TrackUnmuted]: (publication: TrackPublication, participant: Participant) => void;
  [RoomEvent.LocalTrackPublished]: (publication: LocalTrackPublication, participant: LocalParticipant) => void;
  [RoomEvent.LocalTrackUnpublished]: (publication: LocalTrackPublication, participant: LocalParticipant) => void;
  [RoomEvent.ActiveSpeakersChanged]: (speakers: Participant[]) => void;
  [RoomEvent.ParticipantMetadataChanged]: (prevMetadata: string | undefined, participant: Participant) => void;
  [RoomEvent.ParticipantNameChanged]: (name: string, participant: Participant) => void;
  [RoomEvent.ParticipantAttributesChanged]: (changed: Record<string, string>, participant: Participant) => void;
  [RoomEvent.RoomMetadataChanged]: (metadata: string) => void;
  [RoomEvent.DataReceived]: (payload: Uint8Array, participant?: RemoteParticipant, kind?: DataPacket_Kind, topic?: string) => void;
  [RoomEvent.ChatMessage]: (message: ChatMessage, participant?: RemoteParticipant | LocalParticipant) => void;
  [RoomEvent.ConnectionQualityChanged]: (quality: ConnectionQualityName, participant: Participant) => void;
  [RoomEvent.TrackStreamStateChanged]: (publication: RemoteTrackPublication, state: TrackStreamState, participant: RemoteParticipant) => void;
  [RoomEvent.TrackSubscriptionPermissionChanged]: (publication: RemoteTrackPublication, status: SubscriptionStatus, participant: RemoteParticipant) => void;
  [RoomEvent.TrackSubscriptionStatusChanged]: (publication: RemoteTrackPublication, status: SubscriptionStatus, participant: RemoteParticipant) => void;
  [RoomEvent.ParticipantPermissionsChanged]: (prevPermissions: ParticipantPermission | undefined, participant: Participant) => void;
  [RoomEvent.SignalConnected]: () => void;
  [RoomEvent.MediaDevicesError]: (error: Error) => void;
  [RoomEvent.LocalTrackSubscribed]: (publication: LocalTrackPublication, participant: LocalParticipant) => void;
  [RoomEvent.AudioPlaybackStatusChanged]: (playing: boolean) => void;
}

export interface ParticipantEventCallbacks {
  [ParticipantEvent.TrackPublished]: (publication: RemoteTrackPublication) => void;
  [ParticipantEvent.TrackSubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication) => void;
  [ParticipantEvent.TrackSubscriptionFailed]: (trackSid: string, reason?: SubscriptionError) => void;
  [ParticipantEvent.TrackUnpublished]: (publication: RemoteTrackPublication) => void;
  [ParticipantEvent.TrackUnsubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication) => void;
  [ParticipantEvent.TrackMuted]: (publication: TrackPublication) => void;
  [ParticipantEvent.TrackUnmuted]: (publication: TrackPublication) => void;
  [ParticipantEvent.LocalTrackPublished]: (publication: LocalTrackPublication) => void;
  [ParticipantEvent.LocalTrackUnpublished]: (publication: LocalTrackPublication) => void;
  [ParticipantEvent.ParticipantMetadataChanged]: (prevMetadata: string | undefined, participant: Participant) => void;
  [ParticipantEvent.ParticipantNameChanged]: (name: string) => void;
  [ParticipantEvent.AttributesChanged]: (changed: Record<string, string>) => void;
  [ParticipantEvent.DataReceived]: (payload: Uint8Array, kind: DataPacket_Kind) => void;
  [ParticipantEvent.ChatMessage]: (message: ChatMessage) => void;
  [ParticipantEvent.IsSpeakingChanged]: (speaking: boolean) => void;
  [ParticipantEvent.ConnectionQualityChanged]: (quality: ConnectionQualityName) => void;
  [ParticipantEvent.TrackStreamStateChanged]: (publication: RemoteTrackPublication, state: TrackStreamState) => void;
  [ParticipantEvent.TrackSubscriptionPermissionChanged]: (publication: RemoteTrackPublication, status: SubscriptionStatus) => void;
  [ParticipantEvent.TrackSubscriptionStatusChanged]: (publication: RemoteTrackPublication, status: SubscriptionStatus) => void;
  [ParticipantEvent.ParticipantPermissionsChanged]: (prevPermissions: ParticipantPermission | undefined) => void;
  [ParticipantEvent.LocalTrackSubscribed]: (publication: LocalTrackPublication) => void;
  [ParticipantEvent.MediaDevicesError]: (error: Error) => void;
}

export interface TrackEventCallbacks {
  [TrackEvent.Message]: () => void;
  [TrackEvent.Muted]: (track: Track) => void;
  [TrackEvent.Unmuted]: (track: Track) => void;
  [TrackEvent.Restarted]: (track: LocalTrack) => void;
  [TrackEvent.Ended]: (track: Track) => void;
  [TrackEvent.Subscribed]: (track: RemoteTrack) => void;
  [TrackEvent.Unsubscribed]: (track: RemoteTrack) => void;
  [TrackEvent.UpdateSettings]: () => void;
  [TrackEvent.UpdateSubscription]: () => void;
  [TrackEvent.AudioPlaybackStarted]: () => void;
  [TrackEvent.AudioPlaybackFailed]: (error?: Error) => void;
  [TrackEvent.VisibilityChanged]: (visible: boolean, track: Track) => void;
  [TrackEvent.VideoDimensionsChanged]: (dimensions: { width: number; height: number }, track: Track) => void;
  [TrackEvent.ElementAttached]: (element: unknown) => void;
  [TrackEvent.ElementDetached]: (element: unknown) => void;
  [TrackEvent.StreamStateChanged]: (state: TrackStreamState) => void;
  [TrackEvent.TrackSubscriptionStatusChanged]: (status: SubscriptionStatus) => void;
  [TrackEvent.SubscriptionPermissionChanged]: (status: SubscriptionStatus) => void;
  [TrackEvent.TimeSyncUpdate]: () => void;
}

/** livekit-client's ConnectionQuality values ('excellent' | 'good' | 'poor' | 'lost' | 'unknown'). */
export type ConnectionQualityName = 'excellent' | 'good' | 'poor' | 'lost' | 'unknown';

export function qualityName(q: ConnectionQuality): ConnectionQualityName {
  switch (q) {
    case 2:
      return 'excellent';
    case 1:
      return 'good';
    case 0:
      return 'poor';
    case 3:
      return 'lost';
    default:
      return 'unknown';
  }
}
