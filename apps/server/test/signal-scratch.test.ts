import { it } from 'vitest';
import { SignalRequest, JoinRequest, ClientInfo_SDK } from '@kite/protocol';
import { randomBytes } from 'node:crypto';
it('x', () => {
  const tryDec = (name: string, b: Uint8Array) => { try { const r = SignalRequest.decode(b); console.log(name, 'OK', r.message, JSON.stringify(r).slice(0, 300)); } catch (e) { console.log(name, 'ERR', (e as Error).message); } };
  for (let i = 0; i < 5; i++) tryDec('rand', randomBytes(64));
  tryDec('f99', Uint8Array.from([0x9a, 0x06, 0x03, 0x08, 0x01, 0x10]));
  tryDec('f99b', Uint8Array.from([0x9a, 0x06, 0x02, 0x08, 0x01]));
  const jr = JoinRequest.encode({ clientInfo: { sdk: ClientInfo_SDK.JS, version: '2.23.0', protocol: 17 }, connectionSettings: { autoSubscribe: true }, metadata: 'x' });
  tryDec('join', jr);
  const jr2 = JoinRequest.encode({ connectionSettings: { autoSubscribe: true } });
  tryDec('join2', jr2);
  console.log(Buffer.from(jr).toString('hex'));
});
