// One peer connection and its offer/answer bookkeeping. The publisher offers (ids count up; the server answers
// with the same id), the subscriber answers the server's offers. Candidates that arrive before the remote
// description wait for it.
import { SignalTarget } from '@kite/protocol';
import type { IceCandidateInit, PeerConfiguration, PeerConnection, SessionDescription } from '../platform/types.js';
import { platform } from '../platform/types.js';

export class PCTransport {
  readonly pc: PeerConnection;
  private pendingCandidates: IceCandidateInit[] = [];
  private offerId = 0;
  private answerWaiters = new Map<number, (sdp: string) => void>();
  private negotiation: Promise<void> | undefined;
  private renegotiate = false;
  private restartIceNext = false;
  private chain: Promise<void> = Promise.resolve();
  closed = false;

  constructor(
    readonly target: SignalTarget,
    config: PeerConfiguration,
    /** Sends the offer (publisher) or answer (subscriber) to the server. */
    private readonly sendDescription: (desc: SessionDescription, id: number) => void,
  ) {
    this.pc = platform().createPeerConnection(config);
  }

  get connectionState() {
    return this.pc.connectionState;
  }

  get isPublisher(): boolean {
    return this.target === SignalTarget.PUBLISHER;
  }

  async addIceCandidate(c: IceCandidateInit): Promise<void> {
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(c);
      return;
    }
    await this.pc.addIceCandidate(c);
  }

  private async flushCandidates(): Promise<void> {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) await this.pc.addIceCandidate(c).catch(() => undefined);
  }

  /** Publisher: one offer/answer round; calls while one is in flight cause exactly one more round after it. */
  negotiate(opts: { iceRestart?: boolean } = {}): Promise<void> {
    if (opts.iceRestart) this.restartIceNext = true;
    if (this.negotiation) {
      this.renegotiate = true;
      return this.negotiation;
    }
    const run = async () => {
      do {
        this.renegotiate = false;
        const iceRestart = this.restartIceNext;
        this.restartIceNext = false;
        const id = ++this.offerId;
        const offer = await this.pc.createOffer({ iceRestart });
        await this.pc.setLocalDescription(offer);
        const answered = new Promise<string>((resolve) => this.answerWaiters.set(id, resolve));
        this.sendDescription({ type: 'offer', sdp: this.pc.localDescription?.sdp ?? offer.sdp }, id);
        const sdp = await answered;
        if (this.closed) return;
        await this.pc.setRemoteDescription({ type: 'answer', sdp });
        await this.flushCandidates();
      } while (this.renegotiate && !this.closed);
    };
    this.negotiation = run().finally(() => (this.negotiation = undefined));
    return this.negotiation;
  }

  /** Publisher: the server's answer to offer `id` (answers to older offers are dropped). */
  handleAnswer(sdp: string, id: number): void {
    const waiter = this.answerWaiters.get(id);
    if (id !== 0 && !waiter) return;
    for (const [k, w] of this.answerWaiters) {
      if (k <= id || id === 0) {
        this.answerWaiters.delete(k);
        if (k === id || id === 0) w(sdp);
      }
    }
  }

  /** Subscriber: answers the server's offer with the same id. Offers are handled one at a time, in order. */
  handleOffer(sdp: string, id: number): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.sendDescription({ type: 'answer', sdp: this.pc.localDescription?.sdp ?? answer.sdp }, id);
    });
    return this.chain;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.answerWaiters.values()) w('');
    this.answerWaiters.clear();
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }
}
