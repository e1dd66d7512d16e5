import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { validateEvent } from '../protocol/event-validate.js';
import { hostOf } from '../pipeline/auth.js';
import type { VerifyPool } from '../verify/pool.js';

const WINDOW_SEC = 60;

export type Nip98Result = { ok: true; pubkey: string } | { ok: false; error: string };

/** The request's path+query and the hosts it may have been addressed to (Host, or relay_url behind a proxy). */
function expectedTarget(req: IncomingMessage, relayUrl: string | undefined): { pathQuery: string; hosts: string[] } {
  const hosts: string[] = [];
  if (req.headers.host) hosts.push(hostOf(req.headers.host));
  const fwd = req.headers['x-forwarded-host'];
  if (typeof fwd === 'string' && fwd !== '') hosts.push(hostOf(fwd.split(',')[0]!.trim()));
  if (relayUrl) hosts.push(hostOf(relayUrl));
  return { pathQuery: req.url ?? '/', hosts };
}

/** Host without a default port, so https://h and https://h:443 compare equal behind TLS terminators. */
function bareHost(h: string): string {
  return h.replace(/:(80|443)$/, '');
}

/**
 * NIP-98: `Authorization: Nostr <base64 kind 27235>`, `u` = this URL (scheme-insensitive;
 * path+query exact, host = Host header, X-Forwarded-Host or relay_url), `method`, and
 * `payload` = sha256(raw body) whenever there is a body; created_at within 60 s; the
 * signature checked by the verify pool. Error texts are for the client, never internals.
 */
export async function checkNip98(
  req: IncomingMessage,
  body: Buffer,
  relayUrl: string | undefined,
  verify: VerifyPool,
  nowSec: number,
): Promise<Nip98Result> {
  const header = req.headers.authorization;
  if (!header) return { ok: false, error: 'missing Authorization header (NIP-98: "Nostr <base64 event>")' };
  const m = /^Nostr\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, error: 'Authorization scheme must be "Nostr" (NIP-98)' };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8'));
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
  const want = expectedTarget(req, relayUrl);
  if (url.pathname + url.search !== want.pathQuery) return { ok: false, error: 'NIP-98 u tag does not match the request URL' };
  const host = bareHost(url.host.toLowerCase());
  if (want.hosts.length > 0 && !want.hosts.some((h) => bareHost(h) === host)) {
    return { ok: false, error: 'NIP-98 u tag names another host' };
  }

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
  return { ok: true, pubkey: e.pubkey };
}
