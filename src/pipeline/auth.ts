import type { NostrEvent } from '../protocol/types.js';

const AUTH_WINDOW_SEC = 600;

/** The host (and port, if any) of a ws(s)/http(s) URL or a bare Host header, lowercased. */
export function hostOf(urlOrHost: string): string {
  try {
    const u = new URL(urlOrHost.includes('://') ? urlOrHost : `ws://${urlOrHost}`);
    return u.host.toLowerCase();
  } catch {
    return urlOrHost.toLowerCase();
  }
}

/**
 * NIP-42 checks that need no cryptography (the signature is checked by the verify pool):
 * kind 22242, this connection's challenge, a relay tag naming this relay, a fresh created_at.
 * `relayHost` is the host of [information] relay_url, or of the request's Host header.
 */
export function checkAuthEvent(event: NostrEvent, challenge: string, relayHost: string, nowSec: number): string | undefined {
  if (event.kind !== 22242) return 'invalid: AUTH event must be kind 22242';
  const tag = (name: string) => event.tags.find((t) => t[0] === name)?.[1];
  if (tag('challenge') !== challenge) return 'invalid: challenge does not match this connection';
  const relay = tag('relay');
  if (relay === undefined) return 'invalid: missing relay tag';
  if (hostOf(relay) !== relayHost) return `invalid: relay tag does not name this relay (${relayHost})`;
  if (Math.abs(nowSec - event.created_at) > AUTH_WINDOW_SEC) return 'invalid: AUTH event created_at is not within 10 minutes';
  return undefined;
}
