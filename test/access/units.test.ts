/** In-process checks of the access-control building blocks (no relay process). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { canonicalAddress, IpList, rateSubject } from '../../src/access/ip.js';
import { RateBuckets } from '../../src/access/rate-limit.js';
import { compileRules, eventDenial, readDenial } from '../../src/access/lists.js';
import { clientAddress } from '../../src/http/client-address.js';
import { namesThisRelay } from '../../src/pipeline/auth.js';
import type { NostrEvent } from '../../src/protocol/types.js';

test('canonicalAddress: mapped IPv6 becomes IPv4, proxy spellings are understood, junk is refused', () => {
  assert.equal(canonicalAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalAddress('::FFFF:7f00:1'), '127.0.0.1');
  assert.equal(canonicalAddress('0:0:0:0:0:ffff:c633:6407'), '198.51.100.7');
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(canonicalAddress('"[2001:db8::1]"'), '2001:db8::1');
  assert.equal(canonicalAddress('198.51.100.7:5678'), '198.51.100.7');
  assert.equal(canonicalAddress('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalAddress('::1'), '::1');
  assert.equal(canonicalAddress('::'), '::');
  assert.equal(canonicalAddress('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(canonicalAddress('unknown'), undefined);
  assert.equal(canonicalAddress('999.1.1.1'), undefined);
  assert.equal(canonicalAddress(''), undefined);
});

test('IpList: single addresses and CIDR blocks, IPv4 and IPv6, mapped forms both ways', () => {
  const l = new IpList(['10.0.0.0/8', '198.51.100.7', '2001:db8:1::/64', '::1', '::ffff:192.0.2.0/120']);
  assert.ok(l.has('10.200.3.4'));
  assert.ok(!l.has('11.0.0.1'));
  assert.ok(l.has('198.51.100.7'));
  assert.ok(!l.has('198.51.100.8'));
  assert.ok(l.has('2001:db8:1::abcd'));
  assert.ok(!l.has('2001:db8:2::1'));
  assert.ok(l.has('::1'));
  assert.ok(l.has('192.0.2.77'), 'an IPv4-mapped entry matches the IPv4 address');
  assert.ok(l.has('::ffff:10.1.1.1'), 'an IPv4 entry matches the mapped address');
  assert.ok(!l.has('not-an-ip'));
  assert.ok(!new IpList([]).has('127.0.0.1'));
});

test('rateSubject: IPv4 per address, IPv6 per /64', () => {
  assert.equal(rateSubject('198.51.100.7'), '198.51.100.7');
  assert.equal(rateSubject('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(rateSubject('2001:db8:1:2:bbbb::9'), '2001:db8:1:2::/64');
  assert.equal(rateSubject('::1'), '::/64');
});

test('RateBuckets: exactly `limit` per window, all keys or none, sliding at the boundary, sweep', () => {
  const b = new RateBuckets();
  const t0 = 1_000_000;
  let accepted = 0;
  for (let i = 0; i < 8; i++) if (b.take(['a'], 5, 60_000, t0 + i)) accepted++;
  assert.equal(accepted, 5);
  // Key b is fresh but a is full: nothing is counted against b.
  assert.equal(b.take(['a', 'b'], 5, 60_000, t0 + 10), false);
  for (let i = 0; i < 5; i++) assert.equal(b.take(['b'], 5, 60_000, t0 + 10), true, `b hit ${i}`);
  // Just after the window: the previous window still weighs almost fully.
  assert.equal(b.take(['a'], 5, 60_000, t0 + 60_001), false);
  // Half-way through the next window, half the previous count weighs: 2.5 + 0 < 5, room for two.
  assert.equal(b.take(['a'], 5, 60_000, t0 + 90_000), true);
  assert.equal(b.take(['a'], 5, 60_000, t0 + 90_000), true);
  assert.equal(b.take(['a'], 5, 60_000, t0 + 90_000), false);
  assert.equal(b.size, 2);
  assert.equal(b.sweep(t0 + 119_000), 0);
  assert.equal(b.sweep(t0 + 300_000), 2);
  assert.equal(b.size, 0);
});

function fakeReq(remote: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers } as unknown as IncomingMessage;
}

test('clientAddress: trusted hops from the right; client-written entries are ignored', () => {
  const h = 'x-forwarded-for';
  assert.equal(clientAddress(fakeReq('::ffff:127.0.0.1', {}), undefined, 1), '127.0.0.1');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '203.0.113.9' }), undefined, 1), '127.0.0.1', 'no header configured');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '203.0.113.9' }), h, 1), '203.0.113.9');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '10.0.0.1, 203.0.113.9' }), h, 1), '203.0.113.9', 'spoofed left entry');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '10.0.0.1, 203.0.113.9, 192.0.2.1' }), h, 2), '203.0.113.9');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '203.0.113.9' }), h, 2), '203.0.113.9', 'fewer entries than hops');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '203.0.113.9' }), h, 0), '127.0.0.1', '0 hops trusts nobody');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '1.2.3.4, garbage' }), h, 1), '127.0.0.1', 'non-IP entry');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '[2001:db8::5]:1234' }), h, 1), '2001:db8::5');
  assert.equal(clientAddress(fakeReq('127.0.0.1', { [h]: '::ffff:198.51.100.7' }), h, 1), '198.51.100.7');
});

test('namesThisRelay: host must match, ports only when both are written', () => {
  assert.ok(namesThisRelay('wss://relay.example.com', 'wss://relay.example.com'));
  assert.ok(namesThisRelay('wss://Relay.Example.com/', 'relay.example.com'));
  assert.ok(namesThisRelay('wss://relay.example.com', 'relay.example.com:8080'));
  assert.ok(namesThisRelay('ws://127.0.0.1:4000', '127.0.0.1:4000'));
  assert.ok(!namesThisRelay('ws://127.0.0.1:4001', '127.0.0.1:4000'));
  assert.ok(!namesThisRelay('wss://evil.example.com', 'relay.example.com'));
  assert.ok(!namesThisRelay('wss://relay.example.com.evil.net', 'relay.example.com'));
  assert.ok(!namesThisRelay('not a url at all', 'relay.example.com'));
});

const hex = (c: string) => c.repeat(64);
const ev = (pubkey: string, tags: string[][] = []): NostrEvent => ({ id: hex('0'), pubkey, created_at: 0, kind: 1, tags, content: '', sig: hex('0') + hex('0') });
const client = (pubkeys: string[], remote = '127.0.0.1') => ({ connId: 1, remote, pubkeys });

test('list decisions: blocked before auth-required, ANY key qualifies, ANY blacklisted key blocks', () => {
  const [A, B, W, X, Y] = ['a', 'b', 'c', 'd', 'e'].map(hex) as [string, string, string, string, string];
  const r = compileRules({
    pubkey_whitelist: [A, B],
    pubkey_blacklist: [B],
    event_pubkey_whitelist: [A, W],
    event_pubkey_blacklist: [X],
    allow_mentioning_whitelisted_pubkeys: true,
  });
  assert.equal(eventDenial(r, ev(A), client([A])), undefined);
  assert.equal(eventDenial(r, ev(A), client([]))?.message.startsWith('auth-required:'), true);
  assert.equal(eventDenial(r, ev(A), client([Y]))?.label, 'pubkey_whitelist');
  assert.equal(eventDenial(r, ev(A), client([Y]))?.message.startsWith('restricted:'), true, 'authenticated and not listed: restricted, not auth-required');
  assert.equal(eventDenial(r, ev(A), client([Y, A])), undefined);
  assert.equal(eventDenial(r, ev(A), client([A, B]))?.label, 'pubkey_blacklist');
  assert.equal(eventDenial(r, ev(X), client([]))?.label, 'event_pubkey_blacklist', 'an unfixable denial is reported before auth-required');
  assert.equal(eventDenial(r, ev(Y), client([A]))?.label, 'event_pubkey_whitelist');
  assert.equal(eventDenial(r, ev(Y, [['p', W]]), client([A])), undefined);
  assert.equal(eventDenial(r, ev(X, [['p', W]]), client([A]))?.label, 'event_pubkey_blacklist');
  assert.equal(readDenial(r, client([A])), undefined);
  assert.equal(readDenial(compileRules({ pubkey_blacklist: [B] }), client([]))?.message.startsWith('auth-required:'), true);
  assert.equal(readDenial(compileRules({ pubkey_blacklist: [B] }), client([A])), undefined);
  assert.equal(readDenial(compileRules({ ip_whitelist: [] }), client([A]))?.label, 'ip_whitelist', 'an empty whitelist admits nobody');
});

test('installAccessControl: steps read the config live and report every rejection to the sink', async () => {
  const { installAccessControl } = await import('../../src/access/install.js');
  const { coreHooks, firstRejection } = await import('../../src/pipeline/hooks.js');
  const { defaultConfig } = await import('../../src/config/load.js');
  const { authenticate } = await import('../../src/pipeline/auth.js');
  const A = hex('a');
  let config = defaultConfig();
  config.auth.enabled = true;
  config.auth.event.pubkey_whitelist = [A];
  config.auth.req.ip_blacklist = ['192.0.2.0/24'];
  config.auth.event.ip_blacklist = ['192.0.2.0/24'];
  config.rate_limiter.connections_per_minute = 2;
  config.rate_limiter.req_per_minute = 1;
  config.rate_limiter.event = [{ name: 'notes', description: 'notes', period: 60_000, limit: 1, kinds: [[1, 2]], ip_whitelist: [] }];
  const hooks = coreHooks();
  const ctx = { config: () => config, hooks } as unknown as Parameters<typeof installAccessControl>[0];
  const seen: string[] = [];
  const access = installAccessControl(ctx, {
    unauthorized: (command, reason) => seen.push(`unauthorized ${command} ${reason}`),
    rateLimited: (command, name) => seen.push(`rateLimited ${command} ${name}`),
  });
  try {
    assert.match(firstRejection(hooks.connect, '192.0.2.5') ?? '', /^blocked:/);
    assert.equal(firstRejection(hooks.connect, '198.51.100.1'), undefined);
    assert.equal(firstRejection(hooks.connect, '198.51.100.1'), undefined);
    assert.match(firstRejection(hooks.connect, '198.51.100.1') ?? '', /^rate-limited:/);
    assert.match(firstRejection(hooks.event, ev(A), client([])) ?? '', /^auth-required:/);
    assert.equal(firstRejection(hooks.event, ev(A), client([A])), undefined);
    // Rate limits judge the connection, so they run before the signature check.
    assert.equal(firstRejection(hooks.preVerify, ev(A), client([A])), undefined);
    assert.equal(firstRejection(hooks.preVerify, ev(A), client([A])), 'rate-limited: notes');
    assert.equal(firstRejection(hooks.req, [{}], client([]), 'REQ'), undefined);
    assert.match(firstRejection(hooks.req, [{}], client([]), 'COUNT') ?? '', /^rate-limited:/);
    const bad = { id: hex('1'), pubkey: A, created_at: Math.floor(Date.now() / 1000), kind: 1, tags: [], content: '', sig: hex('2') + hex('2') };
    const out = await authenticate(ctx as never, bad, { challenge: 'c', localPort: 1, pubkeys: () => [], admit: () => undefined });
    assert.equal(out.ok, false);
    // A reload is a new config object: the new lists apply to the next call.
    config = { ...config, auth: { ...config.auth, event: {} }, rate_limiter: { ...config.rate_limiter, enabled: false } };
    assert.equal(firstRejection(hooks.event, ev(A), client([])), undefined);
    assert.deepEqual(seen, [
      'unauthorized CONNECT ip_blacklist',
      'rateLimited CONNECT connections_per_minute',
      'unauthorized EVENT pubkey_whitelist',
      'rateLimited EVENT notes',
      'rateLimited COUNT req_per_minute',
      'unauthorized AUTH kind',
    ]);
    assert.ok(access.bucketCount() > 0);
  } finally {
    access.stop();
  }
});
