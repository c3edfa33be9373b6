export * from './constants.js';
export * from './address.js';
export * from './crc32.js';
export * from './message.js';
export * from './channel-data.js';
