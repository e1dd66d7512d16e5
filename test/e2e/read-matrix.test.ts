/**
 * The read-rule matrix of PROTOCOL.md, table-driven: every restricted kind × reader role ×
 * delivery path (REQ by id, REQ by the filter a client would use, live, COUNT, REST), plus
 * the empty filter. Each kind has a stored event (published before the readers ask) and a
 * live one (published while their subscriptions are open).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildGroupMessage,
  buildKeyPackageEvent,
  buildKeyPackageRequest,
  buildNoiseDm,
  buildRelayList,
  buildRosterEvent,
  giftWrapWelcome,
  type ApiResponse,
  type MlsRestClient,
  type NostrEvent,
} from '../../src/client/index.js';
import { assertOk, sleep, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { newKeys, now, type Filter, type Keys, type RawClient } from '../helpers/ws-client.js';
import { newKeyPackage } from './mls.js';
import { connectAs, gatewayToml, randomGroupId, reqOnce, rest, subId } from './support.js';

type Who = 'unauth' | 'nonmember' | 'member' | 'recipient' | 'admin';
const WHO: Who[] = ['unauth', 'nonmember', 'member', 'recipient', 'admin'];
/** true: must see it; false: must never see it; null: PROTOCOL.md does not decide, not asserted. */
type Rule = Record<Who, boolean | null>;

interface Row {
  kind: number;
  /** Whether an unauthenticated REQ naming only this kind must be CLOSED with auth-required. */
  restricted: boolean;
  ws: Rule;
  filter: Filter;
  stored?: NostrEvent;
  live?: NostrEvent;
  /** REST endpoint that can return this kind, checked against the stored event. */
  rest?: { path: string; call: (api: MlsRestClient) => Promise<ApiResponse<unknown>>; rule: Rule };
}

const SILENCE_MS = 800;
const only = (...yes: Who[]): Rule => Object.fromEntries(WHO.map((w) => [w, yes.includes(w)])) as Rule;

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(25);
  }
  return true;
}

function sawOn(c: RawClient, sub: string, id: string): boolean {
  return c.messages.some((m) => m[0] === 'EVENT' && m[1] === sub && (m[2] as NostrEvent).id === id);
}

function sawAnywhere(c: RawClient, id: string): boolean {
  return c.messages.some((m) => m[0] === 'EVENT' && (m[2] as NostrEvent).id === id);
}

test('read-rule matrix: restricted kinds × readers × REQ / live / COUNT / REST, and the empty filter', async (t) => {
  const admin = newKeys();
  /** A second relay admin who founds the group (only relay admins may bootstrap an unknown group). */
  const owner = newKeys();
  const member = newKeys();
  const recipient = newKeys();
  /** The recipient's second key on the same connection (NIP-42 with several pubkeys). */
  const recipient2 = newKeys();
  const nonmember = newKeys();
  const outsider = newKeys();
  const relay = await startRelay({ toml: gatewayToml({ admins: [admin.pk, owner.pk] }) });
  t.after(() => stopRelay(relay));
  const G = randomGroupId();

  const ownerWs = await connectAs(t, relay, [owner]);
  const memberWs = await connectAs(t, relay, [member]);
  const adminWs = await connectAs(t, relay, [admin]);
  const nonmemberWs = await connectAs(t, relay, [nonmember]);
  const outsiderWs = await connectAs(t, relay, [outsider]);
  const readers: Record<Who, RawClient> = {
    unauth: await connectAs(t, relay, []),
    nonmember: nonmemberWs,
    member: memberWs,
    recipient: await connectAs(t, relay, [recipient, recipient2]),
    admin: adminWs,
  };
  const keysOf: Record<Who, Keys | undefined> = { unauth: undefined, nonmember, member, recipient, admin };

  const kpEvent = async () => {
    const kp = await newKeyPackage(owner.pk);
    return buildKeyPackageEvent(owner.sk, { keyPackage: kp.encoded, keyRef: kp.ref, expiresAt: now() + 86_400 });
  };

  // Who publishes what; `phase` makes stored and live events distinct.
  const rows: Array<Row & { make: (phase: 'stored' | 'live') => Promise<{ ws: RawClient; ev: NostrEvent }> }> = [
    {
      kind: 443,
      restricted: true,
      ws: only('nonmember', 'member', 'recipient', 'admin'),
      filter: { kinds: [443], authors: [owner.pk] },
      rest: { path: 'GET /keypackages?owner', call: (api) => api.listKeyPackages(owner.pk), rule: only('nonmember', 'member', 'recipient', 'admin') },
      make: async () => ({ ws: ownerWs, ev: await kpEvent() }),
    },
    {
      kind: 450,
      restricted: true,
      // "members and admins of h": a relay admin outside the group is not decided by the contract.
      ws: { ...only('member'), admin: null },
      filter: { kinds: [450], '#h': [G] },
      rest: { path: 'GET /groups/{id}/roster', call: (api) => api.getRoster(G), rule: { ...only('member'), admin: null } },
      make: async (phase) => ({
        ws: ownerWs,
        ev:
          phase === 'stored'
            ? buildRosterEvent(owner.sk, { groupId: G, seq: 1, op: 'bootstrap', members: [member.pk] })
            : buildRosterEvent(owner.sk, { groupId: G, seq: 2, op: 'add', members: [outsider.pk] }),
      }),
    },
    {
      kind: 445,
      restricted: true,
      // A `p` hint does not make the recipient a reader; only members of h read 445 (group_policy members).
      ws: only('member'),
      filter: { kinds: [445], '#h': [G] },
      rest: { path: 'POST /messages/group', call: (api) => api.groupMessages({ group_id: G, since: 0 }), rule: only('member') },
      make: async (phase) => ({
        ws: memberWs,
        ev: buildGroupMessage({ groupId: G, epoch: 1, message: new Uint8Array([phase === 'stored' ? 1 : 2, 42]), hints: [phase === 'stored' ? recipient.pk : recipient2.pk] }),
      }),
    },
    {
      kind: 446,
      restricted: true,
      ws: only('member', 'recipient'), // the author (member) and the p recipient
      filter: { kinds: [446], '#p': [recipient.pk, recipient2.pk] },
      // POST /messages/missed lists what is addressed to the caller; the author is not decided.
      rest: { path: 'POST /messages/missed', call: (api) => api.missedMessages({ since: 0 }), rule: { ...only('recipient'), member: null } },
      make: async (phase) => ({ ws: memberWs, ev: buildNoiseDm(member.sk, { recipient: phase === 'stored' ? recipient.pk : recipient2.pk, content: `bm9pc2U${phase}` }) }),
    },
    {
      kind: 447,
      restricted: true,
      ws: only('recipient', 'admin'),
      filter: { kinds: [447], '#p': [recipient.pk, recipient2.pk] },
      rest: { path: 'POST /messages/missed', call: (api) => api.missedMessages({ since: 0 }), rule: { ...only('recipient'), admin: null } },
      // Two targets: 447s are rate limited per target.
      make: async (phase) => ({ ws: adminWs, ev: buildKeyPackageRequest(admin.sk, { target: phase === 'stored' ? recipient.pk : recipient2.pk, min: 2, ttl: 3600 }) }),
    },
    {
      kind: 1059,
      restricted: true,
      ws: only('recipient'),
      filter: { kinds: [1059], '#p': [recipient.pk, recipient2.pk] },
      rest: { path: 'POST /messages/missed', call: (api) => api.missedMessages({ since: 0 }), rule: only('recipient') },
      // No `h`: a wrap with h from the owner would enrol the recipient in the group.
      make: async (phase) => ({ ws: ownerWs, ev: giftWrapWelcome(owner.sk, phase === 'stored' ? recipient.pk : recipient2.pk, { welcome: new Uint8Array([7, 7]) }).wrap }),
    },
    {
      // Control: an open kind reaches everyone, so the matrix cannot pass by delivering nothing.
      kind: 10002,
      restricted: false,
      ws: only('unauth', 'nonmember', 'member', 'recipient', 'admin'),
      filter: { kinds: [10002], authors: [nonmember.pk, outsider.pk] },
      // Two authors: a replaceable event by the same author would replace the stored one.
      make: async (phase) =>
        phase === 'stored'
          ? { ws: nonmemberWs, ev: buildRelayList(nonmember.sk, [{ url: 'wss://stored.example' }]) }
          : { ws: outsiderWs, ev: buildRelayList(outsider.sk, [{ url: 'wss://live.example' }]) },
    },
  ];

  // Stored events, in row order (the 450 bootstrap precedes the member's 445).
  for (const row of rows) {
    const { ws, ev } = await row.make('stored');
    assertOk(await ws.publish(ev), true);
    row.stored = ev;
  }

  // Live subscriptions: one per kind per reader, plus one empty filter.
  const liveSub = new Map<string, string>();
  const emptySub: Partial<Record<Who, string>> = {};
  const emptyStored: Partial<Record<Who, NostrEvent[]>> = {};
  for (const who of WHO) {
    for (const row of rows) {
      const id = subId(`live-${who}-${row.kind}`);
      await readers[who].req(id, row.filter);
      liveSub.set(`${who}/${row.kind}`, id);
    }
    const id = subId(`empty-${who}`);
    const r = await readers[who].req(id, {});
    assert.equal(r.eose, true, `REQ {} from ${who} must not be refused (it matches open kinds): ${r.closed}`);
    emptySub[who] = id;
    emptyStored[who] = r.events;
  }

  for (const row of rows) {
    const { ws, ev } = await row.make('live');
    assertOk(await ws.publish(ev), true);
    row.live = ev;
  }
  await sleep(SILENCE_MS);

  for (const row of rows) {
    for (const who of WHO) {
      const rule = row.ws[who];
      const c = readers[who];
      const stored = row.stored!;
      const live = row.live!;
      await t.test(`${row.kind} × ${who}`, async () => {
        if (rule === null) return;
        const what = `${row.kind} for ${who}`;

        // REQ by id (no kinds in the filter: restricted events must still be left out).
        const byId = await reqOnce(c, `id-${who}-${row.kind}`, { ids: [stored.id] });
        assert.equal(byId.events.some((e) => e.id === stored.id), rule, `REQ {ids} ${what}: ${JSON.stringify(byId.closed ?? byId.events.map((e) => e.id))}`);

        // REQ with the filter a client would send.
        const nat = await reqOnce(c, `req-${who}-${row.kind}`, row.filter);
        assert.equal(nat.events.some((e) => e.id === stored.id), rule, `REQ ${JSON.stringify(row.filter)} ${what}`);
        if (who === 'unauth' && row.restricted) {
          assert.equal(nat.eose, false, `unauthenticated REQ for kind ${row.kind} only must be CLOSED`);
          assert.match(nat.closed ?? '', /^auth-required: /);
        }

        // Live, on the kind subscription and on the empty-filter subscription.
        const ks = liveSub.get(`${who}/${row.kind}`)!;
        if (rule) {
          assert.ok(await waitFor(() => sawOn(c, ks, live.id), 5_000), `live ${what} on ${JSON.stringify(row.filter)}`);
          assert.ok(await waitFor(() => sawOn(c, emptySub[who]!, live.id), 5_000), `live ${what} on {}`);
        } else {
          assert.equal(sawAnywhere(c, live.id), false, `live ${what} leaked`);
          assert.equal(sawAnywhere(c, stored.id), false, `stored ${what} leaked on some subscription`);
        }

        // COUNT.
        const cnt = await c.count(subId(`cnt-${who}-${row.kind}`), { kinds: [row.kind], ids: [stored.id, live.id] });
        if (rule) assert.equal(cnt.count, 2, `COUNT ${what}: ${JSON.stringify(cnt)}`);
        else assert.ok(cnt.closed !== undefined || cnt.count === 0, `COUNT ${what} must be 0 or CLOSED: ${JSON.stringify(cnt)}`);
        const cntAll = await c.count(subId(`cntall-${who}-${row.kind}`), { ids: [stored.id, live.id] });
        assert.ok(rule || cntAll.closed !== undefined || cntAll.count === 0, `COUNT {ids} ${what}: ${JSON.stringify(cntAll)}`);

        // REST.
        if (row.rest && row.rest.rule[who] !== null) {
          const api = rest(relay, keysOf[who]);
          const r = await row.rest.call(api);
          if (who === 'unauth') assert.ok(r.status === 401 || r.status === 403, `${row.rest.path} without NIP-98 -> ${r.status}`);
          if (row.rest.rule[who]) {
            assert.equal(r.status, 200, `${row.rest.path} ${what}: ${r.text.slice(0, 300)}`);
            assert.ok(r.text.includes(stored.id), `${row.rest.path} ${what} lists the event`);
          } else {
            assert.ok(!r.text.includes(stored.id) && !r.text.includes(live.id), `${row.rest.path} ${what} leaked: ${r.status} ${r.text.slice(0, 300)}`);
          }
        }
      });
    }
  }

  await t.test('empty filter {}: stored and live results are exactly what each reader may read', async () => {
    for (const who of WHO) {
      const c = readers[who];
      const allowed = new Set<string>();
      const undecided = new Set<string>();
      for (const row of rows) {
        const rule = row.ws[who];
        for (const ev of [row.stored!, row.live!]) (rule === null ? undecided : rule ? allowed : new Set<string>()).add(ev.id);
      }
      const storedOnly = new Set(rows.filter((r) => r.ws[who]).map((r) => r.stored!.id));
      const got = emptyStored[who]!.map((e) => e.id).filter((id) => !undecided.has(id));
      assert.deepEqual(new Set(got), storedOnly, `REQ {} (before the live events) from ${who}`);

      const fresh = await reqOnce(c, `empty2-${who}`, {});
      assert.deepEqual(new Set(fresh.events.map((e) => e.id).filter((id) => !undecided.has(id))), allowed, `REQ {} from ${who}`);
      for (const m of c.messages) {
        if (m[0] !== 'EVENT') continue;
        const id = (m[2] as NostrEvent).id;
        assert.ok(allowed.has(id) || undecided.has(id), `${who} received ${(m[2] as NostrEvent).kind} ${id.slice(0, 8)} on ${String(m[1])}`);
      }
      if (!undecided.size) {
        const cnt = await c.count(subId(`cnt-empty-${who}`), {});
        assert.equal(cnt.count, allowed.size, `COUNT {} from ${who}: ${JSON.stringify(cnt)}`);
      }
    }
  });
});
