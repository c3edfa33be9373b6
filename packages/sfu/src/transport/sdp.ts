// Just enough SDP reading for what werift does not expose: per-m-line msid, SSRCs, RIDs, direction.

export interface MediaSection {
  index: number;
  kind: string;
  mid: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** a=msid:<stream> <track> (the track id is LiveKit's `cid`). */
  streamId?: string;
  trackId?: string;
  ssrcs: number[];
  /** a=ssrc-group lines, e.g. FID (primary, rtx) or SIM. */
  ssrcGroups: { semantics: string; ssrcs: number[] }[];
  /** RIDs this side sends (a=rid:<id> send). */
  sendRids: string[];
  port: number;
}

export function parseMediaSections(sdp: string): MediaSection[] {
  const out: MediaSection[] = [];
  let cur: MediaSection | undefined;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ');
      cur = { index: out.length, kind: kind!, mid: '', direction: 'sendrecv', ssrcs: [], ssrcGroups: [], sendRids: [], port: Number(port) };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('a=mid:')) cur.mid = line.slice(6);
    else if (line === 'a=sendrecv' || line === 'a=sendonly' || line === 'a=recvonly' || line === 'a=inactive') {
      cur.direction = line.slice(2) as MediaSection['direction'];
    } else if (line.startsWith('a=msid:')) {
      const [stream, track] = line.slice(7).split(' ');
      cur.streamId = stream;
      cur.trackId = track;
    } else if (line.startsWith('a=ssrc:')) {
      const ssrc = Number(line.slice(7).split(' ')[0]);
      if (Number.isFinite(ssrc) && !cur.ssrcs.includes(ssrc)) cur.ssrcs.push(ssrc);
      // Plan-B style "a=ssrc:<n> msid:<stream> <track>" when a=msid is absent
      const m = /^a=ssrc:\d+ msid:(\S+) (\S+)/.exec(line);
      if (m && !cur.trackId) {
        cur.streamId = m[1];
        cur.trackId = m[2];
      }
    } else if (line.startsWith('a=ssrc-group:')) {
      const [semantics, ...ssrcs] = line.slice(13).split(' ');
      cur.ssrcGroups.push({ semantics: semantics!, ssrcs: ssrcs.map(Number) });
    } else if (line.startsWith('a=rid:')) {
      const [rid, dir] = line.slice(6).split(' ');
      if (dir === 'send') cur.sendRids.push(rid!);
    }
  }
  return out;
}

/** Drops a=candidate lines whose address is not allowed (e.g. keep only the advertised node IP). */
export function filterCandidates(sdp: string, allowed: (address: string) => boolean): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || allowed(candidateAddress(l.slice(2)) ?? ''))
    .join('\r\n');
}

/**
 * Drops mDNS (`.local`) candidates from a remote description. werift would resolve each with a multicast socket of
 * its own per connection and wait up to 10 s; a browser hiding its addresses behind mDNS reaches Kite anyway, and
 * ICE-lite learns its peer-reflexive address from the browser's checks.
 */
export function stripMdnsCandidates(sdp: string): string {
  if (!sdp.includes('.local ')) return sdp;
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || !(candidateAddress(l.slice(2)) ?? '').endsWith('.local'))
    .join('\r\n');
}

/** The connection address of an ICE candidate line ("candidate:… <address> <port> typ …"). */
export function candidateAddress(candidate: string): string | undefined {
  const parts = candidate.replace(/^a=/, '').split(' ');
  return parts[4];
}

/**
 * Removes transport-wide congestion control (the header extension and the rtcp-fb) from the m-sections in which Kite
 * only receives. TWCC feedback stamped on Node's event loop shows the loop's stalls to the sender's estimator as
 * queueing delay (under load Chrome then held publishers at ~2 Mbps and kept the top simulcast layer off), so
 * publishers estimate with Kite's REMB and their own loss instead. Sections in which Kite sends keep it: there the
 * client stamps arrivals and Kite's estimator (bwe/) reads them.
 */
export function stripTransportCcWhereReceiving(sdp: string): string {
  const sections = sdp.split(/\r\n(?=m=)/);
  return sections
    .map((section) => {
      if (!section.startsWith('m=') || !/\r\na=recvonly(\r\n|$)/.test(section)) return section;
      return section
        .split('\r\n')
        .filter((l) => !(l.startsWith('a=extmap:') && l.includes('transport-wide-cc')) && !/^a=rtcp-fb:\S+ transport-cc/.test(l))
        .join('\r\n');
    })
    .join('\r\n');
}
