/**
 * The NIP-98 tokens already spent on state-changing requests, each kept only while its created_at
 * window could still admit it. Keyed by signature, not event id: two honest requests with the same
 * URL, method and body in the same second have the same id, but a BIP-340 signer draws fresh
 * randomness for each signature, and nobody without the key can produce a second valid signature
 * for an id (BIP-340 signatures are not malleable; nip98.ts only gets here after the check).
 *
 * Full means refusing new tokens, never forgetting live ones: forgetting would reopen replays,
 * while refusing costs a retry a minute later. The cap is far above honest traffic (it is every
 * state-changing REST request of the last two minutes) and bounds memory to about 18 MiB.
 */
export const MAX_LIVE_TOKENS = 100_000;

export type Spend = 'fresh' | 'replay' | 'full';

export class SpentTokens {
  /** signature -> last second at which the token's window admits it */
  private readonly live = new Map<string, number>();
  private sweptAt = 0;

  constructor(private readonly cap = MAX_LIVE_TOKENS) {}

  /** Records the token as used; synchronous, so two requests racing with one token cannot both pass. */
  spend(sig: string, usableUntilSec: number, nowSec: number): Spend {
    const until = this.live.get(sig);
    if (until !== undefined && until >= nowSec) return 'replay';
    // One pass a second at most: expiry order is not insertion order (created_at may lie ±60 s).
    if (nowSec !== this.sweptAt) {
      this.sweptAt = nowSec;
      for (const [k, t] of this.live) if (t < nowSec) this.live.delete(k);
    }
    if (this.live.size >= this.cap) return 'full';
    this.live.set(sig, usableUntilSec);
    return 'fresh';
  }

  get size(): number {
    return this.live.size;
  }
}
