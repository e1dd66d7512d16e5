import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { unpackEventFromToken } from 'nostr-tools/nip98';
import { validateEvent } from '../protocol/event-validate.js';
import { namesOwnUrl } from '../protocol/relay-url.js';
import type { VerifyPool } from '../verify/pool.js';
import { SpentTokens } from './nip98-replay.js';

const WINDOW_SEC = 60;

/** `status`/`code` only when the answer is not 401 unauthorized. */
export type Nip98Result = { ok: true; pubkey: string } | { ok: false; error: string; status?: number; code?: string };

/** One per process: a token names one relay's URL, so relays sharing a process (tests) only share the cap. */
const spent = new SpentTokens();

/** Reads may be retried with their token (NIP-98 does not forbid it, and a retry learns nothing new). */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * NIP-98: `Authorization: Nostr <base64 kind 27235>`, `u` = this URL (scheme-insensitive;
 * path+query exact; host one of relay_url, or without it a loopback name on the port the request
 * reached: never the Host or X-Forwarded-Host header), `method`, and `payload` = sha256(raw body)
 * whenever there is a body; created_at within 60 s; the signature checked by the verify pool; a
 * token for anything but GET/HEAD used once only. Error texts are for the client, never internals.
 */
export async function checkNip98(
  req: IncomingMessage,
  body: Buffer,
  relayUrls: readonly string[] | undefined,
  verify: VerifyPool,
  nowSec: number,
): Promise<Nip98Result> {
  const header = req.headers.authorization;
  if (!header) return { ok: false, error: 'missing Authorization header (NIP-98: "Nostr <base64 event>")' };
  const m = /^Nostr\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, error: 'Authorization scheme must be "Nostr" (NIP-98)' };
  // nostr-tools unpacks the token (strict base64, where Buffer.from would skip garbage). Its
  // validateEvent is not used: it hashes JSON.stringify(body) instead of the raw bytes NIP-98
  // names, verifies with pure JS on this thread, compares `u` as one exact string and throws on
  // a one-element method tag; the checks below are this relay's.
  let raw: unknown;
  try {
    raw = await unpackEventFromToken(m[1]!);
  } catch {
    return { ok: false, error: 'Authorization token is not base64-encoded JSON' };
  }
  const checked = validateEvent(raw, { maxEventTags: 100, maxOlderSec: WINDOW_SEC, maxNewerSec: WINDOW_SEC }, nowSec);
  if (!checked.ok) return { ok: false, error: `bad NIP-98 event: ${checked.reason}` };
  const e = checked.event;
  if (e.kind !== 27235) return { ok: false, error: 'NIP-98 event must be kind 27235' };
  if (Math.abs(nowSec - e.created_at) > WINDOW_SEC) return { ok: false, error: 'NIP-98 event created_at is not within 60 s' };
  const tag = (name: string) => e.tags.find((t) => t[0] === name)?.[1];

  const u = tag('u');
  if (u === undefined) return { ok: false, error: 'NIP-98 event has no u tag' };
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return { ok: false, error: 'NIP-98 u tag is not an absolute URL' };
  }
  if (url.pathname + url.search !== (req.url ?? '/')) return { ok: false, error: 'NIP-98 u tag does not match the request URL' };
  if (!namesOwnUrl(u, relayUrls, req.socket.localPort)) return { ok: false, error: 'NIP-98 u tag names another host' };

  if ((tag('method') ?? '').toUpperCase() !== (req.method ?? '').toUpperCase()) {
    return { ok: false, error: 'NIP-98 method tag does not match the request method' };
  }
  const payload = tag('payload');
  if (body.length > 0 || payload !== undefined) {
    const digest = createHash('sha256').update(body).digest('hex');
    if (payload === undefined) return { ok: false, error: 'NIP-98 event needs a payload tag (sha256 of the body)' };
    if (payload.toLowerCase() !== digest) return { ok: false, error: 'NIP-98 payload tag does not match the body' };
  }
  const verdict = await verify.verify(e);
  if (verdict !== 0) return { ok: false, error: 'NIP-98 event has a bad id or signature' };
  if (!SAFE_METHODS.has((req.method ?? '').toUpperCase())) {
    const spend = spent.spend(e.sig, e.created_at + WINDOW_SEC, nowSec);
    if (spend === 'replay') return { ok: false, error: 'NIP-98 token already used' };
    if (spend === 'full') {
      return { ok: false, status: 503, code: 'unavailable', error: 'too many NIP-98 tokens in use; retry in a minute' };
    }
  }
  return { ok: true, pubkey: e.pubkey };
}
