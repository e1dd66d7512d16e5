import type { Config } from '../config/types.js';
import { validateEvent } from '../protocol/event-validate.js';
import type { NostrEvent } from '../protocol/types.js';
import type { VerifyPool } from '../verify/pool.js';
import { namesOwnUrl } from '../protocol/relay-url.js';

const AUTH_WINDOW_SEC = 600;
/**
 * NIP-42 lets a connection hold several identities, but every pubkey is another entry each gate and
 * rate-limit key walks: a client must not grow that list without bound with throwaway keys.
 */
export const MAX_PUBKEYS_PER_CONNECTION = 16;
/** An AUTH event carries two tags; anything near the EVENT limit is not an AUTH. */
const MAX_AUTH_TAGS = 100;

export { namesThisRelay } from '../protocol/relay-url.js';

export type AuthFailure = 'malformed' | 'kind' | 'challenge' | 'relay' | 'created_at' | 'signature' | 'too_many_pubkeys';

/**
 * NIP-42 checks that need no cryptography (the signature is checked by the verify pool):
 * kind 22242, this connection's challenge, a relay tag naming this relay (protocol/relay-url.ts:
 * relay_url, or without it a loopback name on `localPort`), a fresh created_at.
 */
export function checkAuthEvent(
  event: NostrEvent,
  challenge: string,
  relayUrls: readonly string[] | undefined,
  localPort: number | undefined,
  nowSec: number,
): { message: string; label: AuthFailure } | undefined {
  if (event.kind !== 22242) return { label: 'kind', message: 'invalid: AUTH event must be kind 22242' };
  const tag = (name: string) => event.tags.find((t) => t[0] === name)?.[1];
  if (tag('challenge') !== challenge) return { label: 'challenge', message: 'invalid: challenge does not match this connection' };
  const relay = tag('relay');
  if (relay === undefined) return { label: 'relay', message: 'invalid: missing relay tag' };
  if (!namesOwnUrl(relay, relayUrls, localPort)) return { label: 'relay', message: 'invalid: relay tag does not name this relay' };
  if (Math.abs(nowSec - event.created_at) > AUTH_WINDOW_SEC) {
    return { label: 'created_at', message: 'invalid: AUTH event created_at is not within 10 minutes of now' };
  }
  return undefined;
}

/** What the connection needs to know of one AUTH message: the OK (or NOTICE) to send, and the new pubkey. */
export interface AuthOutcome {
  /** Absent when the event had no usable id: answer with a NOTICE. */
  id?: string;
  ok: boolean;
  message: string;
  pubkey?: string;
  failure?: AuthFailure;
}

export interface AuthConnection {
  readonly challenge: string;
  /** The port this relay accepted the connection on (the Host header is the sender's word, never used). */
  readonly localPort: number | undefined;
  /** Read live: AUTHs are verified concurrently, and the cap must hold after each one lands. */
  pubkeys(): readonly string[];
  /** Records a proven pubkey; called synchronously with the final cap check, so no two AUTHs race past it. */
  admit(pubkey: string): void;
}

type AuthListener = (failure: AuthFailure) => void;
/** Per relay (keyed by its context object), so several relays in one process stay apart. */
const listeners = new WeakMap<object, AuthListener[]>();

/** Called on every refused AUTH of this relay (metrics, access-control sinks). */
export function onAuthRejected(ctx: object, listener: AuthListener): void {
  const list = listeners.get(ctx);
  if (list) list.push(listener);
  else listeners.set(ctx, [listener]);
}

/** One AUTH message, from raw JSON to verdict; an accepted pubkey is handed to `conn.admit`. */
export async function authenticate(
  ctx: { config: () => Config; verify: VerifyPool },
  raw: unknown,
  conn: AuthConnection,
  nowSec = Math.floor(Date.now() / 1000),
): Promise<AuthOutcome> {
  const outcome = await judge(ctx, raw, conn, nowSec);
  if (outcome.failure) for (const l of listeners.get(ctx) ?? []) l(outcome.failure);
  return outcome;
}

async function judge(ctx: { config: () => Config; verify: VerifyPool }, raw: unknown, conn: AuthConnection, nowSec: number): Promise<AuthOutcome> {
  // The time window is judged below with an AUTH-specific message, not the EVENT one.
  const checked = validateEvent(raw, { maxEventTags: MAX_AUTH_TAGS, maxOlderSec: Infinity, maxNewerSec: Infinity }, nowSec);
  if (!checked.ok) return { id: checked.id, ok: false, message: checked.reason, failure: 'malformed' };
  const event = checked.event;
  const problem = checkAuthEvent(event, conn.challenge, ctx.config().information.relay_url, conn.localPort, nowSec);
  if (problem) return { id: event.id, ok: false, message: problem.message, failure: problem.label };
  const full = (): AuthOutcome | undefined => {
    const held = conn.pubkeys();
    if (held.includes(event.pubkey) || held.length < MAX_PUBKEYS_PER_CONNECTION) return undefined;
    return {
      id: event.id,
      ok: false,
      message: `blocked: too many pubkeys authenticated on this connection (max ${MAX_PUBKEYS_PER_CONNECTION})`,
      failure: 'too_many_pubkeys',
    };
  };
  const before = full();
  if (before) return before;
  const verdict = await ctx.verify.verify(event);
  if (verdict !== 0) {
    return { id: event.id, ok: false, message: verdict === 1 ? 'invalid: bad event id' : 'invalid: bad signature', failure: 'signature' };
  }
  const after = full();
  if (after) return after;
  conn.admit(event.pubkey);
  return { id: event.id, ok: true, message: '', pubkey: event.pubkey };
}
