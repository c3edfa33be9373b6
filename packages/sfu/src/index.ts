export * from './rtp/index.js';
export * from './turn/index.js';
