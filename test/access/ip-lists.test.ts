/**
 * Address lists behind a proxy: X-Forwarded-For with one trusted hop. The test plays the proxy: the
 * rightmost entry is what the proxy appended, anything left of it is what the client wrote itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { newKeys, signEvent, type RawClient } from '../helpers/ws-client.js';
import { upgradeStatus, xff } from './helpers.js';

const relay = sharedRelay({
  toml: `
[network]
real_ip_header = "X-Forwarded-For"
trusted_proxies = 1
[auth]
enabled = true
ip_blacklist = ["192.0.2.66", "2001:db8:dead::/48"]   # top level: reads and writes, so refused at connect
[auth.req]
ip_blacklist = ["203.0.113.0/24", "198.51.100.128/25", "::1"]
[auth.event]
ip_whitelist = ["127.0.0.1", "198.51.100.0/24", "2001:db8:1::/64", "::ffff:10.1.0.0/112"]
`,
});

const author = newKeys();

async function canPublish(c: RawClient): Promise<string> {
  const ok = await c.publish(signEvent(author, { content: `from ${Math.random()}` }));
  return ok[2] ? 'ok' : String(ok[3]).split(':')[0]!;
}

async function canRead(c: RawClient): Promise<string> {
  const r = await c.req(`r${Math.random()}`, { kinds: [1], limit: 1 });
  const n = await c.count(`c${Math.random()}`, { kinds: [1] });
  const req = r.eose ? 'ok' : String(r.closed).split(':')[0]!;
  const count = n.count !== undefined ? 'ok' : String(n.closed).split(':')[0]!;
  assert.equal(count, req, 'COUNT follows the same read rules as REQ');
  return req;
}

const cases: Array<[string, string | undefined, { publish: string; read: string }]> = [
  ['no header (the socket address 127.0.0.1)', undefined, { publish: 'ok', read: 'ok' }],
  ['a whitelisted forwarded address', '198.51.100.7', { publish: 'ok', read: 'ok' }],
  ['a spoofed whitelisted address left of the real, unlisted one', '198.51.100.7, 10.2.0.5', { publish: 'blocked', read: 'ok' }],
  ['a spoofed clean address left of a read-blacklisted one', '8.8.8.8, 198.51.100.200', { publish: 'ok', read: 'blocked' }],
  ['a spoofed blacklisted address left of the real, clean one', '192.0.2.66, 198.51.100.9', { publish: 'ok', read: 'ok' }],
  ['an IPv6 address in a whitelisted /64', '2001:db8:1::42', { publish: 'ok', read: 'ok' }],
  ['a bracketed IPv6 address with a port', '[2001:db8:1::43]:5555', { publish: 'ok', read: 'ok' }],
  ['an IPv6 address outside the whitelist', '2001:db8:2::1', { publish: 'blocked', read: 'ok' }],
  ['an IPv4-mapped IPv6 address (dotted) of a whitelisted IPv4', '::ffff:198.51.100.7', { publish: 'ok', read: 'ok' }],
  ['an IPv4-mapped IPv6 address (hex) of a whitelisted IPv4', '::ffff:c633:6407', { publish: 'ok', read: 'ok' }],
  ['an IPv4 address matched by an IPv4-mapped CIDR entry', '10.1.2.3', { publish: 'ok', read: 'ok' }],
  ['an unlisted IPv4 address', '10.2.0.1', { publish: 'blocked', read: 'ok' }],
  ['a header entry that is not an address (falls back to the socket)', 'unknown', { publish: 'ok', read: 'ok' }],
];

for (const [name, header, expected] of cases) {
  test(`EVENT and REQ/COUNT from ${name}`, async (t) => {
    const c = await rawClient(t, relay().url, header === undefined ? undefined : xff(header));
    assert.deepEqual({ publish: await canPublish(c), read: await canRead(c) }, expected);
  });
}

test('an address that may neither read nor publish is refused with HTTP 403 before the upgrade', async () => {
  const url = relay().url;
  const refused = ['192.0.2.66', '198.51.100.9, 192.0.2.66', '::ffff:192.0.2.66', '2001:db8:dead:beef::1', '::1', '203.0.113.7'];
  for (const h of refused) assert.equal(await upgradeStatus(url, xff(h).headers), 403, `X-Forwarded-For: ${h}`);
  // The same addresses written by the client, left of the proxy's entry, change nothing.
  for (const h of ['192.0.2.66, 198.51.100.9', '::1, 127.0.0.1', '2001:db8:dead::1, 10.1.0.1']) {
    assert.equal(await upgradeStatus(url, xff(h).headers), 101, `X-Forwarded-For: ${h}`);
  }
});

test('a refused upgrade answers a JSON body with the reason', async () => {
  const { status, body } = await rawUpgrade(relay().port, { 'x-forwarded-for': '192.0.2.66' });
  assert.equal(status, 403);
  const json = JSON.parse(body) as { error: string; code: string };
  assert.match(json.error, /^blocked: /);
  assert.equal(json.code, 'forbidden');
});

/** A WebSocket upgrade request by hand, to read the refusal's body. */
function rawUpgrade(port: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
      timeout: 5_000,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the upgrade was accepted'));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

test('the relay keeps serving allowed clients after refusing others', async (t) => {
  const c = await rawClient(t, relay().url, xff('198.51.100.7'));
  assertOk(await c.publish(signEvent(author, { content: 'still serving' })), true);
});
