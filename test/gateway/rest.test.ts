/** REST API: NIP-98 failures, mailboxes (pickup, ack, expiry), registry, error shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sharedRelay, sleep } from '../helpers/fixture.js';
import { api, b64, client, gatewayToml, giftWrap, newKeys, nip98, now, publishOk, randomGroup, roster, signEvent } from './helpers.js';

const admin = newKeys();
const relay = sharedRelay({ toml: gatewayToml([admin], 'welcome_ttl = 2') });

async function raw(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(`${relay().httpUrl}/api/v1${path}`, { method, headers, body, signal: AbortSignal.timeout(5000) });
  return { status: res.status, json: JSON.parse(await res.text()) as { error: string; code: string } };
}

test('NIP-98 failures answer 401 JSON', async () => {
  const k = newKeys();
  const url = `${relay().httpUrl}/api/v1/keypackages/claim`;
  const body = JSON.stringify({ owner: k.pk });
  const hash = createHash('sha256').update(body).digest('hex');
  const cases: Array<[string, Record<string, string>]> = [
    ['missing header', {}],
    ['wrong scheme', { authorization: 'Bearer abc' }],
    ['not base64 JSON', { authorization: 'Nostr !!!' }],
    ['wrong kind', { authorization: 'Nostr ' + Buffer.from(JSON.stringify(signEvent(k, { kind: 1, tags: [['u', url], ['method', 'POST'], ['payload', hash]] }))).toString('base64') }],
    ['stale created_at', { authorization: nip98(k, 'POST', url, body, { created_at: now() - 120 }) }],
    ['other url', { authorization: nip98(k, 'POST', `${relay().httpUrl}/api/v1/welcome`, body) }],
    ['other host', { authorization: nip98(k, 'POST', url.replace('127.0.0.1', 'evil.example'), body) }],
    ['wrong method', { authorization: nip98(k, 'GET', url, body) }],
    ['missing payload', { authorization: nip98(k, 'POST', url, undefined) }],
    ['wrong payload', { authorization: nip98(k, 'POST', url, body, { tags: [['u', url], ['method', 'POST'], ['payload', hash.replace(/^./, hash[0] === '0' ? '1' : '0')]] }) }],
  ];
  const tampered = JSON.parse(Buffer.from(nip98(k, 'POST', url, body).slice(6), 'base64').toString());
  tampered.sig = tampered.sig.replace(/^./, tampered.sig[0] === '0' ? '1' : '0');
  cases.push(['bad signature', { authorization: 'Nostr ' + Buffer.from(JSON.stringify(tampered)).toString('base64') }]);
  for (const [what, headers] of cases) {
    const r = await raw('POST', '/keypackages/claim', { ...headers, 'content-type': 'application/json' }, body);
    assert.equal(r.status, 401, what);
    assert.equal(r.json.code, 'unauthorized', what);
    assert.equal(typeof r.json.error, 'string', what);
  }
  // Scheme-insensitive u (behind a TLS proxy the client signs https://).
  const ok = await raw('POST', '/keypackages/claim', { authorization: nip98(k, 'POST', url.replace('http://', 'https://'), body) }, body);
  assert.equal(ok.status, 404);
  assert.equal(ok.json.code, 'not_found');
});

test('bad requests, unknown routes and oversized bodies answer JSON errors', async () => {
  const k = newKeys();
  assert.equal((await api(relay(), k, 'POST', '/keypackages/claim', { nope: 1 })).status, 400);
  assert.equal((await api(relay(), k, 'GET', '/keypackages')).status, 400);
  const nf = await api(relay(), k, 'GET', '/nothing-here');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.code, 'not_found');
  const big = JSON.stringify({ owner: k.pk, pad: 'x'.repeat(600_000) });
  const url = `${relay().httpUrl}/api/v1/keypackages/claim`;
  const r = await fetch(url, { method: 'POST', headers: { authorization: nip98(k, 'POST', url, big) }, body: big });
  assert.equal(r.status, 413);
  assert.equal(((await r.json()) as { code: string }).code, 'payload_too_large');
});

test('key-package mailbox: deposit, pickup never deletes, ack deletes, only the recipient', async () => {
  const [sender, recipient, other] = [newKeys(), newKeys(), newKeys()];
  const dep = await api(relay(), sender, 'POST', '/keypackages', { recipient: recipient.pk, sender: sender.pk, content_b64: b64('kp bytes'), tags: [['cs', '1']] });
  assert.equal(dep.status, 200);
  assert.equal(dep.json.ok, true);
  const id = dep.json.id as string;
  assert.equal((await api(relay(), sender, 'POST', '/keypackages', { recipient: recipient.pk, sender: other.pk, content_b64: b64('x') })).status, 403);
  assert.equal((await api(relay(), sender, 'POST', '/keypackages', { recipient: recipient.pk, content_b64: 'not base64!' })).status, 400);

  assert.equal((await api(relay(), other, 'GET', `/keypackages?recipient=${recipient.pk}`)).status, 403);
  for (let i = 0; i < 2; i++) {
    const got = await api(relay(), recipient, 'GET', `/keypackages?recipient=${recipient.pk}&limit=50`);
    assert.equal(got.status, 200);
    assert.equal(got.json.items.length, 1);
    const item = got.json.items[0];
    assert.deepEqual(Object.keys(item).sort(), ['content_b64', 'created_at', 'device', 'expires_at', 'id', 'picked_up_at', 'recipient_pubkey', 'sender_pubkey', 'tags']);
    assert.equal(item.id, id);
    assert.equal(item.content_b64, b64('kp bytes'));
    assert.equal(item.sender_pubkey, sender.pk);
    assert.equal(typeof item.picked_up_at, 'number');
  }
  assert.equal((await api(relay(), other, 'POST', `/keypackages/${id}/ack`)).status, 403);
  assert.equal((await api(relay(), recipient, 'POST', `/welcome/${id}/ack`)).status, 404);
  const ack = await api(relay(), recipient, 'POST', `/keypackages/${id}/ack`);
  assert.deepEqual([ack.status, ack.json], [200, { ok: true }]);
  assert.equal((await api(relay(), recipient, 'POST', `/keypackages/${id}/ack`)).status, 404);
  assert.deepEqual((await api(relay(), recipient, 'GET', `/keypackages?recipient=${recipient.pk}`)).json.items, []);
});

test('welcome mailbox: REST deposits and accepted 1059s, expiry after welcome_ttl', async (t) => {
  const [sender, recipient] = [newKeys(), newKeys()];
  const group = randomGroup();
  const dep = await api(relay(), sender, 'POST', '/welcome', { recipient: recipient.pk, welcome_b64: b64('welcome'), ratchet_tree_b64: b64('tree'), group_id: group });
  assert.equal(dep.status, 200);
  const wrap = giftWrap(recipient.pk, group);
  await publishOk(await client(t, relay()), wrap);
  const got = await api(relay(), recipient, 'GET', `/welcome?recipient=${recipient.pk}&limit=20`);
  assert.equal(got.status, 200);
  assert.equal(got.json.items.length, 2);
  const rest = got.json.items.find((i: { id: string }) => i.id === dep.json.id);
  assert.equal(rest.welcome_b64, b64('welcome'));
  assert.equal(rest.ratchet_tree_b64, b64('tree'));
  assert.equal(rest.group_id, group);
  assert.equal(rest.content_b64, undefined, 'the payload once: welcome_b64 only');
  const fromWrap = got.json.items.find((i: { id: string }) => i.id === wrap.id);
  // The payload once: the signed gift wrap as `event`, no base64 copies of it.
  assert.deepEqual(fromWrap.event, JSON.parse(JSON.stringify(wrap)));
  assert.equal(fromWrap.welcome_b64, undefined);
  assert.equal(fromWrap.content_b64, undefined);
  assert.equal(fromWrap.group_id, group);
  assert.equal((await api(relay(), recipient, 'POST', `/welcome/${wrap.id}/ack`)).status, 200);
  // welcome_ttl = 2 s: the REST item expires without being acked.
  await sleep(2200);
  assert.deepEqual((await api(relay(), recipient, 'GET', `/welcome?recipient=${recipient.pk}`)).json.items, []);
  assert.equal((await api(relay(), recipient, 'POST', `/welcome/${dep.json.id}/ack`)).status, 404);
});

test('registry: POST /groups by admins, GET for members', async (t) => {
  const [member, outsider] = [newKeys(), newKeys()];
  const group = randomGroup();
  await publishOk(await client(t, relay(), admin), roster(admin, group, 1, 'bootstrap', [member.pk]));
  const denied = await api(relay(), member, 'POST', '/groups', { group_id: group, display_name: 'x' });
  assert.equal(denied.status, 403);
  const up = await api(relay(), admin, 'POST', '/groups', { group_id: group, display_name: 'Team', avatar_url: 'https://a.example/x.png', relays: ['wss://r.example'] });
  assert.equal(up.status, 200);
  assert.equal(up.json.group.display_name, 'Team');
  assert.equal((await api(relay(), admin, 'POST', '/groups', { group_id: group, avatar_url: 'javascript:x' })).status, 400);
  const g = await api(relay(), member, 'GET', `/groups/${group}`);
  assert.deepEqual(Object.keys(g.json.group).sort(), [
    'admin_pubkeys', 'avatar_url', 'created_at', 'display_name', 'group_id', 'last_epoch', 'last_event_ts', 'member_count', 'owner_pubkey', 'relays', 'updated_at',
  ]);
  assert.equal(g.json.group.avatar_url, 'https://a.example/x.png');
  assert.deepEqual(g.json.group.admin_pubkeys, [admin.pk]);
  assert.equal(g.json.group.member_count, 1);
  const list = await api(relay(), member, 'GET', '/groups');
  assert.deepEqual(list.json.groups.map((x: { group_id: string }) => x.group_id), [group]);
  assert.deepEqual((await api(relay(), outsider, 'GET', '/groups')).json.groups, []);
  // Not a member: the same 404 as an unknown group (issue 8, item 10).
  assert.equal((await api(relay(), outsider, 'GET', `/groups/${group}/roster`)).status, 404);
  assert.equal((await api(relay(), member, 'GET', `/groups/${randomGroup()}`)).status, 404);
});
