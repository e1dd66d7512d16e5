/** NIP-98 HTTP auth: a kind 27235 event bound to one URL, method and body, as an Authorization header. */
import { sha256 } from '@noble/hashes/sha2.js';
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { toBase64, toHex, utf8 } from './encoding.js';
import { signEvent } from './sign.js';

export interface HttpAuthOptions {
  /** The absolute URL exactly as requested, query string included. */
  url: string;
  method: string;
  /** The raw body bytes/text as sent; hashing a re-serialisation would not match. */
  body?: string | Uint8Array;
  created_at?: number;
}

export function sha256Hex(body: string | Uint8Array): string {
  return toHex(sha256(typeof body === 'string' ? utf8(body) : body));
}

export function buildHttpAuthEvent(sk: Uint8Array, o: HttpAuthOptions): NostrEvent {
  const tags: string[][] = [['u', o.url], ['method', o.method.toUpperCase()]];
  if (o.body !== undefined) tags.push(['payload', sha256Hex(o.body)]);
  return signEvent(sk, { kind: KIND.HTTP_AUTH, content: '', tags, created_at: o.created_at });
}

/** `Nostr <base64 of the event JSON>` */
export function httpAuthHeader(sk: Uint8Array, o: HttpAuthOptions): string {
  return 'Nostr ' + toBase64(utf8(JSON.stringify(buildHttpAuthEvent(sk, o))));
}
