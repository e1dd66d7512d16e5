/**
 * NIP-98 on the REST API (issue 8, item 5): a token names this relay's host (relay_url, or loopback
 * without it), never whatever Host / X-Forwarded-Host the request carries; a token for a request
 * that changes state is spent on first use; a GET token may be used again.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { rawClient, sharedRelay } from '../helpers/fixture.js';
import { authAs } from '../access/helpers.js';
import type { RelayHandle } from '../helpers/relay-process.js';
import { gatewayToml, keyPackage, newKeys, nip98, now, publishOk, type Keys } from '../gateway/helpers.js';

const PUBLIC = 'wss://relay.example.com';
const loopback = sharedRelay({ toml: gatewayToml([]) });
const behindProxy = sharedRelay({ toml: `${gatewayToml([])}\n[information]\nrelay_url = "${PUBLIC}"\n` });

const CLAIM = '/api/v1/keypackages/claim';

interface Answer {
  status: number;
  json: { error?: string; code?: string; ok?: boolean; event?: { id: string }; keypackages?: unknown[] };
}

/** Raw node:http, so the Host header is exactly what the test says (fetch would set its own). */
function call(relay: RelayHandle, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: relay.port, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, timeout: 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Answer['json'] });
          } catch {
            reject(new Error(`${method} ${path}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` KeyPackages of a fresh owner, published over a connection authenticated for `relayTag`. */
async function stockOf(t: TestContext, relay: RelayHandle, n: number, relayTag = relay.url): Promise<Keys> {
  const owner = newKeys();
  const c = await rawClient(t, relay.url);
  await authAs(c, relayTag, owner);
  for (let i = 0; i < n; i++) await publishOk(c, keyPackage(owner, [], { created_at: now() - 10 + i }));
  return owner;
}

async function stockCount(relay: RelayHandle, owner: Keys, caller: Keys, base = relay.httpUrl): Promise<number> {
  const path = `/api/v1/keypackages?owner=${owner.pk}`;
  const r = await call(relay, 'GET', path, { authorization: nip98(caller, 'GET', `${base}${path}`) });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.keypackages!.length;
}

test('with relay_url set, a token minted for another host is refused whatever Host / X-Forwarded-Host say', async (t) => {
  const owner = await stockOf(t, behindProxy(), 3, PUBLIC);
  const k = newKeys();
  const body = JSON.stringify({ owner: owner.pk });
  const evil = nip98(k, 'POST', `https://evil.example${CLAIM}`, body);
  const spoofs: Array<[string, Record<string, string>]> = [
    ['Host', { host: 'evil.example' }],
    ['X-Forwarded-Host', { 'x-forwarded-host': 'evil.example' }],
    ['both', { host: 'evil.example', 'x-forwarded-host': 'evil.example' }],
  ];
  for (const [what, headers] of spoofs) {
    const r = await call(behindProxy(), 'POST', CLAIM, { ...headers, authorization: evil }, body);
    assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.json)}`);
    assert.deepEqual(r.json, { error: 'NIP-98 u tag names another host', code: 'unauthorized' }, what);
  }
  // The Host header is not the relay's name either: a token for the address it was reached by is refused.
  const direct = await call(behindProxy(), 'POST', CLAIM, { authorization: nip98(k, 'POST', `${behindProxy().httpUrl}${CLAIM}`, body) }, body);
  assert.equal(direct.status, 401);
  assert.equal(await stockCount(behindProxy(), owner, k, 'https://relay.example.com'), 3, 'nothing was claimed');
  // The public URL works, whatever the Host header (behind a proxy it is the proxy's business).
  const good = await call(behindProxy(), 'POST', CLAIM, { host: 'internal:8080', authorization: nip98(k, 'POST', `https://relay.example.com${CLAIM}`, body) }, body);
  assert.equal(good.status, 200, JSON.stringify(good.json));
});

test('without relay_url (loopback), only loopback names on the listening port are accepted in u', async (t) => {
  const owner = await stockOf(t, loopback(), 3);
  const k = newKeys();
  const body = JSON.stringify({ owner: owner.pk });
  const port = loopback().port;
  for (const u of [`http://evil.example:${port}${CLAIM}`, `http://evil.example${CLAIM}`]) {
    const host = new URL(u).host;
    const r = await call(loopback(), 'POST', CLAIM, { host, 'x-forwarded-host': host, authorization: nip98(k, 'POST', u, body) }, body);
    assert.equal(r.status, 401, `${u}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'unauthorized');
  }
  const otherPort = `http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}${CLAIM}`;
  assert.equal((await call(loopback(), 'POST', CLAIM, { authorization: nip98(k, 'POST', otherPort, body) }, body)).status, 401);
  assert.equal(await stockCount(loopback(), owner, k), 3, 'nothing was claimed');
  for (const u of [`http://localhost:${port}${CLAIM}`, `http://[::1]:${port}${CLAIM}`]) {
    const r = await call(loopback(), 'POST', CLAIM, { host: 'evil.example', authorization: nip98(k, 'POST', u, body) }, body);
    assert.equal(r.status, 200, `${u}: ${JSON.stringify(r.json)}`);
  }
});

test('a POST token is spent on first use: a replay (also a concurrent one) claims nothing more', async (t) => {
  const owner = await stockOf(t, loopback(), 5);
  const k = newKeys();
  const body = JSON.stringify({ owner: owner.pk });
  const token = nip98(k, 'POST', `${loopback().httpUrl}${CLAIM}`, body);
  const first = await call(loopback(), 'POST', CLAIM, { authorization: token }, body);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const again = await call(loopback(), 'POST', CLAIM, { authorization: token }, body);
  assert.equal(again.status, 401);
  assert.deepEqual(again.json, { error: 'NIP-98 token already used', code: 'unauthorized' });
  assert.equal(await stockCount(loopback(), owner, k), 4);

  // Sent at once, a fresh token still wins exactly once (the spend is atomic with the check).
  const racing = nip98(k, 'POST', `${loopback().httpUrl}${CLAIM}`, body);
  const answers = await Promise.all(Array.from({ length: 4 }, () => call(loopback(), 'POST', CLAIM, { authorization: racing }, body)));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401, 401]);
  assert.equal(await stockCount(loopback(), owner, k), 3);

  // Two honest tokens for the same request in the same second have the same event id, not the same token.
  const at = now();
  const a = nip98(k, 'POST', `${loopback().httpUrl}${CLAIM}`, body, { created_at: at });
  const b = nip98(k, 'POST', `${loopback().httpUrl}${CLAIM}`, body, { created_at: at });
  assert.notEqual(a, b);
  assert.equal((await call(loopback(), 'POST', CLAIM, { authorization: a }, body)).status, 200);
  assert.equal((await call(loopback(), 'POST', CLAIM, { authorization: b }, body)).status, 200);
  assert.equal(await stockCount(loopback(), owner, k), 1);
});

test('a GET token may be used again within its window (a read retried learns nothing new)', async (t) => {
  const owner = await stockOf(t, loopback(), 2);
  const k = newKeys();
  const path = `/api/v1/keypackages?owner=${owner.pk}`;
  const token = nip98(k, 'GET', `${loopback().httpUrl}${path}`);
  for (let i = 0; i < 3; i++) {
    const r = await call(loopback(), 'GET', path, { authorization: token });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.keypackages!.length, 2);
  }
});

test('the spent-token ledger: a replay is refused until the window closes; full means refusing, never forgetting', async () => {
  const { SpentTokens } = await import('../../src/gateway/nip98-replay.js');
  const ledger = new SpentTokens(2);
  const t0 = 1_000_000;
  assert.equal(ledger.spend('a', t0 + 60, t0), 'fresh');
  assert.equal(ledger.spend('a', t0 + 60, t0 + 60), 'replay');
  assert.equal(ledger.spend('b', t0 + 5, t0), 'fresh');
  // Full of live tokens: a new one is refused, and the live ones are still remembered.
  assert.equal(ledger.spend('c', t0 + 60, t0 + 1), 'full');
  assert.equal(ledger.spend('a', t0 + 60, t0 + 1), 'replay');
  // Once b's window has passed it is dropped, which makes room.
  assert.equal(ledger.spend('c', t0 + 66, t0 + 6), 'fresh');
  assert.equal(ledger.size, 2);
  // Past its window a is forgotten (the created_at check refuses it from then on anyway).
  assert.equal(ledger.spend('d', t0 + 120, t0 + 61), 'fresh');
  assert.equal(ledger.size, 2);
});
