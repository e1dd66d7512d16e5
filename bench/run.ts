/**
 * `npm run bench [scenario...]`: runs the scenarios in turn (all by default), prints one
 * table and writes the rows as JSON to bench/results/. Never part of `npm test`.
 * The micro-benchmarks (verify.js, match.js) run on their own: node dist/bench/verify.js.
 */
import { renderTable, machine, writeResults, type Row, type Scenario } from './lib/report.js';
import { SCENARIOS } from './scenarios/index.js';

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen: Scenario[] = wanted.length > 0 ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;

const m = machine();
console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, node ${m.node}`);
const rows: Row[] = [];
let failed = false;
for (const s of chosen) {
  console.log(`\n== ${s.name}: ${s.describe}`);
  const t0 = performance.now();
  try {
    const got = await s.run();
    rows.push(...got);
    console.log(renderTable(got));
  } catch (err) {
    failed = true;
    console.error(`${s.name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log(`\n== all scenarios, ${new Date().toISOString()}\n${renderTable(rows)}`);
console.log(`\nwritten: ${writeResults(rows)}`);
if (failed) process.exitCode = 1;
