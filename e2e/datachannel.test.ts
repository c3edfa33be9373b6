// Kite's data channels to a bare Chromium RTCPeerConnection (no LiveKit client in between), for defects that only a
// browser's SCTP/DTLS stack reveals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { SubscriberPeer } from '@kite/sfu';
import { launchChromium, newParticipantPage } from './harness/browser.js';
import { startStaticServer, type StaticServer } from './harness/static.js';

let web: StaticServer;
let browser: Browser;
beforeAll(async () => {
  [web, browser] = await Promise.all([startStaticServer(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await web?.close();
});

const LOOPBACK = { bindAddresses: ['127.0.0.1'], advertiseAddresses: ['127.0.0.1'], candidateAllowList: ['127.0.0.1'] };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Kite data channels to Chromium', () => {
  it('no early packet is lost: werift reused the DTLS Finished record number for an application record, which Chrome drops as a replay', async () => {
    const { page, context } = await newParticipantPage(browser, `${web.url}/lk.html`);
    let offer: { sdp: string; id: number } | undefined;
    const server = new SubscriberPeer({
      media: {},
      ice: LOOPBACK,
      sendOffer: (sdp, id) => (offer = { sdp, id }),
      dataChannels: [
        { label: '_reliable', ordered: true },
        { label: '_lossy', ordered: false, maxRetransmits: 0 },
      ],
    });
    server.negotiate();
    while (!offer) await pause(20);
    const answer = await page.evaluate(async (sdp) => {
      const pc = new RTCPeerConnection();
      (window as any).got = [];
      pc.ondatachannel = (e) => {
        const ch = e.channel;
        ch.onmessage = (m) => (window as any).got.push(`${ch.label}:${new TextDecoder().decode(m.data)}`);
      };
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      return pc.localDescription!.sdp;
    }, offer.sdp);
    await server.handleAnswer(answer, offer.id);
    const lossy = server.dataChannels.get('_lossy')!;
    const reliable = server.dataChannels.get('_reliable')!;
    while (lossy.readyState !== 'open' || reliable.readyState !== 'open') await pause(20);
    await pause(300);
    // Every message, lossy ones included, must arrive on a loopback link; the early records are the ones at risk.
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      reliable.send(Buffer.from(`r${i}`));
      lossy.send(Buffer.from(`l${i}`));
      sent.push(`_reliable:r${i}`, `_lossy:l${i}`);
      await pause(30);
    }
    await pause(800);
    const got: string[] = await page.evaluate(() => (window as any).got);
    expect([...got].sort()).toEqual([...sent].sort());
    await server.close();
    await context.close();
  });
});
