// ICE-TCP only: four ICE-lite server peers whose only candidate is the TcpMux's passive one; stock werift clients
// with iceUseTcp connect to it (tcp active → passive), open data channels and send media.
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Message, classes, methods, type RTCPeerConnection } from 'werift';
import { TcpMux, UdpMux, attachMuxes } from '../../src/transport/mux/index.js';
import { clientPc, connectPair, processSockets, rtpPacket, serverPc, sleep, waitFor, type Pair } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

interface ConnInternal {
  localUsername: string;
  localPassword: string;
  protocols: { type: string; localCandidate?: { transport: string; tcptype?: string } }[];
  nominated?: { protocol: { type: string }; localCandidate: { transport: string; tcptype?: string }; remoteAddr: [string, number] };
}
const connOf = (pc: RTCPeerConnection) => (pc.iceTransports[0] as unknown as { connection: ConnInternal }).connection;

/** Client pairs only TCP: its UDP candidates never get checked. */
const tcpOnlyClient = () => clientPc({ iceUseTcp: true, iceFilterCandidatePair: (pair: { localCandidate: { transport: string } }) => pair.localCandidate.transport.toLowerCase() === 'tcp' });

describe('TcpMux with werift peers (ICE-TCP only)', () => {
  it('connects 4 clients over TCP through one listening socket: data channels and media', async () => {
    const N = 4;
    const before = new Set(processSockets().map((s) => s.inode));
    const tcp = await TcpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    cleanup.push(() => tcp.close());
    const pairs: Pair[] = [];
    for (let i = 0; i < N; i++) {
      const server = serverPc();
      attachMuxes(server, { tcp, advertise: ['127.0.0.1'] });
      const client = tcpOnlyClient();
      cleanup.push(() => client.close(), () => server.close());
      pairs.push(await connectPair(i, server, client));
    }
    for (const p of pairs) {
      const lines = [...new Set(p.server.localDescription!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))];
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(` tcp \\d+ 127\\.0\\.0\\.1 ${tcp.port} typ host tcptype passive`));
    }
    await waitFor(() => pairs.every((p) => p.server.connectionState === 'connected' && p.client.connectionState === 'connected'), 20_000, 'all connected');
    await waitFor(() => pairs.every((p) => p.clientChannel.readyState === 'open' && p.serverChannel?.readyState === 'open'), 15_000, 'channels open');

    for (const p of pairs) {
      const conn = connOf(p.server);
      expect(conn.nominated?.protocol.type).toBe('tcp');
      expect(conn.nominated?.localCandidate.tcptype).toBe('passive');
    }
    for (let round = 0; round < 5; round++) for (const p of pairs) p.clientChannel.send(`pair ${p.index} msg ${round}`);
    await waitFor(() => pairs.every((p) => p.clientMessages.length === 5), 10_000, 'echoes');
    for (const p of pairs) expect(p.serverMessages).toEqual([0, 1, 2, 3, 4].map((r) => `pair ${p.index} msg ${r}`));

    for (let seq = 0; seq < 50; seq++) {
      for (const p of pairs) p.track.writeRtp(rtpPacket(p.index, seq));
      await sleep(5);
    }
    await waitFor(() => pairs.every((p) => p.rtpReceived.length >= 50), 10_000, 'rtp on all servers');
    for (const p of pairs) expect(new Set(p.rtpReceived)).toEqual(new Set([p.index]));

    // One listening TCP socket on the server side: every listening socket that appeared is the mux's or a client's.
    const listening = processSockets().filter((s) => s.proto === 'tcp' && s.state === 0x0a && !before.has(s.inode));
    const clientListening = pairs.flatMap((p) =>
      connOf(p.client)
        .protocols.filter((x) => x.type === 'tcp' && x.localCandidate?.tcptype === 'passive')
        .map((x) => (x as unknown as { listeningPort: number }).listeningPort),
    );
    const serverListening = listening.filter((s) => !clientListening.includes(s.localPort));
    console.log(`[tcp-mux] listening TCP sockets: ${listening.length} (clients ${clientListening.length}); server side: ${serverListening.map((s) => s.localPort).join(',')}; stats ${JSON.stringify(tcp.stats)}`);
    expect(serverListening.map((s) => s.localPort)).toEqual([tcp.port]);
    expect(processSockets().filter((s) => s.proto === 'udp' && !before.has(s.inode)).length).toBe(
      pairs.reduce((n, p) => n + connOf(p.client).protocols.filter((x) => x.type === 'stun').length, 0),
    );
  });

  it('serves UDP and TCP candidates together; a TCP-only client picks TCP, a UDP client UDP', async () => {
    const udp = await UdpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    const tcp = await TcpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    cleanup.push(() => udp.close(), () => tcp.close());
    const pairs: Pair[] = [];
    for (const tcpOnly of [true, false]) {
      const server = serverPc();
      attachMuxes(server, { udp, tcp, advertise: ['127.0.0.1'] });
      const client = tcpOnly ? tcpOnlyClient() : clientPc();
      cleanup.push(() => client.close(), () => server.close());
      pairs.push(await connectPair(pairs.length, server, client));
    }
    const lines = [...new Set(pairs[0]!.server.localDescription!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))];
    expect(lines).toHaveLength(2);
    await waitFor(() => pairs.every((p) => p.clientChannel.readyState === 'open' && p.serverChannel?.readyState === 'open'), 20_000, 'channels open');
    expect(connOf(pairs[0]!.server).nominated?.protocol.type).toBe('tcp');
    expect(connOf(pairs[1]!.server).nominated?.protocol.type).toBe('stun');
    for (const p of pairs) p.clientChannel.send(`hello ${p.index}`);
    await waitFor(() => pairs.every((p) => p.serverMessages.length === 1), 10_000, 'messages');
    expect(pairs.map((p) => p.serverMessages[0])).toEqual(['hello 0', 'hello 1']);
  });

  it('closes a connection that sends an oversized frame after identification; the peer stays connected', async () => {
    const tcp = await TcpMux.create({ port: 0, bindAddress: '127.0.0.1', maxFrameBytes: 4096 });
    cleanup.push(() => tcp.close());
    const server = serverPc();
    attachMuxes(server, { tcp, advertise: ['127.0.0.1'] });
    const client = tcpOnlyClient();
    cleanup.push(() => client.close(), () => server.close());
    const p = await connectPair(0, server, client);
    await waitFor(() => p.clientChannel.readyState === 'open', 20_000, 'open');
    const conn = connOf(server);

    // A rogue connection that knows the ufrag and password: identified, then sends a frame beyond maxFrameBytes.
    const req = new Message(methods.BINDING, classes.REQUEST);
    req.setAttribute('USERNAME', `${conn.localUsername}:evil`).setAttribute('PRIORITY', 1).setAttribute('ICE-CONTROLLING', 1n);
    req.addMessageIntegrity(Buffer.from(conn.localPassword, 'utf8'));
    req.addFingerprint();
    const frame = Buffer.concat([Buffer.from([req.bytes.length >> 8, req.bytes.length & 0xff]), req.bytes]);
    const rogue = connect({ host: '127.0.0.1', port: tcp.port });
    rogue.on('error', () => undefined);
    let responses = 0;
    rogue.on('data', () => responses++);
    const closed = new Promise<void>((r) => rogue.once('close', () => r()));
    await new Promise<void>((r) => rogue.once('connect', () => r()));
    rogue.write(frame);
    await waitFor(() => responses > 0, 5000, 'binding response on the rogue connection');
    const big = Buffer.alloc(2 + 8000);
    big.writeUInt16BE(8000, 0);
    rogue.write(big);
    await closed;
    expect(tcp.stats.identified).toBeGreaterThanOrEqual(2);
    // The real client is unaffected.
    p.clientChannel.send('still here');
    await waitFor(() => p.serverMessages.includes('still here'), 5000, 'message after rogue');
    expect(server.connectionState).toBe('connected');
  });
});
