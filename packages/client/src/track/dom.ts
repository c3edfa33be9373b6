// DOM types the public API names (resolved from lib.dom; the code itself reaches DOM globals at run time only).
export type MediaElement = HTMLMediaElement;
