/**
 * Runs every benchmark in turn (`npm run bench`). Each prints its own figures as ratios
 * against a baseline measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const name of ['verify', 'match', 'ingest']) {
  console.log(`\n== bench/${name} ==`);
  const r = spawnSync(process.execPath, [join(here, `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
