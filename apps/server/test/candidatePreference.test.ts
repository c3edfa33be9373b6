// LiveKit's force-tcp / force-tls (SimulateScenario switch_candidate_protocol) as the server applies them on the
// client's next join: TCP → only ICE-TCP candidates on both of the participant's transports; TLS → ice_servers with the
// turns: URL only and client_configuration.force_relay = ENABLED. The browser side is e2e/connectivity.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CandidateProtocol, ClientConfigSetting, SignalTarget } from '@kite/protocol';
import { startServer, type TestServer } from './helpers.js';
import { Clients, waitUntil } from './support/harness.js';
import type { LkClient } from './support/lkClient.js';

let ts: TestServer;
const clients = new Clients(() => ts);
beforeAll(async () => {
  // --dev's TURN: UDP/TCP and TLS with a generated certificate, on any free ports.
  ts = await startServer({ development: true, turn: { enabled: true, udp_port: 0, tls_port: 0 } });
});
afterEach(() => clients.disposeAll());
afterAll(() => ts.server.close());

/** Every ICE candidate Kite sent this client: in its offers and answers, and trickled. */
function serverCandidates(c: LkClient): string[] {
  const inSdp = (sdp: string) => sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
  return [
    ...c.messages('offer').flatMap((o) => inSdp(o.sdp)),
    ...c.messages('answer').flatMap((a) => inSdp(a.sdp)),
    ...c.messages('trickle').map((t) => (JSON.parse(t.candidateInit) as { candidate: string }).candidate),
  ];
}

/** Waits until Kite has sent candidates for both transports (subscriber offer, publisher answer). */
async function candidatesOfBoth(c: LkClient): Promise<string[]> {
  await c.waitFor('offer');
  await c.waitFor('answer');
  await waitUntil(() => c.messages('trickle').some((t) => t.target === SignalTarget.PUBLISHER) || c.messages('answer').some((a) => a.sdp.includes('a=candidate:')), 10_000, 'publisher candidates');
  await waitUntil(() => c.messages('trickle').some((t) => t.target === SignalTarget.SUBSCRIBER) || c.messages('offer').some((o) => o.sdp.includes('a=candidate:')), 10_000, 'subscriber candidates');
  return serverCandidates(c);
}

const transportOf = (candidate: string) => candidate.replace(/^a=/, '').split(' ')[2]!.toLowerCase();

/** Asks for `protocol` the way livekit-client's simulateScenario('force-tcp' | 'force-tls') does, then rejoins. */
async function switchAndRejoin(room: string, protocol: CandidateProtocol): Promise<{ first: LkClient; second: LkClient }> {
  const first = await clients.join('bob', room);
  first.send({ simulate: { scenario: 'switchCandidateProtocol', switchCandidateProtocol: protocol } });
  await new Promise((r) => setTimeout(r, 100));
  await first.dispose(); // the client drops its connections and does a full reconnect
  const second = await clients.join('bob', room);
  return { first, second };
}

describe('switch_candidate_protocol applies to the next join', () => {
  it('without a preference: UDP and TCP candidates, every TURN URL, force_relay unset', async () => {
    const c = await clients.join('alice', 'pref-none');
    const transports = new Set((await candidatesOfBoth(c)).map(transportOf));
    expect([...transports].sort()).toEqual(['tcp', 'udp']);
    const urls = c.join!.iceServers.flatMap((s) => s.urls);
    expect(urls.some((u) => u.startsWith('turn:') && u.endsWith('transport=udp'))).toBe(true);
    expect(urls.some((u) => u.startsWith('turns:'))).toBe(true);
    expect(c.join!.clientConfiguration?.forceRelay ?? ClientConfigSetting.UNSET).toBe(ClientConfigSetting.UNSET);
  });

  it('TCP: the rejoined session offers ICE-TCP candidates only, on both transports', async () => {
    const { first, second } = await switchAndRejoin('pref-tcp', CandidateProtocol.TCP);
    const cands = await candidatesOfBoth(second);
    expect(cands.length).toBeGreaterThan(0);
    expect(new Set(cands.map(transportOf))).toEqual(new Set(['tcp']));
    expect(cands.every((c) => c.includes(` ${ts.server.rtc.tcpPort} `))).toBe(true);
    // TURN is still offered (LiveKit sends its usual servers with TCP), and relay is not forced.
    expect(second.join!.iceServers.flatMap((s) => s.urls).some((u) => u.startsWith('turn:'))).toBe(true);
    expect(second.join!.clientConfiguration?.forceRelay ?? ClientConfigSetting.UNSET).toBe(ClientConfigSetting.UNSET);
    // The same participant, taken over.
    expect(second.sid).toBe(first.sid);
    // A third join (its own full reconnect) keeps TCP: the preference stays with the session that took over.
    await second.dispose();
    const third = await clients.join('bob', 'pref-tcp');
    expect(new Set((await candidatesOfBoth(third)).map(transportOf))).toEqual(new Set(['tcp']));
  });

  it('TLS: the rejoined session gets the turns: URL only and force_relay ENABLED', async () => {
    const { second } = await switchAndRejoin('pref-tls', CandidateProtocol.TLS);
    const urls = second.join!.iceServers.flatMap((s) => s.urls);
    expect(urls).toEqual([`turns:127.0.0.1:${ts.server.turn!.tlsPort}?transport=tcp`]);
    expect(second.join!.iceServers[0]!.username).toMatch(/\S/);
    expect(second.join!.iceServers[0]!.credential).toMatch(/\S/);
    expect(second.join!.clientConfiguration?.forceRelay).toBe(ClientConfigSetting.ENABLED);
  });

  it('UDP (switch back): nothing forced', async () => {
    const { second } = await switchAndRejoin('pref-udp', CandidateProtocol.UDP);
    expect(new Set((await candidatesOfBoth(second)).map(transportOf))).toEqual(new Set(['tcp', 'udp']));
    expect(second.join!.clientConfiguration?.forceRelay ?? ClientConfigSetting.UNSET).toBe(ClientConfigSetting.UNSET);
  });
});
