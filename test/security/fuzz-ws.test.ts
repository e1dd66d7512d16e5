/**
 * Seeded WebSocket fuzzing against one relay (gateway on, COUNT on, no rate limits).
 *
 * Thousands of generated frames: correctly signed events of every kind with hostile tags and
 * content (lone surrogates, NULs, astral characters, huge and deep values), the same events
 * with a field broken after signing, REQ/COUNT/CLOSE/AUTH with every field of the wrong type,
 * raw junk text, binary frames and invalid UTF-8. What must hold, whatever the seed:
 * - the process stays up and keeps serving new clients;
 * - every answer is a valid NIP-01 relay message, and every refusal carries a standard prefix;
 * - every event served back verifies and is exactly the event that was sent (no alteration);
 * - every event acknowledged as stored (plain kind 1) is served by id;
 * - nothing is logged at error level (an error log here is a handler that threw).
 *
 * FUZZ_SEED=<n> replays a run; FUZZ_FRAMES=<n> changes its size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { rawClient, sharedRelay, STANDARD_PREFIX } from '../helpers/fixture.js';
import { newKeys, now, signEvent, type Event, type Keys } from '../helpers/events.js';
import type { RawClient, RelayMessage } from '../helpers/ws-client.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 2400);

const relay = sharedRelay({
  toml: `
[rate_limiter]
enabled = false
[count]
enabled = true
[extensions.mls_gateway]
enabled = true
`,
});

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

class Gen {
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }

  static readonly PIECES = [
    'a', 'hello', ' ', 'é', '日本', '\u0000', '\u0001', '\u001f', '"', '\\', '/', '\n', '\u2028', '\ufeff', '\ufffd',
    '\ud83d\ude00', '\ud800', '\udfff', '\udbff\udfff', '%zz', '<script>', '${x}', '__proto__', 'x'.repeat(300),
  ];

  /** While set, strings hold no lone surrogate, so the event can be valid and stored. */
  clean = false;

  str(maxPieces = 6): string {
    let s = '';
    const n = this.int(maxPieces + 1);
    for (let i = 0; i < n; i++) {
      const p = this.pick(Gen.PIECES);
      s += this.clean && LONE_SURROGATE.test(p) ? 'z' : p;
    }
    if (this.chance(0.02)) s += 'y'.repeat(20_000 + this.int(60_000));
    return s;
  }

  hex(len: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }

  /** Any JSON value, of bounded depth; sometimes absurdly deep or wide. */
  value(depth = 0): unknown {
    const r = this.int(14);
    if (depth > 3 && r > 9) return null;
    switch (r) {
      case 0: return null;
      case 1: return this.chance(0.5);
      case 2: return this.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, -0, 4294967296, 1e-300]);
      case 3: case 4: return this.str();
      case 5: return this.hex(this.pick([0, 1, 63, 64, 65, 128]));
      case 6: return [];
      case 7: return {};
      case 8: {
        const a: unknown[] = [];
        for (let i = this.int(4); i > 0; i--) a.push(this.value(depth + 1));
        return a;
      }
      case 9: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) o[this.pick(['kinds', 'ids', 'authors', '#e', '#p', '#h', 'since', 'until', 'limit', 'search', '__proto__', 'constructor', this.str(2)])] = this.value(depth + 1);
        return o;
      }
      case 10: {
        const depth = 50 + this.int(2000);
        return JSON.parse('['.repeat(depth) + ']'.repeat(depth));
      }
      case 11: return Array.from({ length: 500 + this.int(3000) }, () => 'e');
      default: return this.str(3);
    }
  }

  kind(): number {
    return this.pick([0, 1, 1, 1, 3, 5, 7, 443, 444, 445, 446, 447, 450, 1059, 10002, 10050, 10051, 20001, 22242, 27235, 30000, 30443, 39999, 65535, 70_000]);
  }

  tags(): string[][] {
    const tags: string[][] = [];
    for (let i = this.int(6); i > 0; i--) {
      const name = this.pick(['e', 'p', 'h', 'd', 'k', 'a', 't', 'seq', 'op', 'expiration', '-', 'relay', 'challenge', 'cs', 'kpr', 'encoding', 'mls_ciphersuite', '', this.str(2)]);
      const tag = [name];
      for (let j = this.int(4); j > 0; j--) tag.push(this.pick([this.str(), this.hex(64), String(this.int(1e6)), String(now() + this.int(1000) - 500), 'base64', '1']));
      tags.push(tag);
    }
    if (this.chance(0.01)) for (let i = 0; i < 3000; i++) tags.push(['t', String(i)]);
    return tags;
  }
}

/** One signed event with hostile fields, or that event broken after signing. */
function signedFrame(g: Gen, keys: Keys[], sent: Map<string, Event>): unknown[] {
  g.clean = g.chance(0.6);
  const e = signEvent(g.pick(keys), {
    kind: g.kind(),
    tags: g.tags(),
    content: g.chance(0.1) ? Buffer.from(g.str()).toString('base64') : g.str(),
    created_at: now() - g.pick([0, 0, 0, 5, 3600, 10 ** 9]) + g.pick([0, 0, 600, 10 ** 6]),
  });
  g.clean = false;
  // Recorded either way: a "broken" copy whose change is harmless (an extra field) may be stored.
  sent.set(e.id, e);
  if (g.chance(0.7)) return ['EVENT', e];
  const broken: Record<string, unknown> = { ...e };
  broken[g.pick(['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig', 'extra'])] = g.value();
  return ['EVENT', broken];
}

function frame(g: Gen, keys: Keys[], sent: Map<string, Event>): string | Buffer {
  const verb = g.int(12);
  const subId = g.chance(0.8) ? `s${g.int(30)}` : g.value();
  switch (verb) {
    case 0: case 1: case 2: case 3:
      return JSON.stringify(signedFrame(g, keys, sent));
    case 4: return JSON.stringify(['EVENT', g.value()]);
    case 5: case 6: {
      const filters = Array.from({ length: g.int(4) }, () => (g.chance(0.5) ? g.value() : { kinds: [g.kind()], limit: g.int(50) }));
      return JSON.stringify(['REQ', subId, ...filters]);
    }
    case 7: return JSON.stringify(['COUNT', subId, ...Array.from({ length: g.int(3) }, () => g.value())]);
    case 8: return JSON.stringify(['CLOSE', subId]);
    case 9: return JSON.stringify(['AUTH', g.chance(0.5) ? g.value() : signEvent(g.pick(keys), { kind: 22242, tags: g.tags() })]);
    case 10: return JSON.stringify(Array.from({ length: g.int(5) }, () => g.value()));
    default: {
      const raw = ['', '[', '{"a":', '["EVENT",', '["REQ","x",{"kinds":[1]}', 'null', '1e999', '"\\ud800"', '[' + '"x",'.repeat(1000) + '"x"]', '\u0000'];
      return g.chance(0.1) ? Buffer.from([0xc3, 0x28, 0xff, 0xfe]) : g.pick(raw) + g.str(2);
    }
  }
}

const ANSWERS = new Set(['NOTICE', 'CLOSED', 'OK', 'EOSE', 'COUNT', 'AUTH', 'EVENT']);

function checkAnswers(answers: RelayMessage[], seed: number): void {
  for (const m of answers) {
    assert.ok(ANSWERS.has(m[0] as string), `seed ${seed}: unexpected message ${JSON.stringify(m).slice(0, 200)}`);
    if (m[0] === 'OK' && m[2] === false) assert.match(String(m[3]), STANDARD_PREFIX, `seed ${seed}: OK false without a standard prefix: ${JSON.stringify(m).slice(0, 300)}`);
    if (m[0] === 'CLOSED') assert.match(String(m[2]), STANDARD_PREFIX, `seed ${seed}: CLOSED without a standard prefix: ${JSON.stringify(m).slice(0, 300)}`);
    if (m[0] === 'NOTICE') assert.match(String(m[1]), STANDARD_PREFIX, `seed ${seed}: NOTICE without a standard prefix: ${JSON.stringify(m).slice(0, 300)}`);
  }
}

/** Sends, then waits for a marker REQ's EOSE and for the asynchronous OKs to stop coming. */
async function settle(c: RawClient, marker: string): Promise<RelayMessage[]> {
  // EOSE, or CLOSED when the fuzzed REQs hold every subscription slot: either proves the frames before it were read.
  c.send(['REQ', marker, { limit: 0 }]);
  await c.nextMatching((m) => (m[0] === 'EOSE' || m[0] === 'CLOSED') && m[1] === marker, 30_000, `EOSE of ${marker}`);
  c.send(['CLOSE', marker]);
  for (let seen = -1, waited = 0; seen !== c.unconsumed().length && waited < 10_000; waited += 250) {
    seen = c.unconsumed().length;
    await new Promise((r) => setTimeout(r, 250));
  }
  return c.drain();
}

/** Opens a socket and sends one text frame of raw bytes (ws does not validate what it sends). */
async function sendRawBytes(url: string, bytes: Buffer): Promise<number> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return new Promise<number>((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve(-1);
    }, 5_000);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    ws.send(bytes, { binary: false });
  });
}

test(`fuzzed WebSocket frames (seed ${SEED}, ${FRAMES} frames): the relay stays up, answers in standard form, serves only what verifies`, async (t) => {
  t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_FRAMES=${FRAMES}`);
  const g = new Gen(SEED);
  const keys = [newKeys(), newKeys(), newKeys()];
  const sent = new Map<string, Event>();
  const anon = await rawClient(t, relay().url);
  const authed = await rawClient(t, relay().url);
  const challenge = (await authed.nextMatching((m) => m[0] === 'AUTH', 5_000, 'AUTH challenge'))[1] as string;
  for (const k of keys) {
    const ev = signEvent(k, { kind: 22242, tags: [['relay', relay().url], ['challenge', challenge]] });
    authed.send(['AUTH', ev]);
    const ok = await authed.nextMatching((m) => m[0] === 'OK' && m[1] === ev.id, 5_000, 'AUTH OK');
    assert.equal(ok[2], true, `AUTH refused: ${JSON.stringify(ok)}`);
  }
  anon.drain();

  const stored: string[] = [];
  const rounds = 8;
  for (let round = 0; round < rounds; round++) {
    for (const c of [anon, authed]) {
      for (let i = 0; i < FRAMES / rounds / 2; i++) {
        const f = frame(g, keys, sent);
        // Invalid UTF-8 as text closes the socket (checked on its own below); here it goes as a binary frame.
        if (Buffer.isBuffer(f)) c.ws.send(f, { binary: true });
        else c.send(f);
      }
      const answers = await settle(c, `marker-${round}`);
      checkAnswers(answers, SEED);
      for (const m of answers) {
        if (m[0] !== 'OK' || m[2] !== true || String(m[3]).startsWith('duplicate:')) continue;
        const e = sent.get(m[1] as string);
        if (e?.kind === 1 && !e.tags.some((tag) => tag[0] === 'expiration' || tag[0] === '-')) stored.push(e.id);
      }
    }
    relay().assertAlive();
  }

  // Invalid UTF-8 in a text frame: the socket is closed with 1007 (RFC 6455), nothing else happens.
  const code = await sendRawBytes(relay().url, Buffer.from([0x5b, 0x22, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x22, 0x5d]));
  assert.equal(code, 1007, 'invalid UTF-8 closes that socket with 1007');
  relay().assertAlive();

  // Everything served verifies (the raw client checks every EVENT) and is byte-for-byte what was sent.
  const reader = await rawClient(t, relay().url);
  const served: Event[] = [];
  for (const kind of [0, 1, 3, 5, 7, 443, 10002, 30000, 30443]) {
    const r = await reader.req(`all-${kind}`, { kinds: [kind], limit: 300 });
    assert.ok(r.eose, `REQ for kind ${kind} ends with EOSE (${r.closed ?? ''})`);
    served.push(...r.events);
  }
  for (const e of served) {
    const mine = sent.get(e.id);
    assert.ok(mine, `seed ${SEED}: served event ${e.id} was never sent as such`);
    assert.deepEqual({ ...e }, { ...mine }, `seed ${SEED}: served event ${e.id} differs from what was acknowledged`);
  }
  for (let i = 0; i < stored.length; i += 100) {
    const batch = stored.slice(i, i + 100);
    const r = await reader.req(`ids-${i}`, { ids: batch, limit: batch.length });
    const got = new Set(r.events.map((e) => e.id));
    for (const id of batch) assert.ok(got.has(id), `seed ${SEED}: acknowledged event ${id} is not served`);
  }
  t.diagnostic(`${sent.size} signed events sent, ${stored.length} kind-1 events acknowledged, ${served.length} served back`);

  const fresh = await rawClient(t, relay().url);
  await fresh.nextMatching((m) => m[0] === 'AUTH', 5_000, 'AUTH challenge on a fresh connection');
  const errors = relay()
    .logRecords()
    .filter((r) => r.level === 'error' || r.level === 'fatal');
  assert.deepEqual(errors.map((r) => r.msg), [], `seed ${SEED}: nothing is logged at error level`);
});
