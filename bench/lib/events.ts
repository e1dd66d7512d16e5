/**
 * Pre-signed events cached on disk (bench/.cache), so no run measures signing and the
 * client's share of the two cores goes to the socket work it would do in real life.
 * A set is regenerated when missing or older than a week (created_at must stay inside
 * the relay's time window).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initNostrWasm } from 'nostr-wasm';
import * as wasm from 'nostr-tools/wasm';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { computeEventId } from '../../src/protocol/event-validate.js';
import type { NostrEvent } from '../../src/protocol/types.js';
import { CACHE_DIR } from './paths.js';

export interface Template {
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
  /** Index into the set's keys; default i % keys. */
  signer?: number;
}

export interface EventSet {
  events: NostrEvent[];
  /** Hex secret keys the events were signed with (for AUTH, NIP-98, rosters). */
  secretKeys: string[];
  pubkeys: string[];
}

export interface EventSpec {
  /** Cache file name; change it when the template changes. */
  name: string;
  count: number;
  keys?: number;
  /** `now` is the generation time in seconds, `pubkeys` the set's signers. */
  template(i: number, now: number, pubkeys: string[]): Template;
}

const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
let ready: Promise<void> | undefined;

export async function presigned(spec: EventSpec): Promise<EventSet> {
  const file = join(CACHE_DIR, `${spec.name}-${spec.count}.jsonl`);
  try {
    if (Date.now() - statSync(file).mtimeMs < MAX_AGE_MS) {
      const [head, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n');
      const { secretKeys, pubkeys } = JSON.parse(head!) as Omit<EventSet, 'events'>;
      if (lines.length === spec.count) return { secretKeys, pubkeys, events: lines.map((l) => JSON.parse(l) as NostrEvent) };
    }
  } catch {
    /* missing or unreadable: generate */
  }
  ready ??= initNostrWasm().then((w) => wasm.setNostrWasm(w));
  await ready;
  const secrets = Array.from({ length: spec.keys ?? 16 }, () => wasm.generateSecretKey());
  const pubkeys = secrets.map((sk) => wasm.getPublicKey(sk));
  const now = Math.floor(Date.now() / 1000);
  const events: NostrEvent[] = [];
  for (let i = 0; i < spec.count; i++) {
    const { signer, ...t } = spec.template(i, now, pubkeys);
    const ev = wasm.finalizeEvent(t, secrets[(signer ?? i) % secrets.length]!);
    events.push({ id: ev.id, pubkey: ev.pubkey, created_at: ev.created_at, kind: ev.kind, tags: ev.tags, content: ev.content, sig: ev.sig });
  }
  const secretKeys = secrets.map((s) => bytesToHex(s));
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, [JSON.stringify({ secretKeys, pubkeys }), ...events.map((e) => JSON.stringify(e))].join('\n') + '\n');
  return { events, secretKeys, pubkeys };
}

export const secretKeyBytes = (hex: string): Uint8Array => hexToBytes(hex);

/**
 * The same templates with a correct id but a placeholder signature, written as JSONL for
 * `mls-relay import --no-verify` (which checks neither): a million of these take seconds
 * to make, where signing them would take many minutes and a 400 MB cache file. Only for
 * stores preloaded behind the relay's back; never for anything sent over a socket, which
 * the relay verifies. `onEvent` sees every event as written (the scenario keeps what it
 * needs to check answers, not the events).
 */
export async function writeUnsigned(spec: EventSpec, file: string, onEvent: (e: NostrEvent, i: number) => void): Promise<void> {
  const keys = spec.keys ?? 16;
  // Fixed, distinct, well-formed keys: nothing checks that they are on the curve.
  const pubkeys = Array.from({ length: keys }, (_, i) => createHash('sha256').update(`bench-unsigned-key-${i}`).digest('hex'));
  const now = Math.floor(Date.now() / 1000);
  const out = createWriteStream(file);
  let chunk: string[] = [];
  const flush = async () => {
    if (!out.write(chunk.join(''))) await once(out, 'drain');
    chunk = [];
  };
  for (let i = 0; i < spec.count; i++) {
    const { signer, ...t } = spec.template(i, now, pubkeys);
    const pubkey = pubkeys[(signer ?? i) % keys]!;
    const id = computeEventId({ pubkey, ...t });
    const e: NostrEvent = { id, pubkey, created_at: t.created_at, kind: t.kind, tags: t.tags, content: t.content, sig: id + id };
    onEvent(e, i);
    chunk.push(JSON.stringify(e) + '\n');
    if (chunk.length === 10_000) await flush();
  }
  await flush();
  out.end();
  await once(out, 'finish');
}
