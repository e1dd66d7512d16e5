import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey, getEventHash, getPublicKey, serializeEvent } from 'nostr-tools/pure';
import { computeEventId, serializeForId, validateEvent } from '../../src/protocol/event-validate.js';
import { matchFilter } from '../../src/protocol/filter-match.js';
import { parseFilters } from '../../src/protocol/filter-parse.js';
import { dTag, expirationOf, isAddressable, isEphemeral, isProtected, isReplaceable, replaceKey } from '../../src/protocol/kinds.js';
import {
  authMsg,
  closedMsg,
  countMsg,
  eoseMsg,
  eventMsg,
  noticeMsg,
  okMsg,
  parseClientMessage,
} from '../../src/protocol/messages.js';
import type { NostrEvent } from '../../src/protocol/types.js';

const NOW = 1_700_000_000;
const LIMITS = { maxEventTags: 10, maxOlderSec: 3600, maxNewerSec: 900 };
const FLIMITS = { maxFilters: 3, maxLimit: 500, minPrefix: 10 };
const HEX_A = 'a'.repeat(64);
const HEX_B = 'b'.repeat(64);

function signed(over: Partial<Pick<NostrEvent, 'kind' | 'tags' | 'content' | 'created_at'>> = {}): NostrEvent {
  // Through JSON: nostr-tools tags its events with a Symbol(verified) that deepEqual would see.
  return JSON.parse(JSON.stringify(finalizeEvent({ kind: 1, created_at: NOW, tags: [], content: 'hello', ...over }, generateSecretKey()))) as NostrEvent;
}

describe('parseClientMessage', () => {
  it('parses every verb', () => {
    const ev = signed();
    assert.deepEqual(parseClientMessage(JSON.stringify(['EVENT', ev])), { type: 'EVENT', event: ev });
    assert.deepEqual(parseClientMessage(JSON.stringify(['AUTH', ev])), { type: 'AUTH', event: ev });
    assert.deepEqual(parseClientMessage('["REQ","s1",{"kinds":[1]},{"#e":["x"]}]'), {
      type: 'REQ',
      subId: 's1',
      filters: [{ kinds: [1] }, { '#e': ['x'] }],
    });
    assert.deepEqual(parseClientMessage('["COUNT","c",{}]'), { type: 'COUNT', subId: 'c', filters: [{}] });
    assert.deepEqual(parseClientMessage('["CLOSE","s1"]'), { type: 'CLOSE', subId: 's1' });
    assert.deepEqual(parseClientMessage('["REQ","s1"]'), { type: 'REQ', subId: 's1', filters: [] });
  });

  it('answers malformed frames with a NOTICE text', () => {
    const cases: Array<[string, RegExp]> = [
      ['not json', /^invalid: could not parse message$/],
      ['{"a":1}', /^invalid: message must be a non-empty JSON array$/],
      ['[]', /^invalid: message must be a non-empty JSON array$/],
      ['"EVENT"', /^invalid: message must be a non-empty JSON array$/],
      ['[1,2]', /^invalid: message type must be a string$/],
      ['["FOO",1]', /^invalid: unknown message type "FOO"$/],
      ['["event",{}]', /^invalid: unknown message type "event"$/],
      ['["EVENT"]', /^invalid: EVENT message must be/],
      ['["EVENT",{},{}]', /^invalid: EVENT message must be/],
      ['["AUTH"]', /^invalid: AUTH message must be/],
      ['["CLOSE"]', /^invalid: CLOSE message must be/],
      ['["CLOSE","a","b"]', /^invalid: CLOSE message must be/],
      ['["CLOSE",5]', /^invalid: subscription id must be a string$/],
      ['["REQ"]', /^invalid: REQ message must be/],
      ['["REQ",1,{}]', /^invalid: subscription id must be a string$/],
      ['["REQ","",{}]', /^invalid: subscription id must not be empty$/],
      ['["COUNT",null,{}]', /^invalid: subscription id must be a string$/],
    ];
    for (const [text, re] of cases) {
      const r = parseClientMessage(text);
      assert.equal(r.type, 'notice', text);
      assert.match((r as { message: string }).message, re, text);
    }
  });

  it('caps an echoed unknown verb', () => {
    const r = parseClientMessage(JSON.stringify(['X'.repeat(10_000)]));
    assert.equal(r.type, 'notice');
    assert.ok((r as { message: string }).message.length < 80);
  });
});

describe('serializers', () => {
  const nasty = ['plain', 'q"uote', 'back\\slash', 'uni ✓ 🎉 ñ', 'ctl\u0000\u0001\u001f\n\r\t\b\f', '\u2028\u2029', '</script>'];

  it('round-trip every string through JSON.parse', () => {
    for (const s of nasty) {
      assert.deepEqual(JSON.parse(okMsg(HEX_A, false, s)), ['OK', HEX_A, false, s]);
      assert.deepEqual(JSON.parse(okMsg(HEX_A, true, '')), ['OK', HEX_A, true, '']);
      assert.deepEqual(JSON.parse(eoseMsg(s)), ['EOSE', s]);
      assert.deepEqual(JSON.parse(closedMsg(s, s)), ['CLOSED', s, s]);
      assert.deepEqual(JSON.parse(noticeMsg(s)), ['NOTICE', s]);
      assert.deepEqual(JSON.parse(countMsg(s, 42)), ['COUNT', s, { count: 42 }]);
      assert.deepEqual(JSON.parse(authMsg(s)), ['AUTH', s]);
    }
  });

  it('eventMsg splices the pre-serialized event in verbatim', () => {
    const ev = signed({ content: 'a "quoted" \\ line\nnext ✓', tags: [['t', 'x"y']] });
    const json = JSON.stringify(ev);
    for (const s of nasty) {
      const frame = eventMsg(s, json);
      assert.deepEqual(JSON.parse(frame), ['EVENT', s, ev]);
      assert.ok(frame.endsWith(',' + json + ']'));
    }
  });
});

describe('validateEvent', () => {
  const good = () => signed();

  it('accepts a well-formed event and returns a copy with only the NIP-01 fields', () => {
    const ev = { ...good(), extra: 'field' };
    const r = validateEvent(ev, LIMITS, NOW);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(Object.keys(r.event).sort(), ['content', 'created_at', 'id', 'kind', 'pubkey', 'sig', 'tags']);
    assert.notEqual(r.event, ev);
  });

  it('rejects non-objects without an id', () => {
    for (const raw of [null, 1, 'x', [], undefined]) {
      assert.deepEqual(validateEvent(raw, LIMITS, NOW), { ok: false, reason: 'invalid: event must be a JSON object' });
    }
  });

  it('names the offending field, and returns the id whenever it is well-formed', () => {
    const base = good();
    const cases: Array<[Record<string, unknown>, RegExp, boolean]> = [
      [{ id: undefined }, /^invalid: id must be 64 lowercase hex/, false],
      [{ id: base.id.toUpperCase() }, /^invalid: id must be 64 lowercase hex/, false],
      [{ id: base.id.slice(1) }, /^invalid: id must be 64 lowercase hex/, false],
      [{ pubkey: undefined }, /^invalid: pubkey must be 64 lowercase hex/, true],
      [{ pubkey: base.pubkey.toUpperCase() }, /^invalid: pubkey must be 64 lowercase hex/, true],
      [{ pubkey: 'npub1xyz' }, /^invalid: pubkey/, true],
      [{ sig: base.sig.slice(2) }, /^invalid: sig must be 128 lowercase hex/, true],
      [{ sig: 5 }, /^invalid: sig/, true],
      [{ created_at: '1700000000' }, /^invalid: created_at must be a non-negative integer$/, true],
      [{ created_at: 1.5 }, /^invalid: created_at must be a non-negative integer$/, true],
      [{ created_at: -1 }, /^invalid: created_at must be a non-negative integer$/, true],
      [{ created_at: 2 ** 60 }, /^invalid: created_at must be a non-negative integer$/, true],
      [{ kind: 65536 }, /^invalid: kind must be an integer between 0 and 65535$/, true],
      [{ kind: -1 }, /^invalid: kind/, true],
      [{ kind: 1.1 }, /^invalid: kind/, true],
      [{ kind: '1' }, /^invalid: kind/, true],
      [{ content: undefined }, /^invalid: content must be a string$/, true],
      [{ content: 5 }, /^invalid: content must be a string$/, true],
      [{ tags: undefined }, /^invalid: tags must be an array$/, true],
      [{ tags: {} }, /^invalid: tags must be an array$/, true],
      [{ tags: [['e', 'x'], 'p'] }, /^invalid: tags\[1\] must be an array$/, true],
      [{ tags: [[]] }, /^invalid: tags\[0\] must not be empty$/, true],
      [{ tags: [['e', 'x'], ['p', 5]] }, /^invalid: tags\[1\]\[1\] must be a string$/, true],
      [{ tags: Array.from({ length: 11 }, () => ['t', 'x']) }, /^invalid: too many tags \(max 10\)$/, true],
      [{ created_at: NOW - 3601 }, /^invalid: created_at is too old/, true],
      [{ created_at: NOW + 901 }, /^invalid: created_at is too far in the future/, true],
      [{ tags: [['expiration', String(NOW)]] }, /^invalid: event has expired$/, true],
      [{ tags: [['expiration', String(NOW - 10)]] }, /^invalid: event has expired$/, true],
      [{ tags: [['expiration', 'soon']] }, /^invalid: expiration tag must hold a unix timestamp/, true],
      [{ tags: [['expiration']] }, /^invalid: expiration tag/, true],
    ];
    for (const [patch, re, withId] of cases) {
      const raw: Record<string, unknown> = { ...base, ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === undefined) delete raw[k];
      const r = validateEvent(raw, LIMITS, NOW);
      assert.equal(r.ok, false, JSON.stringify(patch).slice(0, 80));
      if (r.ok) continue;
      assert.match(r.reason, re, JSON.stringify(patch).slice(0, 80));
      assert.equal(r.id, withId ? base.id : undefined, JSON.stringify(patch).slice(0, 80));
    }
  });

  it('accepts the window edges and a future expiration', () => {
    for (const patch of [
      { created_at: NOW - 3600 },
      { created_at: NOW + 900 },
      { tags: [['expiration', String(NOW + 1)]] },
      { tags: Array.from({ length: 10 }, () => ['t', 'x']) },
      { kind: 0 },
      { kind: 65535 },
    ]) {
      assert.equal(validateEvent({ ...good(), ...patch }, LIMITS, NOW).ok, true, JSON.stringify(patch).slice(0, 80));
    }
    const open = { maxEventTags: 10, maxOlderSec: Infinity, maxNewerSec: Infinity };
    assert.equal(validateEvent({ ...good(), created_at: 0 }, open, NOW).ok, true);
  });

  it('does not check id hash or signature (the verify pool does)', () => {
    const ev = good();
    assert.equal(validateEvent({ ...ev, content: 'tampered' }, LIMITS, NOW).ok, true);
    assert.equal(validateEvent({ ...ev, sig: 'f'.repeat(128) }, LIMITS, NOW).ok, true);
  });
});

describe('computeEventId (NIP-01 vectors against nostr-tools)', () => {
  const contents = [
    '',
    'plain text',
    'unicode: ✓ ñ 日本語 🎉 \u{1F600}',
    'line1\nline2\r\n\ttabbed',
    'quotes " and \'single\' and backslash \\ and \\n literal',
    'controls \u0000 \u0001 \u0008 \u000c \u001f \u007f',
    'separators \u2028 \u2029',
    '{"json":"inside"}',
  ];
  const tagSets: string[][][] = [
    [],
    [['e', HEX_A], ['p', HEX_B, 'wss://relay.example/?a=1&b="2"', 'mention']],
    [['t', 'tag with "quotes"'], ['x', 'back\\slash', 'new\nline'], ['emoji', '🎉', 'https://x/🎉.png']],
    [['-'], ['d', ''], ['expiration', '1800000000'], ['multi-letter-name', 'value']],
  ];

  it('matches getEventHash for special characters in content and tags', () => {
    const sk = generateSecretKey();
    for (const content of contents) {
      for (const tags of tagSets) {
        const ev = finalizeEvent({ kind: 1, created_at: NOW, tags, content }, sk);
        assert.equal(serializeForId(ev), serializeEvent(ev));
        assert.equal(computeEventId(ev), getEventHash(ev));
        assert.equal(computeEventId(ev), ev.id);
      }
    }
  });

  it('matches a fixed vector (guards against both sides changing together)', () => {
    const ev = {
      pubkey: getPublicKey(new Uint8Array(32).fill(1)),
      created_at: 1,
      kind: 1,
      tags: [['t', 'a']],
      content: 'a"b\\c\nd✓',
    };
    assert.equal(serializeForId(ev), `[0,"${ev.pubkey}",1,1,[["t","a"]],"a\\"b\\\\c\\nd✓"]`);
    assert.equal(computeEventId(ev), getEventHash(ev));
  });

  it('changes when anything hashed changes', () => {
    const ev = signed({ tags: [['t', 'x']] });
    const id = computeEventId(ev);
    assert.notEqual(computeEventId({ ...ev, content: ev.content + ' ' }), id);
    assert.notEqual(computeEventId({ ...ev, kind: 2 }), id);
    assert.notEqual(computeEventId({ ...ev, created_at: ev.created_at + 1 }), id);
    assert.notEqual(computeEventId({ ...ev, tags: [['t', 'y']] }), id);
  });
});

describe('parseFilters', () => {
  it('accepts every field, lowercases ids/authors, keeps limit raw', () => {
    const r = parseFilters(
      [
        {
          ids: [HEX_A.toUpperCase()],
          authors: [HEX_B],
          kinds: [0, 1, 65535],
          since: 1,
          until: 2,
          limit: 100_000,
          '#e': [HEX_A],
          '#mls-group': ['g1'],
          '#h': [],
        },
      ],
      FLIMITS,
    );
    assert.equal(r.ok, true);
    if (!r.ok) return;
    const f = r.filters[0]!;
    assert.deepEqual(f.ids, [HEX_A]);
    assert.deepEqual(f.authors, [HEX_B]);
    assert.deepEqual(f.kinds, [0, 1, 65535]);
    assert.equal(f.since, 1);
    assert.equal(f.until, 2);
    assert.equal(f.limit, 100_000);
    assert.deepEqual({ ...f.tags }, { e: [HEX_A], 'mls-group': ['g1'], h: [] });
  });

  it('keeps multi-letter tag filters usable by matchFilter', () => {
    const ev = signed({ tags: [['mls-group', 'g1'], ['e', HEX_A]] });
    const r = parseFilters([{ '#mls-group': ['g1'] }, { '#mls-group': ['g2'] }, { '#e': [HEX_A], kinds: [1] }], FLIMITS);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(matchFilter(r.filters[0]!, ev), true);
    assert.equal(matchFilter(r.filters[1]!, ev), false);
    assert.equal(matchFilter(r.filters[2]!, ev), true);
  });

  it('treats "#__proto__" as an ordinary tag name', () => {
    const raw = JSON.parse('[{"#__proto__":["x"]}]') as unknown[];
    const r = parseFilters(raw, FLIMITS);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(Object.keys(r.filters[0]!.tags!), ['__proto__']);
    assert.deepEqual(r.filters[0]!.tags!['__proto__'], ['x']);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('keeps empty arrays (they match nothing)', () => {
    const r = parseFilters([{ ids: [] }, { kinds: [] }, {}], FLIMITS);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    const ev = signed();
    assert.equal(matchFilter(r.filters[0]!, ev), false);
    assert.equal(matchFilter(r.filters[1]!, ev), false);
    assert.equal(matchFilter(r.filters[2]!, ev), true);
  });

  it('rejects bad fields with a precise reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /^invalid: filter must be a JSON object$/],
      [null, /^invalid: filter must be a JSON object$/],
      ['x', /^invalid: filter must be a JSON object$/],
      [{ search: 'x' }, /^invalid: unknown filter field "search"$/],
      [{ '#': ['x'] }, /^invalid: unknown filter field "#"$/],
      [{ ids: HEX_A }, /^invalid: filter field "ids" must be an array$/],
      [{ ids: [HEX_A.slice(0, 10)] }, /^invalid: filter field "ids" must hold 64-character hex strings/],
      [{ authors: ['z'.repeat(64)] }, /^invalid: filter field "authors" must hold 64-character hex/],
      [{ authors: [1] }, /^invalid: filter field "authors"/],
      [{ kinds: [1.5] }, /^invalid: filter field "kinds" must hold integers between 0 and 65535$/],
      [{ kinds: [70000] }, /^invalid: filter field "kinds"/],
      [{ kinds: ['1'] }, /^invalid: filter field "kinds"/],
      [{ kinds: 1 }, /^invalid: filter field "kinds" must be an array$/],
      [{ since: -1 }, /^invalid: filter field "since" must be a non-negative integer$/],
      [{ until: 1.5 }, /^invalid: filter field "until" must be a non-negative integer$/],
      [{ limit: '10' }, /^invalid: filter field "limit" must be a non-negative integer$/],
      [{ '#e': 'x' }, /^invalid: filter field "#e" must be an array$/],
      [{ '#e': [1] }, /^invalid: filter field "#e" must hold strings$/],
    ];
    for (const [raw, re] of cases) {
      const r = parseFilters([{}, raw], FLIMITS);
      assert.equal(r.ok, false, JSON.stringify(raw));
      if (!r.ok) assert.match(r.reason, re, JSON.stringify(raw));
    }
  });

  it('limits the number of filters', () => {
    assert.equal(parseFilters([{}, {}, {}], FLIMITS).ok, true);
    assert.deepEqual(parseFilters([{}, {}, {}, {}], FLIMITS), { ok: false, reason: 'invalid: too many filters (max 3)' });
  });
});

describe('kinds', () => {
  it('classifies kind ranges', () => {
    for (const k of [0, 3, 10000, 19999]) assert.equal(isReplaceable(k), true, String(k));
    for (const k of [1, 2, 4, 9999, 20000, 30000]) assert.equal(isReplaceable(k), false, String(k));
    for (const k of [20000, 29999]) assert.equal(isEphemeral(k), true, String(k));
    for (const k of [19999, 30000, 1]) assert.equal(isEphemeral(k), false, String(k));
    for (const k of [30000, 39999]) assert.equal(isAddressable(k), true, String(k));
    for (const k of [29999, 40000, 0]) assert.equal(isAddressable(k), false, String(k));
  });

  it('reads d, expiration and the NIP-70 marker', () => {
    assert.equal(dTag({ tags: [['e', 'x'], ['d', 'one'], ['d', 'two']] }), 'one');
    assert.equal(dTag({ tags: [['d']] }), '');
    assert.equal(dTag({ tags: [] }), '');
    assert.equal(expirationOf({ tags: [['expiration', '1700000000']] }), 1_700_000_000);
    assert.equal(expirationOf({ tags: [['expiration', '17e8']] }), undefined);
    assert.equal(expirationOf({ tags: [['expiration', '-5']] }), undefined);
    assert.equal(expirationOf({ tags: [] }), undefined);
    assert.equal(isProtected({ tags: [['-']] }), true);
    assert.equal(isProtected({ tags: [['-', 'x']] }), false);
    assert.equal(isProtected({ tags: [['e', '-']] }), false);
  });

  it('builds replace keys in a-tag coordinate form', () => {
    assert.equal(replaceKey({ kind: 0, pubkey: HEX_A, tags: [] }), `0:${HEX_A}:`);
    assert.equal(replaceKey({ kind: 10002, pubkey: HEX_A, tags: [['d', 'ignored']] }), `10002:${HEX_A}:`);
    assert.equal(replaceKey({ kind: 30023, pubkey: HEX_A, tags: [['d', 'post:1']] }), `30023:${HEX_A}:post:1`);
    assert.equal(replaceKey({ kind: 30023, pubkey: HEX_A, tags: [] }), `30023:${HEX_A}:`);
    assert.equal(replaceKey({ kind: 1, pubkey: HEX_A, tags: [] }), undefined);
    assert.equal(replaceKey({ kind: 20001, pubkey: HEX_A, tags: [] }), undefined);
  });
});
