// One peer connection and its offer/answer bookkeeping. The publisher offers (ids count up; the server answers
// with the same id), the subscriber answers the server's offers. Candidates that arrive before the remote
// description wait for it, and so do candidates of a restarted ICE (a new ufrag) until the description with that
// ufrag is applied — the server trickles them while that offer or answer is still on its way. Local candidates follow
// the description they belong to. After a resume an offer the old socket swallowed is sent again
// (resendPendingOffer), so a negotiation never waits for an answer that cannot come.
import { SignalTarget } from '@kite/protocol';
import type { IceCandidateInit, PeerConfiguration, PeerConnection, SessionDescription } from '../platform/types.js';
import { platform } from '../platform/types.js';

/** Remote candidates held for a description that has not arrived (beyond this the oldest go). */
const MAX_PENDING_CANDIDATES = 64;

export class PCTransport {
  readonly pc: PeerConnection;
  private pendingCandidates: IceCandidateInit[] = [];
  private offerId = 0;
  private answerWaiters = new Map<number, (sdp: string) => void>();
  private negotiation: Promise<void> | undefined;
  private renegotiate = false;
  private restartIceNext = false;
  private chain: Promise<void> = Promise.resolve();
  /**
   * Local candidates wait here while a description is being applied and sent: werift gathers during
   * setLocalDescription, and candidates of a restarted ICE (new ufrag) that reach the server before the offer or
   * answer carrying that ufrag are refused.
   */
  private heldCandidates: IceCandidateInit[] | undefined;
  closed = false;

  constructor(
    readonly target: SignalTarget,
    config: PeerConfiguration,
    /** Sends the offer (publisher) or answer (subscriber) to the server. */
    private readonly sendDescription: (desc: SessionDescription, id: number) => void,
    /** Sends a local ICE candidate to the server (trickle). */
    private readonly sendCandidate: (candidate: IceCandidateInit) => void = () => undefined,
  ) {
    this.pc = platform().createPeerConnection(config);
    this.pc.onicecandidate = (c) => {
      if (this.closed) return;
      if (this.heldCandidates) this.heldCandidates.push(c);
      else this.sendCandidate(c);
    };
  }

  /** Applies a local description and sends it; the candidates it produced follow it. */
  private async applyAndSend(desc: SessionDescription, id: number): Promise<void> {
    this.heldCandidates ??= [];
    try {
      await this.pc.setLocalDescription(desc);
      this.sendDescription({ type: desc.type, sdp: this.pc.localDescription?.sdp ?? desc.sdp }, id);
    } finally {
      const held = this.heldCandidates ?? [];
      this.heldCandidates = undefined;
      if (!this.closed) for (const c of held) this.sendCandidate(c);
    }
  }

  get connectionState() {
    return this.pc.connectionState;
  }

  get isPublisher(): boolean {
    return this.target === SignalTarget.PUBLISHER;
  }

  async addIceCandidate(c: IceCandidateInit): Promise<void> {
    if (!this.matchesRemote(c)) {
      this.pendingCandidates.push(c);
      // Candidates of an ICE generation that never comes (superseded) must not pile up.
      if (this.pendingCandidates.length > MAX_PENDING_CANDIDATES) this.pendingCandidates.shift();
      return;
    }
    await this.pc.addIceCandidate(c);
  }

  /** Whether a candidate belongs to the remote description in place (no ufrag: it cannot tell, so yes). */
  private matchesRemote(c: IceCandidateInit): boolean {
    const remote = this.pc.remoteDescription;
    if (!remote) return false;
    return !c.usernameFragment || remote.sdp.includes(`a=ice-ufrag:${c.usernameFragment}`);
  }

  /** After a remote description: the held candidates it covers are applied; others keep waiting. */
  private async flushCandidates(): Promise<void> {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) {
      if (this.matchesRemote(c)) await this.pc.addIceCandidate(c).catch(() => undefined);
      else this.pendingCandidates.push(c);
    }
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
        const answered = new Promise<string>((resolve) => this.answerWaiters.set(id, resolve));
        try {
          await this.applyAndSend(offer, id);
        } catch (err) {
          this.answerWaiters.delete(id);
          throw err;
        }
        const sdp = await answered;
        if (this.closed) return;
        await this.pc.setRemoteDescription({ type: 'answer', sdp });
        await this.flushCandidates();
      } while (this.renegotiate && !this.closed);
    };
    this.negotiation = run().finally(() => (this.negotiation = undefined));
    return this.negotiation;
  }

  /**
   * Publisher, after a resume: the offer still waiting for its answer may have gone down with the old socket (or
   * never left); it goes out again with the same id. The server answers it (a repeated offer changes nothing), and
   * any negotiation queued behind it (the ICE restart) follows.
   */
  resendPendingOffer(): void {
    if (this.closed || this.answerWaiters.size === 0) return;
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp || this.pc.localDescription?.type !== 'offer') return;
    this.sendDescription({ type: 'offer', sdp }, Math.max(...this.answerWaiters.keys()));
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
    // One offer that fails (the caller recovers) must not fail every later one: the chain goes on after it.
    const run = this.chain.catch(() => undefined).then(async () => {
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.applyAndSend(answer, id);
    });
    this.chain = run;
    return run;
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
