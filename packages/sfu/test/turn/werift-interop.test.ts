// Interop: werift's TURN client (a dependency of @kite/sfu already) allocates and relays through our server.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { createTurnClient } from 'werift';
import type { TurnServer } from '../../src/turn/index.js';
import { TestPeer } from './client.js';
import { selfSignedCert, serverEndpoint, startServer, waitFor } from './helpers.js';

describe.each(['udp', 'tcp', 'tls'] as const)('werift TURN client over %s', (transport) => {
  let server: TurnServer;
  beforeAll(async () => {
    server = await startServer({}, transport === 'tls');
  });
  afterAll(async () => {
    await server.close();
  });

  it('allocates, binds a channel and relays both ways', async () => {
    const ep = serverEndpoint(server, transport);
    const turn = await createTurnClient(
      { address: [ep.address, ep.port], username: 'alice', password: 'alice-secret' },
      { transport, tlsOptions: { ca: selfSignedCert().cert, servername: 'localhost' } },
    );
    const peer = await TestPeer.create();
    try {
      expect(turn.relayedAddress[0]).toBe('127.0.0.1');
      expect(server.allocationCount).toBe(1);
      const received: string[] = [];
      turn.onData.subscribe((data: Buffer) => void received.push(data.toString()));
      await turn.sendData(Buffer.from('from werift'), [peer.address.address, peer.address.port]);
      const got = await peer.next();
      expect(got?.data.toString()).toBe('from werift');
      const relay = { address: turn.relayedAddress[0], port: turn.relayedAddress[1] };
      expect(got?.from).toEqual(relay);
      peer.send(Buffer.from('to werift'), relay);
      await waitFor(() => received.includes('to werift'));
      expect(server.allocations()[0].channels).toBe(1); // werift used ChannelBind + ChannelData
    } finally {
      await turn.close();
      await peer.close();
    }
  });
});
