/**
 * Write effects decide from the tables as of the event's own place in the log, never from what
 * the store held when the message was handed to the writer. A new instance catching up replays
 * consecutive log messages in one writer batch, so a rule that read the tables too early would
 * see the store before the messages just ahead of it, and its view would differ from the
 * instances that applied them one by one:
 *   - a kind 5 deleting a KeyPackage published just before it must empty the stock;
 *   - a gift wrap (1059 with h) from the owner of a group bootstrapped just before it must make
 *     its recipient a member (membership_from_giftwrap).
 * One NATS server, two relays: a writes, b starts empty afterwards and catches up.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NATS_SKIP_MESSAGE, natsAvailable, startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { stopRelay } from '../helpers/fixture.js';
import { api, client, gatewayToml, giftWrap, keyPackage, newKeys, publishOk, randomGroup, roster, signEvent } from '../gateway/helpers.js';

const skip = natsAvailable() ? false : NATS_SKIP_MESSAGE;
const admin = newKeys();
let nats: NatsCluster | undefined;
const relays: RelayHandle[] = [];

const toml = (urls: string[], id: string) => `${gatewayToml([admin])}
[cluster]
enabled = true
nats_url = ${JSON.stringify(urls)}
stream = "apply-order-${process.pid}"
replicas = 1
instance_id = "${id}"
`;

before(async () => {
  if (skip) return;
  nats = await startNatsCluster({ nodes: 1 });
});

after(async () => {
  for (const r of relays) await stopRelay(r).catch(() => undefined);
  await nats?.stop();
});

test('a catching-up instance applies deletions and gift-wrap joins against the state just before them', { skip, timeout: 90_000 }, async (t) => {
  const a = await startRelay({ toml: toml(nats!.urls, 'a') });
  relays.push(a);
  const owner = newKeys();
  const member = newKeys();
  const group = randomGroup();
  // Only the owner's key on this connection: a relay admin may invite to any group, the owner only
  // to a group whose roster names it, so the join depends on the 450 just before it.
  const ca = await client(t, a, owner);
  for (let round = 0; round < 20; round++) {
    const kp = keyPackage(owner);
    await publishOk(ca, kp);
    await publishOk(ca, signEvent(owner, { kind: 5, tags: [['e', kp.id], ['k', '443']] }));
  }
  await publishOk(ca, roster(owner, group, 1, 'bootstrap', []));
  await publishOk(ca, giftWrap(member.pk, group));

  const stockOn = async (r: RelayHandle) => {
    const res = await api(r, owner, 'GET', `/keypackages?owner=${owner.pk}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return (res.json as { keypackages: unknown[] }).keypackages.length;
  };
  const membersOn = async (r: RelayHandle) => {
    const res = await api(r, admin, 'GET', `/groups/${group}/roster`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return (res.json as { members: string[] }).members;
  };
  assert.equal(await stockOn(a), 0, 'a: every KeyPackage was deleted');
  assert.ok((await membersOn(a)).includes(member.pk), 'a: the gift wrap made its recipient a member');

  // b replays the whole log at start: the KeyPackage and its deletion land in one writer batch.
  const b = await startRelay({ toml: toml(nats!.urls, 'b') });
  relays.push(b);
  assert.equal(await stockOn(b), 0, 'b: the deletions applied during catch-up emptied the stock too');
  assert.ok((await membersOn(b)).includes(member.pk), 'b: the gift-wrap join applied during catch-up');
});
