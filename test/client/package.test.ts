/**
 * The client module as others install it: `mls-relay/client` through the package's `exports`
 * (with types), from a project outside the source tree. The package is linked into a temp
 * project's node_modules, the way `npm install` places it; what `npm pack` would publish is
 * checked from its file list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeDir, REPO_ROOT } from '../helpers/relay-process.js';

const run = promisify(execFile);

async function consumerProject(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await makeTempDir('mls-relay-consumer-');
  t.after(() => removeDir(dir));
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO_ROOT, join(dir, 'node_modules', 'mls-relay'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  return dir;
}

test('npm pack publishes the built relay and the client with its types, not the tests', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, timeout: 60_000 });
  const files = new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  for (const f of ['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/protocol/types.d.ts', 'dist/src/cli/main.js', 'package.json', 'README.md']) {
    assert.ok(files.has(f), `the package holds ${f}`);
  }
  assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/')), 'tests and TypeScript sources stay out');
});

test('a project outside the tree imports mls-relay/client, type-checks against it, and cannot reach internals', async (t) => {
  const dir = await consumerProject(t);
  await writeFile(
    join(dir, 'app.ts'),
    `import { buildGroupMessage, buildAuthEvent, httpAuthHeader, MlsRestClient, generateSecretKey, KIND, type NostrEvent } from 'mls-relay/client';
const sk: Uint8Array = generateSecretKey();
const msg: NostrEvent = buildGroupMessage({ groupId: 'g1', message: new Uint8Array([1, 2, 3]), epoch: 0 });
const auth: NostrEvent = buildAuthEvent(sk, 'challenge', 'wss://relay.example.com');
const header: string = httpAuthHeader(sk, { url: 'https://relay.example.com/api/v1/groups', method: 'GET' });
const rest = new MlsRestClient({ baseUrl: 'https://relay.example.com', secretKey: sk });
console.log(JSON.stringify({ kind: msg.kind, h: msg.tags.find((x) => x[0] === 'h')?.[1], auth: auth.kind, header: header.split(' ')[0], gm: KIND.GROUP_MESSAGE, rest: typeof rest }));
`,
  );
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: [] }, files: ['app.ts'] }),
  );
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: 60_000 }).catch((err: { stdout?: string }) => {
    assert.fail(`the consumer does not type-check against mls-relay/client:\n${err.stdout ?? String(err)}`);
  });
  const { stdout } = await run(process.execPath, [join('out', 'app.js')], { cwd: dir, timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { kind: 445, h: 'g1', auth: 22242, header: 'Nostr', gm: 445, rest: 'object' });

  await writeFile(join(dir, 'deep.mjs'), "import('mls-relay/dist/src/relay.js').then(() => console.log('reached'), (e) => console.log(e.code));\n");
  const deep = await run(process.execPath, ['deep.mjs'], { cwd: dir, timeout: 30_000 });
  assert.equal(deep.stdout.trim(), 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'only the exported entry points are reachable');
});
