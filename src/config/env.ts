/**
 * Environment overrides, written into the parsed TOML tree before validation so they go through the
 * very same checks as the file (wrapped in EnvValue so messages name the variable, not the key).
 *
 *   MLS_RELAY_<SECTION>__<KEY>[__<KEY>...]   any setting, case-insensitive   (most specific, wins)
 *   PORT                                     network.port (Cloud Run sets it)
 *   MLS_RELAY_SYSTEM_SECRET_KEY, MLS_GATEWAY_SYSTEM_SECRET_KEY   extensions.mls_gateway.system_secret_key
 *
 * MLS_RELAY_SERVER__<KEY> sets the gateway docs' [server] (an alias of [network]), as the file may;
 * MLS_RELAY_* names without "__" are not settings (other parts of the relay may use such names).
 */
import type { ConfigProblem } from './errors.js';
import { serverSpec, type Node, type TableSpec } from './schema.js';
import { EnvValue, isTable, type Table } from './validate.js';

export const ENV_PREFIX = 'MLS_RELAY_';

const SHORTCUTS: Array<{ names: string[]; path: string[] }> = [
  { names: ['PORT'], path: ['network', 'port'] },
  { names: ['MLS_RELAY_SYSTEM_SECRET_KEY', 'MLS_GATEWAY_SYSTEM_SECRET_KEY'], path: ['extensions', 'mls_gateway', 'system_secret_key'] },
];

export function applyEnv(doc: Table, env: NodeJS.ProcessEnv, root: TableSpec, problems: ConfigProblem[]): void {
  const set = new Set<string>();
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined || !name.toUpperCase().startsWith(ENV_PREFIX)) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (!rest.includes('__')) continue;
    const path = rest.toLowerCase().split('__');
    const bad = pathProblem(path, root);
    if (bad) {
      problems.push({ env: name, key: path.join('.'), message: bad });
      continue;
    }
    put(doc, path, new EnvValue(name, value));
    set.add(path.join('.'));
  }
  for (const { names, path } of SHORTCUTS) {
    if (set.has(path.join('.'))) continue;
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (name !== undefined) put(doc, path, new EnvValue(name, env[name] as string));
  }
}

/** Why a path cannot be set from the environment, or undefined if it can. */
function pathProblem(path: string[], root: TableSpec): string | undefined {
  // [server] is no section of the schema (load.ts folds it into [network]), so its keys are looked up in serverSpec.
  const alias = path[0] === 'server' && path.length > 1;
  let node: Node = alias ? serverSpec : root;
  for (let i = alias ? 1 : 0; i < path.length; i++) {
    const part = path[i] as string;
    const soFar = path.slice(0, i + 1).join('.');
    if (part === '') return 'empty name part (too many "_" in a row?)';
    if (node.kind !== 'table') {
      return node.kind === 'tables'
        ? `${path.slice(0, i).join('.')} is a list of tables and cannot be set from the environment; use the config file`
        : `${path.slice(0, i).join('.')} is a setting, not a section`;
    }
    const child: Node | undefined = Object.hasOwn(node.fields, part) ? node.fields[part] : undefined;
    if (child === undefined) {
      if (i === 0) return `unknown section "${part}"; valid sections: ${Object.keys(root.fields).join(', ')} (and server, an alias of network)`;
      // An unknown last key is treated like one in the file (a warning, or `extra` for the gateway).
      return i === path.length - 1 ? undefined : `no section ${soFar} to set keys in`;
    }
    node = child;
  }
  if (node.kind === 'tables') return `${path.join('.')} is a list of tables and cannot be set from the environment; use the config file`;
  if (node.kind === 'table') return `${path.join('.')} is a section, not a setting`;
  return undefined;
}

function put(doc: Table, path: string[], value: EnvValue): void {
  let t = doc;
  for (const part of path.slice(0, -1)) {
    const next = t[part];
    // A non-table in the file here is replaced: the variable names a nested key, so it takes precedence.
    if (!isTable(next)) t[part] = {};
    t = t[part] as Table;
  }
  t[path[path.length - 1] as string] = value;
}
