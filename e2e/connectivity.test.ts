// Connectivity with the official livekit-client in Debian's Chromium: every participant's ICE on Kite's one UDP port,
// media relayed by Kite's own TURN server (UDP and TLS), and LiveKit's force-tcp / force-tls test scenarios.
//
// Kite runs in this process (harness/kite.ts), so its sockets are this process's: /proc/self/fd links name socket
// inodes, /proc/net/{udp,tcp}{,6} give each inode's local port.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newParticipantPage } from './harness/browser.js';
import { startStaticServer, type StaticServer } from './harness/static.js';
import { startKite, type E2eServer } from './harness/kite.js';
import { evalRoom, inbound, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

let kite: E2eServer;
let web: StaticServer;
let browser: Browser;

/**
 * TURN relay ports, below Linux's ephemeral range (32768–60999) so no socket bound to port 0 (the UDP mux's, for one)
 * can be mistaken for a relay when sockets are counted by port.
 */
const RELAY_RANGE: [number, number] = [23000, 23999];

beforeAll(async () => {
  [kite, web] = await Promise.all([
    // --dev semantics for TURN: UDP/TCP and TLS with a self-signed certificate generated at start (any free ports).
    startKite({ development: true, turn: { enabled: true, udp_port: 0, tls_port: 0, relay_range_start: RELAY_RANGE[0], relay_range_end: RELAY_RANGE[1] } }),
    startStaticServer(),
  ]);
  const turn = kite.server.turn!;
  // Chromium verifies TURN/TLS certificates like HTTPS ones: trust exactly this one (needs a --user-data-dir, which
  // playwright always passes).
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${turn.certificateSpki}`]);
  console.log(`[e2e] kite: rtc udp ${kite.server.rtc.udpPort}, tcp ${kite.server.rtc.tcpPort}; turn udp ${turn.udpPort}, tcp ${turn.tcpPort}, tls ${turn.tlsPort}`);
});
afterAll(async () => {
  await browser?.close();
  await web?.close();
  await kite?.close();
});

/** livekit-client's signalling: /rtc/v1 (one peer connection, its default) or /rtc (publisher + subscriber). */
type Mode = 'v1' | 'v0';
const MODES: Mode[] = ['v1', 'v0'];

async function join(identity: string, room: string, mode: Mode, connectOptions: object = {}): Promise<Participant> {
  const roomOptions = { singlePeerConnection: mode === 'v1' };
  const p = await joinRoom(browser, `${web.url}/lk.html`, kite.wsUrl, await kite.token(identity, { room }), identity, roomOptions, connectOptions);
  console.log(`[e2e] ${identity} joined ${room} in ${Math.round(p.joinMs)} ms`);
  return p;
}

/**
 * Joins with only the TURN URLs matching `keep` in the page's peer connections (a shim around RTCPeerConnection, set
 * before connecting): the client gets Kite's ice_servers with fresh credentials, the browser sees only those URLs.
 */
async function joinWithTurnUrls(identity: string, room: string, mode: Mode, keep: RegExp, connectOptions: object): Promise<Participant> {
  const { page, context } = await newParticipantPage(browser, `${web.url}/lk.html`);
  await page.waitForFunction(() => (window as never as { ready?: boolean }).ready === true);
  await page.evaluate((src) => {
    const keepUrl = new RegExp(src);
    const filter = (cfg?: RTCConfiguration): RTCConfiguration | undefined =>
      cfg && {
        ...cfg,
        iceServers: (cfg.iceServers ?? [])
          .map((s) => ({ ...s, urls: ([] as string[]).concat(s.urls).filter((u) => keepUrl.test(u)) }))
          .filter((s) => s.urls.length > 0),
      };
    const Native = window.RTCPeerConnection;
    class Filtered extends Native {
      constructor(cfg?: RTCConfiguration) {
        super(filter(cfg));
      }
      override setConfiguration(cfg?: RTCConfiguration): void {
        super.setConfiguration(filter(cfg));
      }
    }
    window.RTCPeerConnection = Filtered;
  }, keep.source);
  const token = await kite.token(identity, { room });
  const joinMs = (await page.evaluate(
    ([url, t, ro, co]) => (window as never as { t: { connect(...a: unknown[]): Promise<number> } }).t.connect(url, t, ro, co),
    [kite.wsUrl, token, { singlePeerConnection: mode === 'v1' }, connectOptions] as const,
  )) as number;
  console.log(`[e2e] ${identity} joined ${room} in ${Math.round(joinMs)} ms (TURN URLs matching ${keep.source} only)`);
  return { identity, page, context, joinMs };
}

/** A small camera (320x180): four publishers and twelve decoders share two cores with everything else. */
async function publishCamera(p: Participant): Promise<void> {
  await evalRoom(p.page, 'await room.localParticipant.setCameraEnabled(true, { resolution: LK.VideoPresets.h180.resolution });');
}

/** Frames decoded by `page` from `identity` grow by `n` within `ms`; resolves with how long that took. */
async function framesFlow(page: Page, identity: string, n = 10, ms = 15_000): Promise<number> {
  const start = (await inbound(page, identity, 'video'))?.framesDecoded ?? 0;
  const t0 = Date.now();
  await waitInbound(page, identity, 'video', (s) => s.framesDecoded > start + n, ms);
  return Date.now() - t0;
}

interface CandidateInfo {
  type?: string;
  protocol?: string;
  relayProtocol?: string;
  address?: string;
  port?: number;
}
type Pair = { local: CandidateInfo; remote: CandidateInfo } | undefined;

/**
 * The selected candidate pair of each of the client's peer connections: publisher and subscriber with /rtc, the one
 * connection ("publisher" in livekit-client) with /rtc/v1.
 */
function selectedPairs(page: Page): Promise<Record<string, Pair>> {
  return evalRoom(
    page,
    `const out = {};
     const m = room.engine.pcManager;
     for (const [name, t] of [['publisher', m?.publisher], ['subscriber', m?.subscriber]]) {
       const pc = t?._pc;
       if (!pc) continue;
       const report = await pc.getStats();
       let pairId;
       for (const s of report.values()) if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
       const pair = pairId && report.get(pairId);
       if (!pair) { out[name] = undefined; continue; }
       const l = report.get(pair.localCandidateId), r = report.get(pair.remoteCandidateId);
       out[name] = { local: { type: l?.candidateType, protocol: l?.protocol, relayProtocol: l?.relayProtocol, address: l?.address, port: l?.port },
                     remote: { type: r?.candidateType, protocol: r?.protocol, address: r?.address, port: r?.port } };
     }
     return out;`,
  );
}

/**
 * Polls until every peer connection of the client has a selected pair satisfying `pred` (a pair is selected a moment
 * after 'connected'); resolves with them by connection.
 */
async function waitPairs(page: Page, pred: (p: NonNullable<Pair>) => boolean, ms = 10_000): Promise<Record<string, NonNullable<Pair>>> {
  const deadline = Date.now() + ms;
  let last: Record<string, Pair> = {};
  while (Date.now() < deadline) {
    last = await selectedPairs(page);
    const all = Object.values(last);
    if (all.length > 0 && all.every((p) => p && pred(p))) return last as Record<string, NonNullable<Pair>>;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no selected candidate pairs as expected; last: ${JSON.stringify(last)}`);
}

const fmtPair = (p: NonNullable<Pair>) =>
  `local ${p.local.type}/${p.local.protocol}${p.local.relayProtocol ? ` (relay over ${p.local.relayProtocol})` : ''} ↔ remote ${p.remote.type}/${p.remote.protocol} ${p.remote.address}:${p.remote.port}`;
const fmt = (pairs: Record<string, NonNullable<Pair>>) =>
  Object.entries(pairs)
    .map(([k, p]) => `${k}: ${fmtPair(p)}`)
    .join('; ');

/** What the client's last JoinResponse said about ICE. */
function joinIce(page: Page): Promise<{ urls: string[]; forceRelay: number }> {
  return evalRoom(page, 'const j = room.engine.latestJoinResponse; return { urls: j.iceServers.flatMap((s) => s.urls), forceRelay: j.clientConfiguration?.forceRelay ?? 0 };');
}

// ---- this process's sockets ----

interface SocketCensus {
  fds: number;
  /** Local ports of this process's UDP sockets (one entry per socket). */
  udp: number[];
  /** Local ports of this process's TCP sockets (listeners and connections). */
  tcp: number[];
}

function inodePorts(files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      out.set(cols[9]!, parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return out;
}

function census(): SocketCensus {
  const udpInodes = inodePorts(['/proc/net/udp', '/proc/net/udp6']);
  const tcpInodes = inodePorts(['/proc/net/tcp', '/proc/net/tcp6']);
  const c: SocketCensus = { fds: 0, udp: [], tcp: [] };
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, closed meanwhile
    }
    c.fds++;
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (!m) continue;
    const udp = udpInodes.get(m[1]!);
    if (udp !== undefined) c.udp.push(udp);
    const tcp = tcpInodes.get(m[1]!);
    if (tcp !== undefined) c.tcp.push(tcp);
  }
  return c;
}

/** UDP sockets that carry ICE: everything but TURN's own listener and its relay sockets. */
function iceUdpPorts(c: SocketCensus): number[] {
  const turn = kite.server.turn!;
  return c.udp.filter((p) => p !== turn.udpPort && !(p >= RELAY_RANGE[0] && p <= RELAY_RANGE[1]));
}

/** '/rtc (2 PCs)' or '/rtc/v1 (1 PC)': livekit-client 2.x tries single-PC signalling first. */
function signalMode(page: Page): Promise<string> {
  return evalRoom(page, "return room.engine.pcManager?.subscriber ? '/rtc (2 PCs)' : '/rtc/v1 (1 PC)';");
}

describe('one UDP port for every participant', () => {
  // With /rtc: 8 peer connections (publisher + subscriber each) on the one socket.
  it('4 participants (/rtc), all publishing a camera, all decoding each other: Kite holds exactly one ICE UDP socket', async () => {
    const room = 'conn-mux';
    const before = census();
    const t0 = Date.now();
    const ps: Participant[] = [];
    for (const n of ['p1', 'p2', 'p3', 'p4']) ps.push(await join(n, room, 'v0'));
    await Promise.all(ps.map(publishCamera));
    for (const viewer of ps) {
      for (const other of ps) if (other !== viewer) await waitInbound(viewer.page, other.identity, 'video', (s) => s.framesDecoded > 10, 30_000);
    }
    console.log(`[e2e] 4 joined and published (${await signalMode(ps[0]!.page)}); all 12 streams decoded after ${Date.now() - t0} ms`);

    const after = census();
    const turn = kite.server.turn!;
    const udpPort = kite.server.rtc.udpPort!;
    const httpPort = Number(new URL(kite.httpUrl).port);
    const webPort = Number(new URL(web.url).port);
    const tcpBy = (c: SocketCensus) => {
      const named: Record<string, number> = { signal: httpPort, iceTcp: kite.server.rtc.tcpPort, turnTcp: turn.tcpPort, turnTls: turn.tlsPort ?? -1, pageServer: webPort };
      const out: Record<string, number> = {};
      for (const [k, port] of Object.entries(named)) out[k] = c.tcp.filter((p) => p === port).length;
      out.other = c.tcp.filter((p) => !Object.values(named).includes(p)).length;
      return out;
    };
    const relays = (c: SocketCensus) => c.udp.filter((p) => p >= RELAY_RANGE[0] && p <= RELAY_RANGE[1]).length;
    // TURN's share: relay sockets and TURN TCP/TLS connections the browsers open (they allocate on every TURN URL).
    const turnFds = (c: SocketCensus) => relays(c) + c.tcp.filter((p) => p === turn.tcpPort || p === turn.tlsPort).length;
    console.log(
      `[e2e] server process fds: ${before.fds} before, ${after.fds} with 4 participants (${((after.fds - before.fds) / 4).toFixed(1)} per participant, ` +
        `${((after.fds - before.fds - (turnFds(after) - turnFds(before))) / 4).toFixed(1)} without TURN's); ` +
        `ICE UDP sockets ${JSON.stringify(iceUdpPorts(before))} → ${JSON.stringify(iceUdpPorts(after))}; ` +
        `TURN relay sockets (clients' allocations, iceTransportPolicy 'all') ${relays(before)} → ${relays(after)}; ` +
        `TCP sockets by local port ${JSON.stringify(tcpBy(before))} → ${JSON.stringify(tcpBy(after))}`,
    );
    // One socket for every peer connection's ICE: 4 participants add none.
    expect(iceUdpPorts(before)).toEqual([udpPort]);
    expect(iceUdpPorts(after)).toEqual([udpPort]);
    // And media keeps flowing on it: every one of the 12 streams decodes 10 more frames.
    const stalled: string[] = [];
    for (const viewer of ps) {
      for (const other of ps) {
        if (other === viewer) continue;
        try {
          await framesFlow(viewer.page, other.identity, 10, 10_000);
        } catch {
          const out = await evalRoom(other.page, 'return window.t.outbound();');
          stalled.push(`${other.identity} at ${viewer.identity}: ${JSON.stringify(await inbound(viewer.page, other.identity, 'video'))}; publisher's outbound ${JSON.stringify(out)}`);
        }
      }
    }
    expect(stalled).toEqual([]);
    for (const p of ps) await p.context.close();
  });
});

describe.each(MODES)("Kite's TURN server (%s signalling)", (mode) => {
  it("iceTransportPolicy 'relay': bob publishes and subscribes through TURN over UDP", async () => {
    const room = `conn-relay-${mode}`;
    const alice = await join('alice', room, mode);
    // turn:…?transport=udp only: with every URL Chromium may well settle on a TURN/TCP relay that answered first.
    const bob = await joinWithTurnUrls('bob', room, mode, /^turn:.*transport=udp/, { rtcConfig: { iceTransportPolicy: 'relay' } });
    await Promise.all([publishCamera(alice), publishCamera(bob)]);
    const t0 = Date.now();
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 30_000);
    await waitInbound(alice.page, 'bob', 'video', (s) => s.framesDecoded > 10, 30_000);
    const pairs = await waitPairs(bob.page, (p) => p.local.type === 'relay');
    console.log(`[e2e] relay (UDP), ${await signalMode(bob.page)}: 10 frames each way ${Date.now() - t0} ms after publishing; bob ${fmt(pairs)}`);
    for (const pair of Object.values(pairs)) {
      expect(pair.local.relayProtocol).toBe('udp');
      expect(pair.remote.port).toBe(kite.server.rtc.udpPort);
    }
    const bobSid = await evalRoom<string>(bob.page, 'return room.localParticipant.sid;');
    const allocations = kite.server.turn!.service.allocationsOf(bobSid);
    console.log(`[e2e] Kite TURN allocations with bob's credentials: ${allocations.length}`);
    expect(allocations.length).toBeGreaterThan(0);
    for (const p of [alice, bob]) await p.context.close();
  });

  it("force-tls: after the rejoin bob's connections go through TURN over TLS, media flows both ways", async () => {
    const room = `conn-tls-${mode}`;
    const alice = await join('alice', room, mode);
    const bob = await join('bob', room, mode);
    await Promise.all([publishCamera(alice), publishCamera(bob)]);
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 30_000);
    await waitInbound(alice.page, 'bob', 'video', (s) => s.framesDecoded > 10, 30_000);
    expect((await joinIce(bob.page)).forceRelay).toBe(0);

    const since = await pageNow(bob.page);
    const t0 = Date.now();
    await evalRoom(bob.page, `await room.simulateScenario('force-tls');`);
    await waitEvent(bob.page, 'Reconnected', {}, 30_000, since);
    const reconnectedMs = Date.now() - t0;
    const ice = await joinIce(bob.page);
    expect(ice.urls.length).toBeGreaterThan(0);
    expect(ice.urls.every((u) => u.startsWith('turns:'))).toBe(true);
    expect(ice.forceRelay).toBe(2); // ClientConfigSetting.ENABLED

    const aliceAtBob = await framesFlow(bob.page, 'alice', 10, 20_000);
    const pairs = await waitPairs(bob.page, (p) => p.local.type === 'relay');
    console.log(
      `[e2e] force-tls (${await signalMode(bob.page)}): JoinResponse ice_servers ${JSON.stringify(ice.urls)}, force_relay ${ice.forceRelay}; ` +
        `Reconnected ${reconnectedMs} ms after simulateScenario; then 10 frames of alice at bob within ${aliceAtBob} ms; bob ${fmt(pairs)}`,
    );
    for (const pair of Object.values(pairs)) expect(pair.local.relayProtocol).toBe('tls');
    const bobAtAlice = await framesFlow(alice.page, 'bob', 10, 20_000);
    console.log(`[e2e] force-tls (${mode}): 10 frames of bob's new track at alice within ${bobAtAlice} ms`);

    // A resume keeps it: the ReconnectResponse carries fresh turns:-only credentials and force_relay again (without
    // them the client would set iceTransportPolicy back to 'all' and drop the TURN server from its connections).
    const since2 = await pageNow(bob.page);
    const t1 = Date.now();
    await evalRoom(bob.page, `await room.simulateScenario('signal-reconnect');`);
    await waitEvent(bob.page, 'Reconnected', {}, 30_000, since2);
    const resumedMs = Date.now() - t1;
    const configs = await evalRoom<{ policy: string; urls: string[] }[]>(
      bob.page,
      `const m = room.engine.pcManager; return [m.publisher, m.subscriber].filter((t) => t?._pc).map((t) => { const c = t._pc.getConfiguration(); return { policy: c.iceTransportPolicy, urls: c.iceServers.flatMap((s) => [].concat(s.urls)) }; });`,
    );
    const afterResume = await framesFlow(bob.page, 'alice', 10, 20_000);
    const pairs2 = await waitPairs(bob.page, (p) => p.local.type === 'relay');
    console.log(`[e2e] force-tls (${mode}) then signal-reconnect: resumed in ${resumedMs} ms, connections ${JSON.stringify(configs)}; frames at bob again within ${afterResume} ms; bob ${fmt(pairs2)}`);
    for (const c of configs) {
      expect(c.policy).toBe('relay');
      expect(c.urls.length).toBeGreaterThan(0);
      expect(c.urls.every((u) => u.startsWith('turns:'))).toBe(true);
    }
    for (const pair of Object.values(pairs2)) expect(pair.local.relayProtocol).toBe('tls');
    for (const p of [alice, bob]) await p.context.close();
  });
});

describe.each(MODES)('force-tcp (%s signalling)', (mode) => {
  it("after the rejoin bob's connections use ICE-TCP to Kite's TCP port, media flows both ways", async () => {
    const room = `conn-tcp-${mode}`;
    const alice = await join('alice', room, mode);
    const bob = await join('bob', room, mode);
    await Promise.all([publishCamera(alice), publishCamera(bob)]);
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 30_000);
    await waitInbound(alice.page, 'bob', 'video', (s) => s.framesDecoded > 10, 30_000);
    await waitPairs(bob.page, (p) => p.local.protocol === 'udp');

    const since = await pageNow(bob.page);
    const t0 = Date.now();
    await evalRoom(bob.page, `await room.simulateScenario('force-tcp');`);
    await waitEvent(bob.page, 'Reconnected', {}, 30_000, since);
    const reconnectedMs = Date.now() - t0;
    const aliceAtBob = await framesFlow(bob.page, 'alice', 10, 20_000);
    const pairs = await waitPairs(bob.page, (p) => p.local.protocol === 'tcp');
    console.log(
      `[e2e] force-tcp (${await signalMode(bob.page)}): Reconnected ${reconnectedMs} ms after simulateScenario; ` +
        `then 10 frames of alice at bob within ${aliceAtBob} ms; bob ${fmt(pairs)}`,
    );
    for (const pair of Object.values(pairs)) {
      expect(pair.remote.protocol).toBe('tcp');
      expect(pair.remote.port).toBe(kite.server.rtc.tcpPort);
    }
    const bobAtAlice = await framesFlow(alice.page, 'bob', 10, 20_000);
    console.log(`[e2e] force-tcp (${mode}): 10 frames of bob's new track at alice within ${bobAtAlice} ms`);
    for (const p of [alice, bob]) await p.context.close();
  });
});
