/**
 * One table for a whole run, and the same rows as JSON. A row's ratio is against a
 * baseline measured in the same run, because these machines are shared and noisy.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { RESULTS_DIR } from './paths.js';

export interface Row {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  /** What the value is compared with, measured in this run. */
  baseline?: { name: string; value: number };
  /** value / baseline.value unless given. */
  ratio?: number;
  /** The target, human-readable ("≥ 0.75x", "< 150 µs"). */
  target?: string;
  met?: boolean;
}

export interface Scenario {
  name: string;
  /** One line: what it drives and how big. */
  describe: string;
  run(): Promise<Row[]>;
}

export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function ratioOf(r: Row): number | undefined {
  return r.ratio ?? (r.baseline && r.baseline.value !== 0 ? r.value / r.baseline.value : undefined);
}

export function renderTable(rows: Row[]): string {
  const head = ['scenario', 'metric', 'value', 'baseline (same run)', 'ratio', 'target', 'met'];
  const body = rows.map((r) => {
    const ratio = ratioOf(r);
    return [
      r.scenario,
      r.metric,
      `${fmt(r.value)} ${r.unit}`,
      r.baseline ? `${r.baseline.name} ${fmt(r.baseline.value)}` : '',
      ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
      r.target ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** Writes bench/results/<stamp>.json and latest.json; returns the stamped path. */
export function writeResults(rows: Row[], extra: Record<string, unknown> = {}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const at = new Date().toISOString();
  const doc = JSON.stringify({ at, machine: machine(), ...extra, rows: rows.map((r) => ({ ...r, ratio: ratioOf(r) })) }, null, 2);
  const file = join(RESULTS_DIR, `${at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, doc);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), doc);
  return file;
}
