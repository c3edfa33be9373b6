// Which room changes become webhooks, and what they carry: LiveKit's choices (pkg/telemetry/events.go, pkg/rtc/room.go,
// pkg/service/roommanager.go), read off the room manager's and the rooms' events. Nothing here waits: notify() queues.
//
// - room_started when a room is created (CreateRoom or a first join), room_finished when it closes: the full Room.
// - participant_joined when the participant becomes ACTIVE (its primary peer connection is up), not at the join:
//   the full Room and ParticipantInfo.
// - participant_left when it goes — or participant_connection_aborted instead when it never became active: the full
//   Room and ParticipantInfo (state DISCONNECTED, disconnect_reason set). Its published tracks are announced with
//   track_unpublished first, as LiveKit closes a participant's tracks before its close callbacks run.
// - track_published once media arrived, track_unpublished when it stops: room = {sid, name}, participant =
//   {sid, identity}, and the TrackInfo.
import type { Participant, PublishedTrack } from '../rtc/participant.js';
import type { LiveRoom } from '../rooms/room.js';
import type { RoomManager } from '../rooms/roomManager.js';
import type { WebhookNotifier } from './notifier.js';

export function attachWebhooks(rooms: RoomManager, notifier: WebhookNotifier): void {
  rooms.on('roomStarted', (room) => {
    notifier.notify({ event: 'room_started', room: room.toProto() });
    watchRoom(room, notifier);
  });
  rooms.on('roomFinished', (room) => notifier.notify({ event: 'room_finished', room: room.toProto() }));
}

function watchRoom(room: LiveRoom, notifier: WebhookNotifier): void {
  /** Sessions that became active (a full reconnect makes a new Participant, even with the same sid). */
  const active = new WeakSet<Participant>();
  const trackEvent = (event: 'track_published' | 'track_unpublished', p: Participant, t: PublishedTrack) =>
    notifier.notify({ event, room: { sid: room.sid, name: room.name }, participant: { sid: p.sid, identity: p.identity }, track: { ...t.info } });

  room.on('participantActive', (r, p) => {
    if (active.has(p)) return;
    active.add(p);
    notifier.notify({ event: 'participant_joined', room: r.toProto(), participant: p.toProto() });
  });
  room.on('trackPublished', (_r, p, t) => trackEvent('track_published', p, t));
  room.on('trackUnpublished', (_r, p, t) => {
    // A closed participant's tracks were announced with its departure.
    if (!p.isClosed) trackEvent('track_unpublished', p, t);
  });
  room.on('participantLeft', (r, p) => {
    for (const t of p.tracks.values()) if (t.published) trackEvent('track_unpublished', p, t);
    notifier.notify({ event: active.has(p) ? 'participant_left' : 'participant_connection_aborted', room: r.toProto(), participant: p.toProto() });
  });
}
