// Four ICE-lite server peers on ONE UdpMux socket, four stock werift clients: data channels and media on all four,
// and the process holds exactly one server-side UDP socket.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { Message, classes, methods, parseMessage, type RTCPeerConnection } from 'werift';
import { UdpMux, attachMuxes } from '../../src/transport/mux/index.js';
import { clientPc, connectPair, processSockets, rtpPacket, serverPc, sleep, waitFor, type Pair } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

interface ConnInternal {
  localUsername: string;
  protocols: { type: string; transport: { socket?: unknown } }[];
  nominated?: { protocol: { type: string; transport: { socket?: unknown } }; remoteAddr: [string, number] };
}
const connOf = (pc: RTCPeerConnection) => (pc.iceTransports[0] as unknown as { connection: ConnInternal }).connection;

describe('UdpMux with werift peers', () => {
  it('serves 4 server peers from one UDP socket: data channels and media on all 4', async () => {
    const N = 4;
    const before = new Set(processSockets().map((s) => s.inode));
    const mux = await UdpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());

    const pairs: Pair[] = [];
    for (let i = 0; i < N; i++) {
      const server = serverPc();
      attachMuxes(server, { udp: mux, advertise: ['127.0.0.1'] });
      const client = clientPc();
      cleanup.push(() => client.close(), () => server.close());
      pairs.push(await connectPair(i, server, client));
    }
    // Candidates the servers advertised: one UDP host candidate each, on the mux's port.
    for (const p of pairs) {
      const lines = [...new Set(p.server.localDescription!.sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:")))];
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(` udp `);
      expect(lines[0]).toContain(` 127.0.0.1 ${mux.port} typ host`);
    }
    await waitFor(() => pairs.every((p) => p.server.connectionState === 'connected' && p.client.connectionState === 'connected'), 15_000, 'all connected');
    await waitFor(() => pairs.every((p) => p.clientChannel.readyState === 'open' && p.serverChannel?.readyState === 'open'), 10_000, 'channels open');
    expect(mux.sessionCount).toBe(N);

    // Data channels: each client sends its own messages; each server sees only its client's, and echoes.
    for (let round = 0; round < 5; round++) for (const p of pairs) p.clientChannel.send(`pair ${p.index} msg ${round}`);
    await waitFor(() => pairs.every((p) => p.clientMessages.length === 5), 10_000, 'echoes');
    for (const p of pairs) {
      expect(p.serverMessages).toEqual([0, 1, 2, 3, 4].map((r) => `pair ${p.index} msg ${r}`));
      expect(p.clientMessages).toEqual([0, 1, 2, 3, 4].map((r) => `echo pair ${p.index} msg ${r}`));
    }

    // Media: each client writes RTP tagged with its index; each server receives only its own.
    for (let seq = 0; seq < 50; seq++) {
      for (const p of pairs) p.track.writeRtp(rtpPacket(p.index, seq));
      await sleep(5);
    }
    await waitFor(() => pairs.every((p) => p.rtpReceived.length >= 45), 10_000, 'rtp on all servers');
    for (const p of pairs) expect(new Set(p.rtpReceived)).toEqual(new Set([p.index]));

    // Every server connection's single protocol sits on the shared socket, and is the nominated one.
    for (const p of pairs) {
      const conn = connOf(p.server);
      expect(conn.protocols).toHaveLength(1);
      expect(conn.protocols[0]!.type).toBe('stun');
      expect(conn.protocols[0]!.transport.socket).toBe(mux.socket);
      expect(conn.nominated?.protocol.transport.socket).toBe(mux.socket);
      expect(conn.localUsername).toMatch(/^[0-9a-f]{16}$/);
    }

    // Socket accounting: the UDP sockets that appeared are the mux's and the clients' own — nothing else.
    const clientPorts = new Set<number>();
    for (const p of pairs) {
      for (const proto of connOf(p.client).protocols) {
        const socket = proto.transport.socket as { address(): { port: number } } | undefined;
        if (proto.type === 'stun' && socket) clientPorts.add(socket.address().port);
      }
    }
    const newUdp = processSockets().filter((s) => s.proto === 'udp' && !before.has(s.inode));
    const serverSide = newUdp.filter((s) => !clientPorts.has(s.localPort));
    console.log(`[udp-mux] new UDP sockets: ${newUdp.length} (clients ${clientPorts.size}, server side ${serverSide.length}: port ${serverSide.map((s) => s.localPort).join(',')})`);
    expect(serverSide).toHaveLength(1);
    expect(serverSide[0]!.localPort).toBe(mux.port);
    expect(newUdp).toHaveLength(clientPorts.size + 1);
    console.log(`[udp-mux] stats ${JSON.stringify(mux.stats)}`);

    // Closing a server unregisters its session; the others keep working.
    await pairs[0]!.server.close();
    expect(mux.sessionCount).toBe(N - 1);
    const p1 = pairs[1]!;
    p1.clientChannel.send('after close');
    await waitFor(() => p1.serverMessages.includes('after close'), 5000, 'message after another server closed');
  });

  it('advertises one host candidate per address, in order of preference', async () => {
    const mux = await UdpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const server = serverPc();
    cleanup.push(() => server.close());
    attachMuxes(server, { udp: mux, advertise: ['127.0.0.1', '192.0.2.10', '2001:db8::1'] });
    server.createDataChannel('x');
    await server.setLocalDescription(await server.createOffer());
    const lines = [...new Set(server.localDescription!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))];
    // udp4 socket: the IPv6 address is not advertised.
    expect(lines.map((l) => l.split(' ').slice(4, 6).join(' '))).toEqual([`127.0.0.1 ${mux.port}`, `192.0.2.10 ${mux.port}`]);
    const prio = lines.map((l) => Number(l.split(' ')[3]));
    expect(prio[0]).toBeGreaterThan(prio[1]!);
    expect(connOf(server).protocols).toHaveLength(1);
  });

  it('drops mDNS remote candidates; after an ICE restart the new ufrag is routed to the same connection', async () => {
    const mux = await UdpMux.create({ port: 0, bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const server = serverPc();
    attachMuxes(server, { udp: mux, advertise: ['127.0.0.1'] });
    const client = clientPc();
    cleanup.push(() => client.close(), () => server.close());
    const p = await connectPair(0, server, client);
    await waitFor(() => p.clientChannel.readyState === 'open', 15_000, 'open');
    const ufrag1 = connOf(server).localUsername;
    // An mDNS candidate is ignored without any lookup (werift would open a multicast socket and wait 10 s).
    await server.addIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 abcdef01-2345.local 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    expect((connOf(server) as unknown as { lookup?: unknown }).lookup).toBeUndefined();

    // ICE restart offered by the client: the server answers with a new unique ufrag, registered on the mux.
    // (werift 0.25.2 itself does not re-run connectivity checks after a restart — with or without the mux — so the new
    // ufrag is exercised with a Binding request of our own.)
    await client.setLocalDescription(await client.createOffer({ iceRestart: true }));
    await server.setRemoteDescription(client.localDescription!);
    await server.setLocalDescription(await server.createAnswer());
    const conn = connOf(server) as ConnInternal & { localPassword: string };
    const ufrag2 = conn.localUsername;
    expect(ufrag2).not.toBe(ufrag1);
    expect(ufrag2).toMatch(/^[0-9a-f]{16}$/);
    expect(server.localDescription!.sdp).toContain(`a=ice-ufrag:${ufrag2}`);
    expect(mux.hasUfrag(ufrag2)).toBe(true);
    expect(mux.hasUfrag(ufrag1)).toBe(true); // kept for in-flight checks
    expect(server.localDescription!.sdp).toContain(` 127.0.0.1 ${mux.port} typ host generation 1 ufrag ${ufrag2}`);

    const sock = createSocket('udp4');
    cleanup.push(() => new Promise<void>((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const responses: Buffer[] = [];
    sock.on('message', (m) => responses.push(m));
    const req = new Message(methods.BINDING, classes.REQUEST);
    req.setAttribute('USERNAME', `${ufrag2}:zzzz`).setAttribute('PRIORITY', 1).setAttribute('ICE-CONTROLLING', 1n);
    req.addMessageIntegrity(Buffer.from(conn.localPassword, 'utf8'));
    req.addFingerprint();
    sock.send(req.bytes, mux.port, '127.0.0.1');
    await waitFor(() => responses.length > 0, 5000, 'binding response');
    const res = parseMessage(responses[0]!, Buffer.from(conn.localPassword, 'utf8'))!;
    expect(res.messageClass).toBe(classes.RESPONSE);
    expect(res.getAttributeValue('XOR-MAPPED-ADDRESS')).toEqual(['127.0.0.1', sock.address().port]);
  });
});
