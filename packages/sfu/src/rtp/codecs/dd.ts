/**
 * AV1 Dependency Descriptor RTP header extension (AV1 RTP spec, Appendix A; also used with VP8/VP9/H.264 SVC in
 * Chrome) reader: the mandatory fields, the extended flags, the template dependency structure (kept across packets,
 * since only keyframe packets carry it) and each frame's dependency definition (spatial/temporal id, decode target
 * indications, frame diffs, chain diffs, resolution).
 *
 * mandatory_descriptor_fields: start_of_frame f(1), end_of_frame f(1), frame_dependency_template_id f(6),
 * frame_number f(16). When the extension is longer than 3 bytes: template_dependency_structure_present_flag,
 * active_decode_targets_present_flag, custom_dtis_flag, custom_fdiffs_flag, custom_chains_flag (1 bit each), then the
 * structure, the active decode targets bitmask, and the frame's custom fields.
 *
 * Allocation-free: the structure lives in preallocated typed arrays (two sets, swapped when a new one parses OK).
 */

export const DD_MAX_TEMPLATES = 64;
export const DD_MAX_DECODE_TARGETS = 32;
export const DD_MAX_SPATIAL_IDS = 8;
export const DD_MAX_TEMPORAL_IDS = 8;
/** Frame diffs kept per template / per frame (the syntax is unbounded; real encoders use ≤ 3). */
export const DD_MAX_FDIFFS = 16;

/** Decode target indications (Table A.1). */
export const DTI_NOT_PRESENT = 0;
export const DTI_DISCARDABLE = 1;
export const DTI_SWITCH = 2;
export const DTI_REQUIRED = 3;

/** A template dependency structure. Per-template arrays are indexed [template * stride + i]. */
export class DdStructure {
  templateIdOffset = 0;
  decodeTargetCount = 0;
  templateCount = 0;
  chainCount = 0;
  maxSpatialId = 0;
  maxTemporalId = 0;
  readonly templateSpatialId = new Uint8Array(DD_MAX_TEMPLATES);
  readonly templateTemporalId = new Uint8Array(DD_MAX_TEMPLATES);
  /** [template * 32 + dt] */
  readonly templateDtis = new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_DECODE_TARGETS);
  readonly templateFdiffCount = new Uint8Array(DD_MAX_TEMPLATES);
  /** [template * DD_MAX_FDIFFS + i] */
  readonly templateFdiffs = new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_FDIFFS);
  /** Chain protecting each decode target. */
  readonly decodeTargetProtectedBy = new Uint8Array(DD_MAX_DECODE_TARGETS);
  /** [template * 32 + chain] */
  readonly templateChainFdiffs = new Uint8Array(DD_MAX_TEMPLATES * DD_MAX_DECODE_TARGETS);
  /** Highest spatial / temporal id of each decode target. */
  readonly decodeTargetSpatialId = new Uint8Array(DD_MAX_DECODE_TARGETS);
  readonly decodeTargetTemporalId = new Uint8Array(DD_MAX_DECODE_TARGETS);
  hasResolutions = false;
  /** [spatial * 2] = width, [spatial * 2 + 1] = height. */
  readonly resolutions = new Uint32Array(DD_MAX_SPATIAL_IDS * 2);
}

/**
 * Reusable reader. `parse` fills the mandatory fields whenever the element has ≥ 3 bytes (check its return value for
 * the rest); `frameInfoValid` tells whether the frame dependency definition could be resolved (needs a structure from
 * this or an earlier packet).
 */
export class DependencyDescriptorReader {
  startOfFrame = false;
  endOfFrame = false;
  templateId = 0;
  frameNumber = 0;
  /** The element is longer than 3 bytes (extended fields present). */
  extended = false;
  /** This packet carries a template dependency structure (the structure changed / was repeated). */
  structurePresent = false;
  activeDecodeTargetsPresent = false;
  customDtis = false;
  customFdiffs = false;
  customChains = false;
  /** Active decode targets bitmask (bit i = decode target i); persists until changed; all ones after a new structure. */
  activeDecodeTargets = 0;

  frameInfoValid = false;
  spatialId = 0;
  temporalId = 0;
  readonly frameDtis = new Uint8Array(DD_MAX_DECODE_TARGETS);
  frameFdiffCount = 0;
  readonly frameFdiffs = new Uint16Array(DD_MAX_FDIFFS);
  readonly frameChainFdiffs = new Uint8Array(DD_MAX_DECODE_TARGETS);
  /** Render resolution of the frame's spatial layer when the structure has resolutions, else 0. */
  width = 0;
  height = 0;

  private current: DdStructure | null = null;
  private spare = new DdStructure();

  private buf: Uint8Array = new Uint8Array(0);
  private bitPos = 0;
  private bitEnd = 0;
  private err = false;

  /** The active template dependency structure (null until one was received). */
  get structure(): DdStructure | null {
    return this.current;
  }

  /** Forget the structure (e.g. on a stream switch). */
  reset(): void {
    if (this.current) this.spare = this.current;
    this.current = null;
    this.activeDecodeTargets = 0;
    this.frameInfoValid = false;
  }

  /**
   * Parses the extension element data buf[off, off+len). Returns false when it is shorter than 3 bytes or any part
   * is malformed (the structure is then not replaced). Returns true with `frameInfoValid = false` when no structure is
   * known yet.
   */
  parse(buf: Uint8Array, off: number, len: number): boolean {
    this.frameInfoValid = false;
    if (off < 0 || len < 3 || off + len > buf.length) return false;
    const b0 = buf[off];
    this.startOfFrame = (b0 & 0x80) !== 0;
    this.endOfFrame = (b0 & 0x40) !== 0;
    this.templateId = b0 & 0x3f;
    this.frameNumber = (buf[off + 1] << 8) | buf[off + 2];
    this.extended = len > 3;
    this.structurePresent = false;
    this.activeDecodeTargetsPresent = false;
    this.customDtis = false;
    this.customFdiffs = false;
    this.customChains = false;
    this.buf = buf;
    this.bitPos = (off + 3) * 8;
    this.bitEnd = (off + len) * 8;
    this.err = false;

    let s = this.current;
    let newStructure = false;
    if (this.extended) {
      const flags = this.bits(5);
      this.structurePresent = (flags & 0x10) !== 0;
      this.activeDecodeTargetsPresent = (flags & 0x08) !== 0;
      this.customDtis = (flags & 0x04) !== 0;
      this.customFdiffs = (flags & 0x02) !== 0;
      this.customChains = (flags & 0x01) !== 0;
      if (this.structurePresent) {
        s = this.spare;
        if (!this.readStructure(s)) return false;
        newStructure = true;
      }
    }
    if (s === null) return !this.err;
    let active = newStructure ? allOnes(s.decodeTargetCount) : this.activeDecodeTargets;
    if (this.activeDecodeTargetsPresent) active = this.bits(s.decodeTargetCount);

    const idx = (this.templateId + DD_MAX_TEMPLATES - s.templateIdOffset) % DD_MAX_TEMPLATES;
    if (idx >= s.templateCount) return false;
    const dtCount = s.decodeTargetCount;
    this.spatialId = s.templateSpatialId[idx];
    this.temporalId = s.templateTemporalId[idx];
    if (this.customDtis) {
      for (let i = 0; i < dtCount; i++) this.frameDtis[i] = this.bits(2);
    } else {
      for (let i = 0; i < dtCount; i++) this.frameDtis[i] = s.templateDtis[idx * DD_MAX_DECODE_TARGETS + i];
    }
    if (this.customFdiffs) {
      let n = 0;
      for (let size = this.bits(2); size !== 0 && !this.err; size = this.bits(2)) {
        if (n === DD_MAX_FDIFFS) return false;
        this.frameFdiffs[n++] = this.bits(4 * size) + 1;
      }
      this.frameFdiffCount = n;
    } else {
      const n = s.templateFdiffCount[idx];
      for (let i = 0; i < n; i++) this.frameFdiffs[i] = s.templateFdiffs[idx * DD_MAX_FDIFFS + i];
      this.frameFdiffCount = n;
    }
    if (this.customChains) {
      for (let i = 0; i < s.chainCount; i++) this.frameChainFdiffs[i] = this.bits(8);
    } else {
      for (let i = 0; i < s.chainCount; i++)
        this.frameChainFdiffs[i] = s.templateChainFdiffs[idx * DD_MAX_DECODE_TARGETS + i];
    }
    if (this.err) return false;
    if (s.hasResolutions) {
      this.width = s.resolutions[this.spatialId * 2];
      this.height = s.resolutions[this.spatialId * 2 + 1];
    } else {
      this.width = 0;
      this.height = 0;
    }
    if (newStructure) {
      this.spare = this.current ?? new DdStructure();
      this.current = s;
    }
    this.activeDecodeTargets = active;
    this.frameInfoValid = true;
    return true;
  }

  private bits(n: number): number {
    if (this.bitPos + n > this.bitEnd) {
      this.err = true;
      this.bitPos = this.bitEnd;
      return 0;
    }
    const buf = this.buf;
    let v = 0;
    let p = this.bitPos;
    for (let i = 0; i < n; i++, p++) v = v * 2 + ((buf[p >> 3] >> (7 - (p & 7))) & 1);
    this.bitPos = p;
    return v;
  }

  /** ns(n): non-symmetric unsigned value in [0, n). */
  private ns(n: number): number {
    const w = 32 - Math.clz32(n);
    const m = (1 << w) - n;
    const v = this.bits(w - 1);
    if (v < m) return v;
    return (v << 1) - m + this.bits(1);
  }

  private readStructure(s: DdStructure): boolean {
    s.templateIdOffset = this.bits(6);
    const dtCount = this.bits(5) + 1;
    s.decodeTargetCount = dtCount;
    // template_layers()
    let tid = 0;
    let sid = 0;
    let maxTid = 0;
    let count = 0;
    let idc = 0;
    do {
      if (count === DD_MAX_TEMPLATES) return false;
      s.templateSpatialId[count] = sid;
      s.templateTemporalId[count] = tid;
      count++;
      idc = this.bits(2);
      if (idc === 1) {
        tid++;
        if (tid >= DD_MAX_TEMPORAL_IDS) return false;
        if (tid > maxTid) maxTid = tid;
      } else if (idc === 2) {
        tid = 0;
        sid++;
        if (sid >= DD_MAX_SPATIAL_IDS) return false;
      }
    } while (idc !== 3 && !this.err);
    if (this.err) return false;
    s.templateCount = count;
    s.maxSpatialId = sid;
    s.maxTemporalId = maxTid;
    // template_dtis()
    for (let t = 0; t < count; t++)
      for (let d = 0; d < dtCount; d++) s.templateDtis[t * DD_MAX_DECODE_TARGETS + d] = this.bits(2);
    // template_fdiffs()
    for (let t = 0; t < count; t++) {
      let n = 0;
      while (this.bits(1) === 1) {
        if (n === DD_MAX_FDIFFS) return false;
        s.templateFdiffs[t * DD_MAX_FDIFFS + n] = this.bits(4) + 1;
        n++;
      }
      s.templateFdiffCount[t] = n;
    }
    // template_chains()
    const chains = this.ns(dtCount + 1);
    s.chainCount = chains;
    if (chains > 0) {
      for (let d = 0; d < dtCount; d++) s.decodeTargetProtectedBy[d] = this.ns(chains);
      for (let t = 0; t < count; t++)
        for (let c = 0; c < chains; c++) s.templateChainFdiffs[t * DD_MAX_DECODE_TARGETS + c] = this.bits(4);
    }
    // decode_target_layers()
    for (let d = 0; d < dtCount; d++) {
      let ms = 0;
      let mt = 0;
      for (let t = 0; t < count; t++) {
        if (s.templateDtis[t * DD_MAX_DECODE_TARGETS + d] !== DTI_NOT_PRESENT) {
          if (s.templateSpatialId[t] > ms) ms = s.templateSpatialId[t];
          if (s.templateTemporalId[t] > mt) mt = s.templateTemporalId[t];
        }
      }
      s.decodeTargetSpatialId[d] = ms;
      s.decodeTargetTemporalId[d] = mt;
    }
    // resolutions
    s.hasResolutions = this.bits(1) === 1;
    if (s.hasResolutions) {
      for (let i = 0; i <= sid; i++) {
        s.resolutions[i * 2] = this.bits(16) + 1;
        s.resolutions[i * 2 + 1] = this.bits(16) + 1;
      }
    }
    return !this.err;
  }
}

function allOnes(n: number): number {
  return n >= 32 ? 0xffffffff : (2 ** n) - 1;
}
