// Webhooks as LiveKit sends them: body = proto3 JSON of WebhookEvent, Authorization = a bare JWT (no "Bearer ")
// signed with the webhook API key, carrying `sha256` = base64 SHA-256 of the exact body bytes.
import { WebhookEvent } from '@kite/protocol';
import { base64Encode } from '@kite/protocol';
import { AccessToken, TokenVerifier } from './AccessToken.js';

export const WEBHOOK_CONTENT_TYPE = 'application/webhook+json';
export type WebhookEventName =
  | 'room_started'
  | 'room_finished'
  | 'participant_joined'
  | 'participant_left'
  | 'participant_connection_aborted'
  | 'track_published'
  | 'track_unpublished'
  | 'egress_started'
  | 'egress_updated'
  | 'egress_ended'
  | 'ingress_started'
  | 'ingress_ended';

async function sha256Base64(body: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(body));
  return base64Encode(new Uint8Array(digest));
}

/** The Authorization header value for a webhook body (what Kite's server sends). */
export async function signWebhook(body: string, apiKey: string, apiSecret: string): Promise<string> {
  const at = new AccessToken(apiKey, apiSecret, { ttl: '5m' });
  at.sha256 = await sha256Base64(body);
  return at.toJwt();
}

export class WebhookReceiver {
  private readonly verifier: TokenVerifier;

  constructor(apiKey: string, apiSecret: string) {
    this.verifier = new TokenVerifier(apiKey, apiSecret);
  }

  /** Verifies the signature and body hash (unless skipAuth) and parses the event. */
  async receive(body: string, authHeader?: string, skipAuth = false, clockTolerance?: string | number): Promise<WebhookEvent> {
    if (!skipAuth) {
      if (!authHeader) throw new Error('authorization header is empty');
      const claims = await this.verifier.verify(authHeader, clockTolerance);
      if (claims.sha256 !== (await sha256Base64(body))) throw new Error('sha256 checksum of body does not match');
    }
    return WebhookEvent.fromJson(JSON.parse(body));
  }
}
