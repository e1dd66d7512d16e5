/**
 * Signing at run time, for what cannot be cached on disk: NIP-42 AUTH events (bound to a
 * connection's challenge), NIP-98 tokens (created_at within 60 s of use) and rosters of
 * keys drawn for the run. Uses the same WebAssembly signer as events.ts, many times faster
 * than pure-JS signing, so thousands of tokens are ready in well under a second.
 */
import { WebSocket } from 'ws';
import { createHash } from 'node:crypto';
import { initNostrWasm } from 'nostr-wasm';
import * as wasm from 'nostr-tools/wasm';
import type { NostrEvent } from '../../src/protocol/types.js';

export interface Key {
  sk: Uint8Array;
  pk: string;
}

let ready: Promise<void> | undefined;
/** Call once before sign/newKey. */
export function initSigner(): Promise<void> {
  ready ??= initNostrWasm().then((w) => wasm.setNostrWasm(w));
  return ready;
}

export function newKey(): Key {
  const sk = wasm.generateSecretKey();
  return { sk, pk: wasm.getPublicKey(sk) };
}

export function sign(k: Key, t: { kind: number; tags: string[][]; content?: string; created_at?: number }): NostrEvent {
  const e = wasm.finalizeEvent({ kind: t.kind, tags: t.tags, content: t.content ?? '', created_at: t.created_at ?? Math.floor(Date.now() / 1000) }, k.sk);
  return { id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig };
}

/** `Authorization` value for one request: kind 27235 over url, method and the body's SHA-256. */
export function nip98(k: Key, url: string, method: string, body?: string): string {
  const tags = [['u', url], ['method', method]];
  if (body) tags.push(['payload', createHash('sha256').update(body).digest('hex')]);
  return 'Nostr ' + Buffer.from(JSON.stringify(sign(k, { kind: 27235, tags }))).toString('base64');
}

/**
 * Opens a socket and authenticates it (NIP-42) as `k`. The listener is attached before
 * the socket opens: the relay sends its challenge at once, and a listener added after
 * `open` (e.g. after load.openMany's Promise.all) could miss it.
 */
export function openAuthed(url: string, k: Key, timeoutMs = 10_000): Promise<WebSocket> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let authId: string | undefined;
    const timer = setTimeout(() => (ws.terminate(), fail(new Error('NIP-42: no AUTH answer'))), timeoutMs);
    const onMessage = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as unknown[];
      if (m[0] === 'AUTH' && typeof m[1] === 'string' && authId === undefined) {
        const ev = sign(k, { kind: 22242, tags: [['relay', url], ['challenge', m[1]]] });
        authId = ev.id;
        ws.send(JSON.stringify(['AUTH', ev]));
      } else if (m[0] === 'OK' && m[1] === authId) {
        clearTimeout(timer);
        ws.off('message', onMessage);
        if (m[2] === true) ok(ws);
        else fail(new Error(`NIP-42 refused: ${String(m[3])}`));
      }
    };
    ws.on('message', onMessage);
    ws.once('error', (e) => (clearTimeout(timer), fail(e)));
  });
}
