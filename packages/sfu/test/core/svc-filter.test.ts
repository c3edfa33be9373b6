// SVC layer selection inside one stream (VP9/AV1 L3T3_KEY-like pictures): what a subscriber at each target gets.
import { describe, expect, it } from 'vitest';
import { SVC_DROP, SVC_FORWARD, SVC_FORWARD_MARKED, SvcFilter } from '../../src/downtrack/SvcFilter.js';

/** One picture: a single-packet layer frame per spatial layer; the last carries the RTP marker. */
function picture(f: SvcFilter, tid: number, keyframe: boolean, layers = 3): number[] {
  const out: number[] = [];
  for (let sid = 0; sid < layers; sid++) out.push(f.accept(sid, tid, true, true, keyframe && sid === 0, sid === layers - 1, true));
  return out;
}

describe('SvcFilter', () => {
  it('waits for a keyframe, forwards layers up to the target and marks the end of the highest one', () => {
    const f = new SvcFilter();
    f.targetSpatial = 1;
    expect(picture(f, 0, false)).toEqual([SVC_DROP, SVC_DROP, SVC_DROP]);
    expect(picture(f, 0, true)).toEqual([SVC_FORWARD, SVC_FORWARD_MARKED, SVC_DROP]);
    expect(f.currentSpatial).toBe(1);
  });

  it('goes down at the next picture, up only at a keyframe', () => {
    const f = new SvcFilter();
    picture(f, 0, true);
    expect(f.currentSpatial).toBe(2);
    f.targetSpatial = 0;
    expect(picture(f, 1, false)).toEqual([SVC_FORWARD_MARKED, SVC_DROP, SVC_DROP]);
    f.targetSpatial = 2;
    expect(f.wantsKeyframe).toBe(true);
    expect(picture(f, 0, false)).toEqual([SVC_FORWARD_MARKED, SVC_DROP, SVC_DROP]);
    expect(picture(f, 0, true)).toEqual([SVC_FORWARD, SVC_FORWARD, SVC_FORWARD]);
    expect(f.wantsKeyframe).toBe(false);
  });

  it('drops temporal layers above the target', () => {
    const f = new SvcFilter();
    picture(f, 0, true);
    f.targetTemporal = 0;
    expect(picture(f, 2, false)).toEqual([SVC_DROP, SVC_DROP, SVC_DROP]);
    expect(picture(f, 0, false)).toEqual([SVC_FORWARD, SVC_FORWARD, SVC_FORWARD]);
  });

  it('a late retransmission does not move the switch point', () => {
    const f = new SvcFilter();
    picture(f, 0, true);
    f.targetSpatial = 0;
    // an old picture start arriving late (not in order) keeps the current layer set
    expect(f.accept(0, 0, true, true, false, false, false)).toBe(SVC_FORWARD);
    expect(f.currentSpatial).toBe(2);
  });
});
