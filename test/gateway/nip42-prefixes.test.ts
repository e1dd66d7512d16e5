/**
 * NIP-42's two prefixes as the NIP defines them, seen through nostr-tools (from npm, unmodified):
 * `auth-required:` means "authenticate first" (nostr-tools' pool then authenticates and retries),
 * `restricted:` means "authenticated, and this key is still not allowed" (retrying with the same key
 * is pointless). A connection authenticated as a key the [auth] lists refuse used to get
 * `auth-required:` on OK, REQ and COUNT, so clients re-authenticated and waited for a timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalizeEvent, type EventTemplate } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { ntPool, ntRelay, sharedRelay, sleep } from '../helpers/fixture.js';
import { listsToml } from '../helpers/lists.js';
import { newKeys, signEvent, type Keys } from '../helpers/ws-client.js';

const A = newKeys(); // whitelisted for reading and writing
const D = newKeys(); // on no list

const relay = sharedRelay({ toml: listsToml(A.pk) });

const signer = (k: Keys) => async (t: EventTemplate) => finalizeEvent(t, k.sk);

/** nostr-tools keeps the challenge of the relay's ["AUTH", ...]; it arrives just after the open. */
async function authenticated(r: Relay, k: Keys): Promise<void> {
  for (let i = 0; i < 100 && !(r as unknown as { challenge?: string }).challenge; i++) await sleep(20);
  await r.auth(signer(k));
}

/** The reason nostr-tools hands to the caller of publish (its rejection), or 'accepted'. */
async function publishReason(r: Relay, k: Keys, content: string): Promise<string> {
  return r.publish(signEvent(k, { content })).then(
    () => 'accepted',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

/** The reason a subscription's onclose gets, or 'eose' when it was served. */
function subscribeReason(r: Relay): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer'), 5_000);
    const sub = r.subscribe([{ kinds: [1], limit: 1 }], {
      oneose: () => {
        clearTimeout(timer);
        sub.close();
        resolve('eose');
      },
      onclose: (reason) => {
        clearTimeout(timer);
        resolve(reason);
      },
    });
  });
}

async function countReason(r: Relay): Promise<string> {
  return r.count([{ kinds: [1] }], {}).then(
    () => 'counted',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

test('authenticated as a key the lists refuse: nostr-tools callers get restricted: on publish, REQ and COUNT', async (t) => {
  const r = await ntRelay(t, relay().url);
  await authenticated(r, D);
  assert.match(await publishReason(r, D, 'unlisted'), /^restricted: /);
  assert.match(await subscribeReason(r), /^restricted: /);
  assert.match(await countReason(r), /^restricted: /);
});

test('not authenticated: auth-required: reaches the caller, and nostr-tools pool authenticates and retries', async (t) => {
  const r = await ntRelay(t, relay().url);
  assert.match(await publishReason(r, A, 'anonymous'), /^auth-required: /);
  assert.match(await subscribeReason(r), /^auth-required: /);
  assert.match(await countReason(r), /^auth-required: /);

  // The pool acts on auth-required: with onauth: it authenticates as A and the retry passes.
  const pool = ntPool(t);
  const results = await Promise.allSettled(pool.publish([relay().url], signEvent(A, { content: 'after auth' }), { onauth: signer(A) }));
  assert.equal(results[0]?.status, 'fulfilled', JSON.stringify(results));
});

test('nostr-tools pool with onauth as a refused key: one restricted: answer, no re-authentication loop', async (t) => {
  const pool = ntPool(t);
  let signed = 0;
  const onauth = async (tpl: EventTemplate) => {
    signed++;
    return finalizeEvent(tpl, D.sk);
  };
  // Unauthenticated first: auth-required:, so the pool authenticates as D (once) and retries.
  const [published] = await Promise.allSettled(pool.publish([relay().url], signEvent(D, { content: 'as D' }), { onauth }));
  assert.equal(published?.status, 'rejected');
  assert.match(String((published as PromiseRejectedResult).reason?.message ?? (published as PromiseRejectedResult).reason), /^restricted: /);

  // The pool calls oneose before onclose for a closed subscription; only onclose carries the reason.
  const reasons = await new Promise<string[]>((resolve) => {
    const timer = setTimeout(() => resolve(['no CLOSED within 5 s']), 5_000);
    const sub = pool.subscribeMany([relay().url], { kinds: [1], limit: 1 }, {
      onauth,
      onclose: (rs) => {
        clearTimeout(timer);
        resolve(rs.map((x) => x.reason));
      },
    });
    t.after(() => sub.close());
  });
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /^restricted: /);
  assert.equal(signed, 1, 'the relay said restricted:, so nothing asked the pool to authenticate again');
});
