import { AccessToken } from './AccessToken.js';
import type { SIPGrant, VideoGrant } from './grants.js';

/** Mints the short-lived token each API call carries (10 minutes, as livekit-server-sdk). */
export class ServiceBase {
  constructor(
    private readonly apiKey?: string,
    private readonly secret?: string,
    private readonly ttl = '10m',
  ) {}

  async authHeader(grant: VideoGrant, sip?: SIPGrant): Promise<Record<string, string>> {
    const at = new AccessToken(this.apiKey, this.secret, { ttl: this.ttl });
    if (grant) at.addGrant(grant);
    if (sip) at.addSIPGrant(sip);
    return { Authorization: `Bearer ${await at.toJwt()}` };
  }
}
