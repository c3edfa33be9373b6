// Access tokens: HS256 JWTs whose issuer is the API key and whose subject is the participant identity.
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { claimsToJwtPayload, type ClaimGrants, type InferenceGrant, type ObservabilityGrant, type SIPGrant, type VideoGrant } from './grants.js';

export interface AccessTokenOptions {
  /** Seconds, or a duration string such as '6h' or '10m'. Default 6 hours. */
  ttl?: number | string;
  name?: string;
  identity?: string;
  metadata?: string;
  attributes?: Record<string, string>;
}

const DEFAULT_TTL = '6h';
const encoder = new TextEncoder();

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

export class AccessToken {
  private readonly apiKey: string;
  private readonly apiSecret: string;
  private grants: ClaimGrants = {};
  identity?: string;
  ttl: number | string;

  /** Key and secret default to LIVEKIT_API_KEY / LIVEKIT_API_SECRET. */
  constructor(apiKey?: string, apiSecret?: string, options: AccessTokenOptions = {}) {
    const key = apiKey ?? env('LIVEKIT_API_KEY');
    const secret = apiSecret ?? env('LIVEKIT_API_SECRET');
    if (!key || !secret) throw new Error('api-key and api-secret must be set');
    this.apiKey = key;
    this.apiSecret = secret;
    this.identity = options.identity;
    this.ttl = options.ttl ?? DEFAULT_TTL;
    if (options.name !== undefined) this.grants.name = options.name;
    if (options.metadata !== undefined) this.grants.metadata = options.metadata;
    if (options.attributes !== undefined) this.grants.attributes = options.attributes;
  }

  addGrant(grant: VideoGrant): void {
    this.grants.video = { ...(this.grants.video ?? {}), ...grant };
  }
  addSIPGrant(grant: SIPGrant): void {
    this.grants.sip = { ...(this.grants.sip ?? {}), ...grant };
  }
  addInferenceGrant(grant: InferenceGrant): void {
    this.grants.inference = { ...(this.grants.inference ?? {}), ...grant };
  }
  addObservabilityGrant(grant: ObservabilityGrant): void {
    this.grants.observability = { ...(this.grants.observability ?? {}), ...grant };
  }

  get name() {
    return this.grants.name;
  }
  set name(name: string | undefined) {
    this.grants.name = name;
  }
  get metadata() {
    return this.grants.metadata;
  }
  set metadata(md: string | undefined) {
    this.grants.metadata = md;
  }
  get attributes() {
    return this.grants.attributes;
  }
  set attributes(attrs: Record<string, string> | undefined) {
    this.grants.attributes = attrs;
  }
  get kind() {
    return this.grants.kind;
  }
  set kind(kind: string | undefined) {
    this.grants.kind = kind;
  }
  get sha256() {
    return this.grants.sha256;
  }
  set sha256(sha: string | undefined) {
    this.grants.sha256 = sha;
  }
  get roomPreset() {
    return this.grants.roomPreset;
  }
  set roomPreset(preset: string | undefined) {
    this.grants.roomPreset = preset;
  }

  async toJwt(): Promise<string> {
    const payload = claimsToJwtPayload(this.grants);
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(this.apiKey)
      .setExpirationTime(typeof this.ttl === 'number' ? Math.floor(Date.now() / 1000) + this.ttl : this.ttl)
      .setNotBefore(Math.floor(Date.now() / 1000));
    if (this.identity) {
      // LiveKit's Go AccessToken puts the identity in both sub and jti.
      jwt.setSubject(this.identity).setJti(this.identity);
    } else if (this.grants.video?.roomJoin) {
      throw new Error('identity is required for join but not set');
    }
    return jwt.sign(encoder.encode(this.apiSecret));
  }
}

/** Why a token was refused: the message is safe to show (it never contains the token or a secret). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly reason: 'malformed' | 'unknown_key' | 'invalid',
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface VerifyOptions {
  /** Allowed clock skew for exp/nbf: seconds or a duration string. */
  clockTolerance?: number | string;
  /** Largest token accepted, in characters. Default 8 KiB. */
  maxLength?: number;
}

/** Reads the `iss` claim without verifying anything, to find which secret to verify with. */
export function peekIssuer(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const json = new TextDecoder().decode(base64UrlToBytes(parts[1]!));
    const iss = (JSON.parse(json) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function base64UrlToBytes(s: string): Uint8Array {
  const std = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Verifies a token against the secret of its issuer: HS256 only (so `alg: none` and asymmetric algorithms are refused),
 * `exp` required, issuer must be a known key. Throws TokenError.
 */
export async function verifyToken(
  token: string,
  getSecret: (apiKey: string) => string | undefined,
  options: VerifyOptions = {},
): Promise<ClaimGrants> {
  if (typeof token !== 'string' || token.length === 0) throw new TokenError('empty token', 'malformed');
  if (token.length > (options.maxLength ?? 8192)) throw new TokenError('token too large', 'malformed');
  const apiKey = peekIssuer(token);
  if (!apiKey) throw new TokenError('malformed token', 'malformed');
  const secret = getSecret(apiKey);
  if (!secret) throw new TokenError('invalid API key', 'unknown_key');
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), {
      algorithms: ['HS256'],
      issuer: apiKey,
      clockTolerance: options.clockTolerance ?? 0,
      requiredClaims: ['exp'],
    });
    return payload as ClaimGrants;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token is expired', 'invalid');
    if (err instanceof joseErrors.JWTClaimValidationFailed) throw new TokenError(`claim ${err.claim} invalid: ${err.reason}`, 'invalid');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('signature is invalid', 'invalid');
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new TokenError('signing algorithm is not allowed', 'invalid');
    throw new TokenError((err as Error).message || 'invalid token', 'invalid');
  }
}

/** Verifies tokens issued with one API key (as livekit-server-sdk's TokenVerifier). */
export class TokenVerifier {
  constructor(
    private readonly apiKey: string,
    private readonly apiSecret: string,
  ) {}

  /** Default clock tolerance: 10 seconds, as livekit-server-sdk. */
  verify(token: string, clockTolerance: string | number = 10): Promise<ClaimGrants> {
    return verifyToken(token, (key) => (key === this.apiKey ? this.apiSecret : undefined), { clockTolerance });
  }
}
