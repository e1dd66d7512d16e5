import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import type { NostrEvent } from '../../src/protocol/types.js';
import { BACKEND_ENV, loadBackend, loadNamedBackend, type BackendName, type SchnorrBackend } from '../../src/verify/backend.js';
import { checkEvent, VERIFY_BAD_ID, VERIFY_BAD_SIG, VERIFY_OK } from '../../src/verify/check-event.js';
import { VerifyPool } from '../../src/verify/pool.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** BIP-340 test-vectors.csv (bitcoin/bips, bip-0340), vectors 0-14: [pubkey, msg, sig, valid, comment]. */
const BIP340: Array<[string, string, string, boolean, string]> = [
  ['F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9', '0000000000000000000000000000000000000000000000000000000000000000', 'E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0', true, '0'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A', true, '1'],
  ['DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8', '7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C', '5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1BAB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7', true, '2'],
  ['25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', '7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3', true, '3: msg not reduced mod p or n'],
  ['D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9', '4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703', '00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C6376AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4', true, '4'],
  ['EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B', false, '5: public key not on the curve'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', 'FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A14602975563CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2', false, '6: has_even_y(R) is false'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD', false, '7: negated message'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6', false, '8: negated s value'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '0000000000000000000000000000000000000000000000000000000000000000123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051', false, '9: sG - eP is infinite (x(inf) as 0)'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '00000000000000000000000000000000000000000000000000000000000000017615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197', false, '10: sG - eP is infinite (x(inf) as 1)'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B', false, '11: sig[0:32] is not an X coordinate on the curve'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B', false, '12: sig[0:32] is equal to field size'],
  ['DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141', false, '13: sig[32:64] is equal to curve order'],
  ['FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30', '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89', '6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B', false, '14: public key exceeds the field size'],
];

const CONTENTS = ['hello', '', 'unicode ✓ 🎉 日本語', 'quote " backslash \\ newline \n tab \t', 'ctl \u0000\u001f'];

function makeEvent(i: number): NostrEvent {
  const ev = finalizeEvent(
    {
      kind: i % 3 === 0 ? 1 : 30000 + i,
      created_at: 1_700_000_000 + i,
      tags: [['d', `item ${i}`], ['t', 'x"y\\z']],
      content: CONTENTS[i % CONTENTS.length]! + i,
    },
    generateSecretKey(),
  );
  return JSON.parse(JSON.stringify(ev)) as NostrEvent;
}

/** Flips one bit of a hex string at nibble `at`, keeping it lowercase hex. */
function flip(h: string, at: number): string {
  const n = (parseInt(h[at]!, 16) ^ 1).toString(16);
  return h.slice(0, at) + n + h.slice(at + 1);
}

function bcryptoIsNative(): boolean {
  try {
    return (createRequire(import.meta.url)('bcrypto/lib/schnorr') as { native?: number }).native === 2;
  } catch {
    return false;
  }
}

const EVENTS = Array.from({ length: 12 }, (_, i) => makeEvent(i));

const BACKENDS: Array<[BackendName, string | false]> = [
  ['bcrypto', bcryptoIsNative() ? false : 'bcrypto native binding not built on this machine'],
  ['wasm', false],
  ['noble', false],
];

for (const [name, skip] of BACKENDS) {
  describe(`backend ${name}`, { skip }, () => {
    let backend: SchnorrBackend;
    before(async () => {
      backend = await loadNamedBackend(name);
    });

    it('reports its name', () => {
      assert.equal(backend.name, name);
    });

    it('agrees with every BIP-340 test vector', () => {
      for (const [pub, msg, sig, valid, comment] of BIP340) {
        assert.equal(backend.verify(hex(sig), hex(msg), hex(pub)), valid, `vector ${comment}`);
      }
    });

    it('accepts nostr-tools signed events', () => {
      for (const ev of EVENTS) {
        assert.equal(backend.verify(hex(ev.sig), hex(ev.id), hex(ev.pubkey)), true);
        assert.equal(checkEvent(backend, ev), VERIFY_OK);
      }
    });

    it('rejects tampered events with the right code', () => {
      const [a, b] = [EVENTS[0]!, EVENTS[1]!];
      assert.equal(checkEvent(backend, { ...a, content: a.content + '!' }), VERIFY_BAD_ID);
      assert.equal(checkEvent(backend, { ...a, tags: [] }), VERIFY_BAD_ID);
      assert.equal(checkEvent(backend, { ...a, id: flip(a.id, 5) }), VERIFY_BAD_ID);
      assert.equal(checkEvent(backend, { ...a, id: a.id.toUpperCase() }), VERIFY_BAD_ID);
      assert.equal(checkEvent(backend, { ...a, pubkey: b.pubkey }), VERIFY_BAD_ID);
      assert.equal(checkEvent(backend, { ...a, sig: flip(a.sig, 10) }), VERIFY_BAD_SIG);
      assert.equal(checkEvent(backend, { ...a, sig: flip(a.sig, 100) }), VERIFY_BAD_SIG);
      assert.equal(checkEvent(backend, { ...a, sig: b.sig }), VERIFY_BAD_SIG);
      assert.equal(checkEvent(backend, { ...a, sig: a.sig.slice(2) }), VERIFY_BAD_SIG);
      assert.equal(checkEvent(backend, { ...a, sig: 'zz' + a.sig.slice(2) }), VERIFY_BAD_SIG);
      // a message signed by one key, presented as signed by another
      assert.equal(backend.verify(hex(a.sig), hex(a.id), hex(b.pubkey)), false);
    });

    it('returns false, never throws, on malformed input', () => {
      const [pub, msg, sig] = BIP340[1]!;
      const cases: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
        [new Uint8Array(0), hex(msg), hex(pub)],
        [hex(sig).subarray(1), hex(msg), hex(pub)],
        [new Uint8Array(65), hex(msg), hex(pub)],
        [hex(sig), new Uint8Array(31), hex(pub)],
        [hex(sig), hex(msg), new Uint8Array(33)],
        [hex(sig), hex(msg), new Uint8Array(32)],
        [new Uint8Array(64), new Uint8Array(32), new Uint8Array(32)],
        [new Uint8Array(64).fill(0xff), new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0xff)],
      ];
      for (const [s, m, p] of cases) assert.equal(backend.verify(s, m, p), false);
      // still works after the failures (the wasm backend reuses its scratch memory)
      assert.equal(backend.verify(hex(sig), hex(msg), hex(pub)), true);
    });
  });
}

describe('loadBackend', () => {
  it('honours an explicit choice and the environment variable', async () => {
    assert.equal((await loadBackend('noble')).name, 'noble');
    const saved = process.env[BACKEND_ENV];
    try {
      process.env[BACKEND_ENV] = 'wasm';
      assert.equal((await loadBackend()).name, 'wasm');
      process.env[BACKEND_ENV] = 'nope';
      await assert.rejects(loadBackend(), /unknown verify backend "nope"/);
    } finally {
      if (saved === undefined) delete process.env[BACKEND_ENV];
      else process.env[BACKEND_ENV] = saved;
    }
  });

  it('picks the fastest available backend by default', async (t) => {
    if (process.env[BACKEND_ENV]) return t.skip(`${BACKEND_ENV} is set`);
    assert.equal((await loadBackend()).name, bcryptoIsNative() ? 'bcrypto' : 'wasm');
  });
});

describe('VerifyPool (real Piscina workers)', () => {
  let pool: VerifyPool;
  before(async () => {
    pool = await VerifyPool.create({ threads: 2 });
  });
  after(async () => {
    await pool.close();
  });

  it('verifies a mixed batch of 500 events', async () => {
    const base = Array.from({ length: 100 }, (_, i) => makeEvent(i));
    const events: NostrEvent[] = [];
    const expected: number[] = [];
    for (let i = 0; i < 500; i++) {
      const ev = base[i % base.length]!;
      switch (i % 5) {
        case 0:
        case 1:
          events.push(ev);
          expected.push(VERIFY_OK);
          break;
        case 2:
          events.push({ ...ev, content: ev.content + ' tampered' });
          expected.push(VERIFY_BAD_ID);
          break;
        case 3:
          events.push({ ...ev, sig: flip(ev.sig, i % 128) });
          expected.push(VERIFY_BAD_SIG);
          break;
        case 4:
          events.push({ ...ev, id: flip(ev.id, i % 64) });
          expected.push(VERIFY_BAD_ID);
          break;
      }
    }
    const before = pool.stats.batches;
    const results = await Promise.all(events.map((e) => pool.verify(e)));
    assert.deepEqual(results, expected);
    const batches = pool.stats.batches - before;
    // 500 events submitted in one turn must travel in a few tasks, not one task each.
    assert.ok(batches >= 2 && batches <= 10, `batches: ${batches}`);
    assert.equal(pool.stats.queued, 0);
    assert.equal(pool.stats.inFlight, 0);
    assert.ok(pool.backendName === 'bcrypto' || pool.backendName === 'wasm', pool.backendName);
  });

  it('answers a lone event', async () => {
    assert.equal(await pool.verify(EVENTS[3]!), VERIFY_OK);
    assert.equal(pool.stats.lastBatchSize, 1);
  });
});

describe('VerifyPool options and shutdown', () => {
  it('uses a forced backend and finishes queued work on close', async () => {
    const pool = await VerifyPool.create({ threads: 1, backend: 'noble', maxBatch: 4 });
    assert.equal(pool.backendName, 'noble');
    const pending = EVENTS.map((e) => pool.verify(e));
    await pool.close();
    assert.deepEqual(await Promise.all(pending), EVENTS.map(() => VERIFY_OK));
    assert.ok(pool.stats.batches >= 3, 'maxBatch 4 splits 12 events into at least 3 tasks');
    await assert.rejects(pool.verify(EVENTS[0]!), /verify pool is closed/);
  });

  it('fails to start with an unknown backend', async () => {
    await assert.rejects(VerifyPool.create({ threads: 1, backend: 'nope' }), /unknown verify backend/);
  });
});
