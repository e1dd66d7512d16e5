/**
 * The mls-relay command line, run as a real process: config errors, export/import
 * round trip (with the relay's replace/delete rules and id/signature checks), and the
 * exported data being served by a relay started on it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, removeDir, startRelay } from '../helpers/relay-process.js';
import { flipHex, newKeys, now, signEvent, type Event } from '../helpers/events.js';
import { RawClient } from '../helpers/ws-client.js';

let dir: string;

async function configFile(name: string, dataDir: string, extra = ''): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `[data]\npath = ${JSON.stringify(dataDir)}\n[network]\nhost = "127.0.0.1"\nport = 0\n${extra}`);
  return file;
}

before(async () => {
  dir = await makeTempDir('mls-relay-cli-');
});
after(async () => {
  await removeDir(dir);
});

describe('config errors stop start-up with a message naming file and key', () => {
  test('wrong type', async () => {
    const file = join(dir, 'bad-type.toml');
    await writeFile(file, '[network]\nport = "abc"\n');
    const r = await runCli(['relay', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`config error in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: network\\.port`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('unknown section and unparseable duration are both reported', async () => {
    const file = join(dir, 'bad-section.toml');
    await writeFile(file, '[nosuch]\nx = 1\n[data]\ndb_query_timeout = "10 parsecs"\n');
    const r = await runCli(['relay', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nosuch/);
    assert.match(r.stderr, /data\.db_query_timeout/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('missing file, missing -c, unknown command', async () => {
    const missing = await runCli(['relay', '-c', join(dir, 'absent.toml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file/);
    const noC = await runCli(['export']);
    assert.equal(noC.code, 2);
    assert.match(noC.stderr, /missing -c FILE/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });
});

describe('export and import', () => {
  const alice = newKeys();
  const bob = newKeys();
  const base = now() - 1000;
  const notes: Event[] = [];
  for (let i = 0; i < 20; i++) notes.push(signEvent(alice, { kind: 1, content: `note ${i}`, created_at: base + i }));
  const oldProfile = signEvent(alice, { kind: 0, content: '{"name":"old"}', created_at: base });
  const newProfile = signEvent(alice, { kind: 0, content: '{"name":"new"}', created_at: base + 5 });
  const doomed = signEvent(bob, { kind: 1, content: 'to be deleted', created_at: base + 1 });
  const deletion = signEvent(bob, { kind: 5, tags: [['e', doomed.id]], created_at: base + 2 });
  const forged = { ...signEvent(bob, { content: 'forged', created_at: base + 3 }) };
  forged.sig = flipHex(forged.sig, 10);
  const ephemeral = signEvent(bob, { kind: 20001, created_at: base + 4 });

  const lines = [
    ...notes.map((e) => JSON.stringify(e)),
    JSON.stringify(newProfile),
    JSON.stringify(oldProfile), // older replaceable after the newer: not stored
    JSON.stringify(doomed),
    JSON.stringify(deletion),
    JSON.stringify(notes[3]), // duplicate
    JSON.stringify(forged), // bad signature
    JSON.stringify(ephemeral), // never stored
    '{"not": "an event"}',
    'this is not json',
    '',
  ];

  test('import applies the relay rules and reports counts; export is oldest first', async () => {
    const file = await configFile('a.toml', join(dir, 'data-a'));
    const imp = await runCli(['import', '-c', file], lines.join('\n'));
    assert.equal(imp.code, 0, imp.stderr);
    // 20 notes + newest profile + doomed + deletion = 23 stored; the older profile and the
    // repeated note are duplicates; forged, ephemeral, non-event and non-JSON lines are invalid.
    assert.match(imp.stdout, /imported 23, duplicate 2, invalid 4/);
    // Each refused line is named with its number and reason (lines counted from 1).
    const reported = imp.stderr.split('\n').filter((l) => l.startsWith('line ')).sort();
    assert.deepEqual(reported, [
      'line 26: invalid: bad signature',
      'line 27: invalid: kind 20001 is ephemeral and never stored',
      'line 28: invalid: id must be 64 lowercase hex characters',
      'line 29: invalid: not JSON',
    ]);

    const out = join(dir, 'export-a.jsonl');
    const exp = await runCli(['export', '-c', file, '--out', out]);
    assert.equal(exp.code, 0, exp.stderr);
    const exported = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Event);
    const ids = new Set(exported.map((e) => e.id));
    assert.equal(exported.length, 22, 'the deleted event is gone');
    assert.ok(!ids.has(doomed.id) && ids.has(deletion.id) && ids.has(newProfile.id) && !ids.has(oldProfile.id));
    for (let i = 1; i < exported.length; i++) {
      assert.ok(exported[i - 1]!.created_at <= exported[i]!.created_at, 'oldest first');
    }

    // --filter narrows the export; '-' writes to stdout.
    const filtered = await runCli(['export', '-c', file, '--filter', JSON.stringify({ kinds: [0] }), '--out', '-']);
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.deepEqual(
      filtered.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Event).id),
      [newProfile.id],
    );
    const badFilter = await runCli(['export', '-c', file, '--filter', '{"kinds":"x"}']);
    assert.equal(badFilter.code, 2);
    assert.match(badFilter.stderr, /--filter/);

    // Round trip: importing the export into an empty store reproduces it exactly.
    const fileB = await configFile('b.toml', join(dir, 'data-b'));
    const impB = await runCli(['import', '-c', fileB, '--in', out]);
    assert.match(impB.stdout, /imported 22, duplicate 0, invalid 0/);
    const expB = await runCli(['export', '-c', fileB]);
    assert.equal(expB.stdout, await readFile(out, 'utf8'));

    // The deletion tombstone travels with the kind-5 event: the deleted one stays out.
    const again = await runCli(['import', '-c', fileB], JSON.stringify(doomed));
    assert.match(again.stdout, /imported 0, duplicate 0, invalid 1/);
    assert.match(again.stderr, /^line 1: blocked: this event has been deleted$/m);

    // --rejects FILE takes the reports as JSONL instead of stderr.
    const rejectsFile = join(dir, 'rejects.jsonl');
    const withFile = await runCli(['import', '-c', fileB, '--rejects', rejectsFile], ['', JSON.stringify(forged), 'nope'].join('\n'));
    assert.equal(withFile.code, 0, withFile.stderr);
    assert.doesNotMatch(withFile.stderr, /^line /m);
    const rejected = (await readFile(rejectsFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(rejected.sort((a, b) => Number(a.line) - Number(b.line)), [
      { line: 2, id: forged.id, reason: 'invalid: bad signature' },
      { line: 3, reason: 'invalid: not JSON' },
    ]);
  });

  test('--no-verify skips the signature check', async () => {
    const file = await configFile('c.toml', join(dir, 'data-c'));
    const checked = await runCli(['import', '-c', file], JSON.stringify(forged));
    assert.match(checked.stdout, /imported 0, duplicate 0, invalid 1/);
    const unchecked = await runCli(['import', '-c', file, '--no-verify'], JSON.stringify(forged));
    assert.match(unchecked.stdout, /imported 1, duplicate 0, invalid 0/);
  });

  test('a relay started on imported data serves it', async () => {
    const dataDir = join(dir, 'data-d');
    const file = await configFile('d.toml', dataDir);
    const imp = await runCli(['import', '-c', file], notes.map((e) => JSON.stringify(e)).join('\n'));
    assert.match(imp.stdout, /imported 20/);
    const relay = await startRelay({ dataDir });
    const client = await RawClient.connect(relay.url);
    try {
      const { events } = await client.req('all', { authors: [alice.pk], kinds: [1] });
      assert.deepEqual(
        events.map((e) => e.id),
        [...notes].reverse().map((e) => e.id),
        'newest first',
      );
    } finally {
      await client.close();
      assert.equal(await relay.stop(), 0);
    }
  });
});
