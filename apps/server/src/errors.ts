import type { TwirpErrorCode } from '@kite/protocol';

/** An error a service call answers with: a Twirp code and a message safe to show the caller. */
export class ServiceError extends Error {
  constructor(
    readonly code: TwirpErrorCode,
    message: string,
    readonly meta?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

// The messages LiveKit answers with, so clients and tests that match on them keep working.
export const errRoomNotFound = () => new ServiceError('not_found', 'requested room does not exist');
export const errParticipantNotFound = () => new ServiceError('not_found', 'participant does not exist');
export const errTrackNotFound = () => new ServiceError('not_found', 'track is not found');
export const errPermissionDenied = () => new ServiceError('unauthenticated', 'permissions denied');
export const errRemoteUnmuteNotEnabled = () => new ServiceError('failed_precondition', 'remote unmute not enabled');
