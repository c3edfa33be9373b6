// Spatial/temporal layer selection inside one scalable stream (VP9 or AV1 SVC, one SSRC): which frames a subscriber
// gets. A subscriber at spatial layer S receives every frame of layers 0..S (upper layers are predicted from lower
// ones at least at keyframes, as in L3T3_KEY), so going down can happen at any picture boundary, while going up needs a
// keyframe. The last packet forwarded of each picture carries the RTP marker, as the receiver expects it at the end of
// the picture it decodes.

/** Verdicts for one packet. */
export const SVC_DROP = 0;
export const SVC_FORWARD = 1;
/** Forward, and set the marker bit (the end of the highest forwarded layer of the picture). */
export const SVC_FORWARD_MARKED = 2;

export class SvcFilter {
  /** Highest spatial layer wanted (already capped at what the stream has). */
  targetSpatial = 2;
  /** Highest temporal layer wanted. */
  targetTemporal = 7;
  /** Spatial layer forwarded now; −1 until the first keyframe. */
  currentSpatial = -1;

  /** Up-switch pending: the owner asks the publisher for a keyframe. */
  get wantsKeyframe(): boolean {
    return this.currentSpatial < this.targetSpatial;
  }

  /**
   * Decides for one packet from its layer ids (−1 when unknown: forwarded as is), frame boundaries (of the layer
   * frame) and whether it starts a keyframe. `inOrder`: newer than every packet seen so far (a late retransmission
   * must not move the switch point back in time).
   */
  accept(sid: number, tid: number, frameStart: boolean, frameEnd: boolean, keyframe: boolean, marker: boolean, inOrder: boolean): number {
    if (sid < 0) {
      if (this.currentSpatial < 0 && keyframe) this.currentSpatial = 0;
      return this.currentSpatial >= 0 ? SVC_FORWARD : SVC_DROP;
    }
    if (inOrder && frameStart && sid === 0) {
      // A new picture: the only place the forwarded layer set may change.
      if (this.targetSpatial > this.currentSpatial) {
        if (keyframe) this.currentSpatial = this.targetSpatial;
      } else if (this.targetSpatial < this.currentSpatial) {
        this.currentSpatial = this.targetSpatial;
      }
    }
    if (this.currentSpatial < 0 || sid > this.currentSpatial || tid > this.targetTemporal) return SVC_DROP;
    return !marker && frameEnd && sid === this.currentSpatial ? SVC_FORWARD_MARKED : SVC_FORWARD;
  }

  reset(): void {
    this.currentSpatial = -1;
  }
}
