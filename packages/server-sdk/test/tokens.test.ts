// Tokens minted by either SDK verify in the other; bad tokens are refused by both verifiers.
import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import * as official from 'livekit-server-sdk';
import { AccessToken, TokenVerifier, TrackSource, WebhookReceiver, signWebhook, verifyToken } from '@kite/server-sdk';

const KEY = 'APIkey123';
const SECRET = 'a-secret-that-is-at-least-32-characters';
const enc = new TextEncoder();

const verifiers = [
  { name: 'official TokenVerifier', verify: (t: string) => new official.TokenVerifier(KEY, SECRET).verify(t) },
  { name: 'Kite TokenVerifier', verify: (t: string) => new TokenVerifier(KEY, SECRET).verify(t) },
];

function b64url(o: object) {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}
const now = () => Math.floor(Date.now() / 1000);

async function craft(claims: Record<string, unknown>, secret = SECRET) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(enc.encode(secret));
}

describe('AccessToken interoperability', () => {
  it('a Kite token verifies with the official verifier, with LiveKit claims', async () => {
    const at = new AccessToken(KEY, SECRET, { identity: 'alice', name: 'Alice', metadata: 'm', attributes: { a: '1' }, ttl: 600 });
    at.addGrant({ roomJoin: true, room: 'r1', canPublish: true, canPublishSources: [TrackSource.CAMERA, 'microphone'], canUpdateOwnMetadata: true });
    const jwt = await at.toJwt();
    const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256' });
    const claims = await new official.TokenVerifier(KEY, SECRET).verify(jwt);
    expect(claims).toMatchObject({ iss: KEY, sub: 'alice', jti: 'alice', name: 'Alice', metadata: 'm', attributes: { a: '1' } });
    expect(claims.video).toMatchObject({ roomJoin: true, room: 'r1', canPublish: true, canPublishSources: ['camera', 'microphone'] });
    expect(claims.exp! - claims.nbf!).toBe(600);
  });

  it('an official token verifies with the Kite verifier', async () => {
    const at = new official.AccessToken(KEY, SECRET, { identity: 'bob', ttl: '1h' });
    at.addGrant({ roomAdmin: true, room: 'r2', canPublishSources: [2 /* MICROPHONE */] });
    const claims = await new TokenVerifier(KEY, SECRET).verify(await at.toJwt());
    expect(claims).toMatchObject({ iss: KEY, sub: 'bob', video: { roomAdmin: true, room: 'r2', canPublishSources: ['microphone'] } });
  });

  it('a join token needs an identity', async () => {
    const at = new AccessToken(KEY, SECRET);
    at.addGrant({ roomJoin: true, room: 'r' });
    await expect(at.toJwt()).rejects.toThrow(/identity is required/);
  });
});

describe.each(verifiers)('$name refuses bad tokens', ({ verify }) => {
  it('expired', async () => {
    await expect(verify(await craft({ iss: KEY, sub: 'a', exp: now() - 3600, nbf: now() - 7200 }))).rejects.toThrow();
  });
  it('not yet valid', async () => {
    await expect(verify(await craft({ iss: KEY, sub: 'a', exp: now() + 7200, nbf: now() + 3600 }))).rejects.toThrow();
  });
  it('signed with the wrong secret', async () => {
    await expect(verify(await craft({ iss: KEY, sub: 'a', exp: now() + 600 }, 'another-secret-another-secret-xx'))).rejects.toThrow();
  });
  it('issued for another key', async () => {
    await expect(verify(await craft({ iss: 'other', sub: 'a', exp: now() + 600 }))).rejects.toThrow();
  });
  it('alg: none', async () => {
    const t = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: KEY, sub: 'a', exp: now() + 600 })}.`;
    await expect(verify(t)).rejects.toThrow();
  });
  it('without exp', async () => {
    await expect(verify(await craft({ iss: KEY, sub: 'a' }))).rejects.toThrow();
  });
  it('garbage', async () => {
    await expect(verify('not.a.jwt')).rejects.toThrow();
    await expect(verify('')).rejects.toThrow();
  });
});

describe('verifyToken (the server-side check)', () => {
  const keys = (k: string) => (k === KEY ? SECRET : undefined);
  it('names why a token is refused', async () => {
    await expect(verifyToken(await craft({ iss: 'nokey', exp: now() + 60 }), keys)).rejects.toMatchObject({ reason: 'unknown_key' });
    await expect(verifyToken(await craft({ iss: KEY, exp: now() - 600 }), keys)).rejects.toMatchObject({ message: 'token is expired' });
    await expect(verifyToken('x'.repeat(10_000), keys)).rejects.toMatchObject({ message: 'token too large' });
  });
  it('allows the configured clock skew', async () => {
    const t = await craft({ iss: KEY, exp: now() - 30 });
    await expect(verifyToken(t, keys)).rejects.toThrow();
    await expect(verifyToken(t, keys, { clockTolerance: 60 })).resolves.toMatchObject({ iss: KEY });
  });
});

describe('webhook signatures', () => {
  const body = JSON.stringify({ event: 'room_started', room: { sid: 'RM_1', name: 'r' }, id: 'EV_1', createdAt: '1700000000' });
  it('Kite-signed webhooks pass the official and the Kite receiver', async () => {
    const auth = await signWebhook(body, KEY, SECRET);
    expect(auth.startsWith('Bearer')).toBe(false);
    const theirs = await new official.WebhookReceiver(KEY, SECRET).receive(body, auth);
    expect(theirs.event).toBe('room_started');
    const ours = await new WebhookReceiver(KEY, SECRET).receive(body, auth);
    expect(ours.room?.name).toBe('r');
    expect(ours.createdAt).toBe(1_700_000_000);
  });
  it('a tampered body is refused by both', async () => {
    const auth = await signWebhook(body, KEY, SECRET);
    const tampered = body.replace('"r"', '"s"');
    await expect(new official.WebhookReceiver(KEY, SECRET).receive(tampered, auth)).rejects.toThrow();
    await expect(new WebhookReceiver(KEY, SECRET).receive(tampered, auth)).rejects.toThrow(/sha256/);
  });
});
