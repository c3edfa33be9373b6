// @kite/client for Node: the shared API on werift and `ws`, plus media sources and readers for bots and tests.
import { setPlatform } from './platform/types.js';
import { nodePlatform } from './platform/node.js';

setPlatform(nodePlatform);

export * from './index.js';
// The Node AudioFrame class (with helpers) stands in for the shared AudioFrame type.
export * from './node/index.js';
