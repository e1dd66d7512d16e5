/**
 * The rooms import each other in one direction only: no file of src/, actors/ or workers/
 * reaches itself through imports (type-only imports and dynamic imports included), so each
 * can be read, tested and replaced on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO_ROOT } from '../helpers/relay-process.js';

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

test('no import cycles between the source files', () => {
  const files = ['src', 'actors', 'workers'].flatMap((d) => sources(join(REPO_ROOT, d)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(f), (m[1] ?? m[2])!)).replace(/\.js$/, '.ts');
      if (known.has(target)) deps.push(target);
    }
    graph.set(f, deps);
  }
  // Depth-first search with an explicit path: the first back edge found is reported as the cycle.
  const done = new Set<string>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (done.has(f)) return;
    const at = path.indexOf(f);
    if (at >= 0) {
      cycles.push([...path.slice(at), f].map((p) => relative(REPO_ROOT, p)).join(' -> '));
      return;
    }
    for (const d of graph.get(f)!) visit(d, [...path, f]);
    done.add(f);
  };
  for (const f of files) visit(f, []);
  assert.ok(files.length > 50, 'the sources were found');
  assert.deepEqual(cycles, []);
});
