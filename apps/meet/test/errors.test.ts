import { describe, expect, it } from 'vitest';
import { classifyError } from '../src/lib/errors';
import { TokenFetchError, tokenUrl } from '../src/lib/token';

class ConnectionError extends Error {
  constructor(message: string, readonly status?: number, readonly leave?: unknown) {
    super(message);
    this.name = 'ConnectionError';
  }
}

describe('classifyError', () => {
  it('token refusals', () => {
    expect(classifyError(new ConnectionError('invalid token (HTTP 401)', 401)).reason).toBe('token');
    expect(classifyError(new ConnectionError('no permission (HTTP 403)', 403)).reason).toBe('token');
    expect(classifyError(new TokenFetchError('token endpoint: nope (HTTP 401)', 401)).reason).toBe('token');
  });
  it('full rooms', () => {
    expect(classifyError(new ConnectionError('could not establish signal connection: room is full (HTTP 503)', 503)).reason).toBe('full');
    expect(classifyError(new ConnectionError('refused', 503)).reason).toBe('full');
  });
  it('unreachable servers', () => {
    expect(classifyError(new ConnectionError('could not establish signal connection: server unreachable (1006)')).reason).toBe('unreachable');
    expect(classifyError(new ConnectionError('could not establish publisher connection within 15000 ms')).reason).toBe('unreachable');
    expect(classifyError(new TokenFetchError('could not reach the token endpoint', 0)).reason).toBe('unreachable');
    expect(classifyError(new TokenFetchError('bad gateway', 502)).reason).toBe('unreachable');
    expect(classifyError(new TypeError('Failed to fetch')).reason).toBe('unreachable');
  });
  it('everything else', () => {
    expect(classifyError(new ConnectionError('requested room does not exist (HTTP 404)', 404))).toMatchObject({ reason: 'other', title: 'Room not found' });
    expect(classifyError(new ConnectionError('connection refused by the server (leave, reason 7)', undefined, { reason: 7 })).reason).toBe('other');
    expect(classifyError(new TokenFetchError('missing "room" (HTTP 400)', 400)).reason).toBe('other');
    expect(classifyError(new Error('boom')).reason).toBe('other');
    expect(classifyError(undefined).reason).toBe('other');
  });
});

describe('tokenUrl', () => {
  it('is relative to the page, so it works at / and under /meet/', () => {
    expect(tokenUrl('http://localhost:5173/?room=x', 'r', 'id', 'Ann B')).toBe('http://localhost:5173/api/token?room=r&identity=id&name=Ann+B');
    expect(tokenUrl('http://kite:7880/meet/', 'r', 'id', 'n')).toBe('http://kite:7880/meet/api/token?room=r&identity=id&name=n');
    expect(tokenUrl('http://kite:7880/meet/index.html#x', 'r', 'id', 'n')).toBe('http://kite:7880/meet/api/token?room=r&identity=id&name=n');
  });
});
