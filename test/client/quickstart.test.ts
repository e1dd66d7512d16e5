/**
 * The README's end-to-end example (examples/quickstart.mjs) run from a project outside the source
 * tree, against a real relay with the gateway on: NIP-42, a genuine KeyPackage, a REST claim, a
 * 445, catch-up in relay order. The README must show the file as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stopRelay } from '../helpers/fixture.js';
import { makeTempDir, removeDir, REPO_ROOT, startRelay } from '../helpers/relay-process.js';

const run = promisify(execFile);

test('the quickstart example runs from outside the tree and the README shows it verbatim', async (t) => {
  const example = await readFile(join(REPO_ROOT, 'examples', 'quickstart.mjs'), 'utf8');
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes('```js\n' + example + '```'), 'README.md carries examples/quickstart.mjs as one js block');

  const relay = await startRelay({ toml: '[extensions.mls_gateway]\nenabled = true\n' });
  t.after(() => stopRelay(relay));
  const dir = await makeTempDir('mls-relay-quickstart-');
  t.after(() => removeDir(dir));
  await mkdir(join(dir, 'node_modules'));
  // As `npm install mls-relay ws ts-mls` would place them.
  await symlink(REPO_ROOT, join(dir, 'node_modules', 'mls-relay'), 'dir');
  for (const dep of ['ws', 'ts-mls']) await symlink(join(REPO_ROOT, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'quickstart', private: true, type: 'module' }));
  await copyFile(join(REPO_ROOT, 'examples', 'quickstart.mjs'), join(dir, 'quickstart.mjs'));

  const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: dir, timeout: 30_000, env: { ...process.env, RELAY: relay.url } });
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'bob published a KeyPackage');
  assert.match(lines[1]!, /^alice claimed [0-9a-f]{64}$/);
  assert.match(lines[2]!, /^alice sent a 445 to quickstart-\d+$/);
  assert.equal(lines[3], 'bob caught up 1 message(s): mls ciphertext');
});
