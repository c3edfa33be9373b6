// What the Node build adds to the shared API: media sources and track factories for bots, tests and load.
export { createVideoTrackFromSource, createAudioTrackFromSource, createRtpTrack } from './tracks.js';
export * from './media/index.js';
