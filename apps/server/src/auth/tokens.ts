// Token checks shared by every entry point (/rtc, /rtc/validate, /twirp, TURN credentials).
import { verifyToken, TokenError, type ClaimGrants } from '@kite/server-sdk';

/** LiveKit's verifier allows a minute of clock skew for exp/nbf. */
const TOKEN_LEEWAY_SECONDS = 60;

export type { ClaimGrants };
export { TokenError };

export class KeyProvider {
  constructor(private readonly keys: Record<string, string>) {}
  secret(apiKey: string): string | undefined {
    return Object.prototype.hasOwnProperty.call(this.keys, apiKey) ? this.keys[apiKey] : undefined;
  }
  /** Any configured key pair (used to sign what the server itself issues, e.g. refresh tokens). */
  first(): { key: string; secret: string } {
    const [key, secret] = Object.entries(this.keys)[0]!;
    return { key, secret };
  }
}

export interface AuthResult {
  grants?: ClaimGrants;
  apiKey?: string;
}

/** Where a request's token is: `Authorization: Bearer …` first, then `access_token` in the query. */
export function extractToken(authorization: string | undefined, queryToken: string | undefined): { token?: string; error?: string } {
  if (authorization !== undefined && authorization !== '') {
    if (!authorization.startsWith('Bearer ')) return { error: 'invalid authorization header. Must start with Bearer ' };
    return { token: authorization.slice('Bearer '.length).trim() };
  }
  return { token: queryToken || undefined };
}

/** Verifies a token; the error message is safe to return to the caller and to log. */
export async function authenticate(keys: KeyProvider, token: string): Promise<{ grants: ClaimGrants; apiKey: string }> {
  const grants = await verifyToken(token, (k) => keys.secret(k), { clockTolerance: TOKEN_LEEWAY_SECONDS });
  return { grants, apiKey: grants.iss! };
}

/** The message LiveKit answers for a refused token. */
export function tokenErrorMessage(err: unknown): string {
  if (err instanceof TokenError) {
    return err.reason === 'unknown_key' ? 'invalid API key' : `invalid authorization token: ${err.message}`;
  }
  return 'invalid authorization token';
}
