/**
 * Walks a parsed TOML tree against the schema: returns only the keys that were present (checked and
 * normalised), collecting every problem and warning instead of stopping at the first.
 */
import { describe } from './checks.js';
import type { ConfigProblem } from './errors.js';
import { ListError } from './keys.js';
import type { Node, TableSpec } from './schema.js';

/** A value that came from an environment variable, so messages can name the variable. */
export class EnvValue {
  constructor(readonly name: string, readonly value: string) {}
}

export interface Report {
  problems: ConfigProblem[];
  warnings: string[];
}

export type Table = Record<string, unknown>;

/** smol-toml builds tables with a null prototype; ours have Object's. Anything else (dates) is a value. */
export function isTable(v: unknown): v is Table {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

/** Copies parser output into ordinary objects so what callers get compares and prints normally. */
function toPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toPlain);
  if (isTable(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

export function readTable(raw: unknown, spec: TableSpec, label: string, report: Report): Table | undefined {
  if (!isTable(raw)) {
    report.problems.push({ key: label, message: `expected a table, got ${describe(raw)}` });
    return undefined;
  }
  const out: Table = {};
  const extra: Table = {};
  for (const [key, value] of Object.entries(raw)) {
    const dotted = label ? `${label}.${key}` : key;
    const node: Node | undefined = Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
    if (node === undefined) {
      const where = value instanceof EnvValue ? `${value.name} (${dotted})` : dotted;
      const why = spec.ignored && Object.hasOwn(spec.ignored, key) ? spec.ignored[key] : undefined;
      if (why !== undefined) {
        report.warnings.push(`${where}: ${why}`);
      } else if (spec.unknown === 'extra') {
        extra[key] = value instanceof EnvValue ? value.value : toPlain(value);
        report.warnings.push(`${where}: not used by this relay (kept in ${label}.extra)`);
      } else {
        report.warnings.push(`${where}: unknown key, ignored (known keys: ${Object.keys(spec.fields).join(', ')})`);
      }
      continue;
    }
    const v = readNode(value, node, dotted, report);
    if (v !== undefined) out[key] = v;
  }
  for (const key of spec.required ?? []) {
    if (!Object.hasOwn(raw, key)) report.problems.push({ key: `${label}.${key}`, message: 'required' });
  }
  if (spec.unknown === 'extra') out.extra = extra;
  return out;
}

function readNode(value: unknown, node: Node, dotted: string, report: Report): unknown {
  const fromEnv = value instanceof EnvValue;
  const raw = value instanceof EnvValue ? value.value : value;
  const problem = (message: string, suffix = ''): void => {
    report.problems.push(value instanceof EnvValue ? { key: dotted + suffix, env: value.name, message } : { key: dotted + suffix, message });
  };
  if (node.kind === 'table') {
    if (fromEnv) return problem('is a section, not a setting'), undefined;
    return readTable(value, node, dotted, report);
  }
  if (node.kind === 'tables') {
    if (!Array.isArray(raw)) return problem(`expected an array of tables ([[${dotted}]]), got ${describe(raw)}`), undefined;
    return raw.flatMap((item, i) => {
      const t = readTable(item, node.item, `${dotted}[${i}]`, report);
      return t ? [mergeDeep(defaultsOf(node.item), t)] : [];
    });
  }
  try {
    return node.check(raw, {
      fromEnv,
      warn: (m) => report.warnings.push(`${value instanceof EnvValue ? value.name : dotted}: ${m}`),
    });
  } catch (e) {
    if (e instanceof ListError) for (const p of e.problems) problem(p.message, `[${p.index}]`);
    else problem((e as Error).message);
    return undefined;
  }
}

/** The defaults of a table, derived from the schema (structuredClone so callers may mutate freely). */
export function defaultsOf(spec: TableSpec): Table {
  const out: Table = {};
  for (const [key, node] of Object.entries(spec.fields)) {
    if (node.kind === 'table') out[key] = defaultsOf(node);
    else if (node.kind === 'tables') out[key] = [];
    else if (node.default !== undefined) out[key] = structuredClone(node.default);
  }
  if (spec.unknown === 'extra') out.extra = {};
  return out;
}

/** Tables merge key by key; anything else (including arrays) in `over` replaces what `base` had. */
export function mergeDeep(base: Table, over: Table): Table {
  const out: Table = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isTable(prev) && isTable(value) ? mergeDeep(prev, value) : value;
  }
  return out;
}
