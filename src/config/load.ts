/**
 * Reads the TOML file, applies env overrides, validates against the schema, and assembles the Config.
 * Compatibility rules for the gateway docs' layout ([server], rules directly under [auth]) live here,
 * after validation, so the schema stays a plain description of rnostr's layout.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { isLoopbackName } from '../protocol/relay-url.js';
import { applyEnv } from './env.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { authRuleFields, rootSpec, SECTION_NAMES, serverSpec } from './schema.js';
import type { Config } from './types.js';
import { defaultsOf, isTable, mergeDeep, readTable, type Report, type Table } from './validate.js';

export { ConfigError, type ConfigProblem } from './errors.js';

const MAX_SYNTAX_ERRORS = 10;

export interface LoadOptions {
  /**
   * For a relay that will take connections (`relay`, its --watch reloads), not for import/export:
   * also refuses what is unsafe to serve (a public listener without relay_url), so an rnostr.toml
   * still loads for the tools while the relay says what to add.
   */
  serve?: boolean;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const message = `cannot read config file ${abs}: ${readFailure(e)}`;
    throw new ConfigError(abs, [{ message }], message);
  }
  return parseConfig(text, abs, env, opts);
}

/** Same as loadConfig for text already in memory; `file` is only used in messages and Config.file. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const { doc, problems } = parseToml(text);
  const report: Report = { problems, warnings: [] };
  const config = doc ? buildConfig(doc, env, report) : undefined;
  const unsafe = config && opts.serve ? publicUrlProblem(config) : undefined;
  if (unsafe) report.problems.push(unsafe);
  if (report.problems.length > 0 || config === undefined) throw new ConfigError(file, report.problems);
  config.file = file;
  return config;
}

/** All defaults, no file and no environment. */
export function defaultConfig(): Config {
  const config = assemble(defaultsOf(rootSpec), {}, undefined, []);
  config.file = '(defaults)';
  return config;
}

function buildConfig(doc: Table, env: NodeJS.ProcessEnv, report: Report): Config | undefined {
  applyEnv(doc, env, rootSpec, report.problems);
  const { server, ...sections } = doc;
  const unknown = Object.keys(sections).filter((k) => !SECTION_NAMES.includes(k));
  for (const name of unknown) {
    const what = isTable(sections[name]) ? `unknown section [${name}]` : `unknown top-level key "${name}" (settings belong in a section)`;
    report.problems.push({
      key: name,
      message: `${what}; valid sections: ${SECTION_NAMES.join(', ')} (and [server], an alias of [network])`,
    });
    delete sections[name];
  }
  const partial = readTable(sections, rootSpec, '', report) ?? {};
  const serverPart = server === undefined ? undefined : readTable(server, serverSpec, 'server', report);
  if (report.problems.length > 0) return undefined;
  return assemble(mergeDeep(defaultsOf(rootSpec), partial), partial, serverPart, report.warnings);
}

/**
 * Without relay_url the relay can only recognise loopback names as its own (protocol/relay-url.ts): the
 * Host header is the sender's word, and a relay in the middle sends its own. So a relay reachable
 * from elsewhere must be told its public URL before it takes NIP-42 or NIP-98 logins.
 */
function publicUrlProblem(config: Config): ConfigProblem | undefined {
  if (config.information.relay_url !== undefined || isLoopbackName(config.network.host)) return undefined;
  return {
    key: 'information.relay_url',
    message:
      `required when network.host is not loopback (it is ${JSON.stringify(config.network.host)}): NIP-42 and NIP-98 must know ` +
      'the relay\'s public URL(s) (relay_url = "wss://relay.example.com", or MLS_RELAY_INFORMATION__RELAY_URL in the environment)',
  };
}

function assemble(merged: Table, partial: Table, server: Table | undefined, warnings: string[]): Config {
  const config = merged as unknown as Config;
  if (server) applyServerAlias(config, server, partial, warnings);
  applyTopLevelAuthRules(config);
  config.data.path = resolve(process.cwd(), config.data.path);
  config.warnings = warnings;
  return config;
}

/** [server] fills what [network] (and thread.verify) left unset: the explicit rnostr name wins. */
function applyServerAlias(config: Config, server: Table, partial: Table, warnings: string[]): void {
  const net = isTable(partial.network) ? partial.network : {};
  const thread = isTable(partial.thread) ? partial.thread : {};
  const network = config.network as unknown as Table;
  for (const [key, value] of Object.entries(server)) {
    if (key === 'workers') {
      if (thread.verify === undefined) config.thread.verify = value as number;
      else warnings.push('server.workers: ignored, thread.verify is also set (file or environment) and wins');
    } else if (net[key] === undefined) {
      network[key] = value;
    } else {
      warnings.push(`server.${key}: ignored, network.${key} is also set (file or environment) and wins`);
    }
  }
}

/** Rules written directly under [auth] apply to reads and writes; lists are unioned with the sub-tables'. */
function applyTopLevelAuthRules(config: Config): void {
  const auth = config.auth as unknown as Table;
  for (const key of Object.keys(authRuleFields)) {
    const value = auth[key];
    delete auth[key];
    if (value === undefined) continue;
    for (const rules of [config.auth.req, config.auth.event] as unknown as Table[]) {
      const own = rules[key];
      if (Array.isArray(value)) rules[key] = [...new Set([...(Array.isArray(own) ? own : []), ...value])];
      else if (own === undefined) rules[key] = value;
    }
  }
}

/**
 * smol-toml stops at the first syntax error. To report more than one mistake per attempt, the offending
 * line is commented out and parsing retried; the document is still rejected, the retry only finds more.
 */
function parseToml(text: string): { doc?: Table; problems: ConfigProblem[] } {
  const lines = text.split(/\r?\n/);
  const problems: ConfigProblem[] = [];
  const skipped = new Set<number>();
  for (let attempt = 0; attempt < MAX_SYNTAX_ERRORS; attempt++) {
    try {
      return { doc: parse(lines.join('\n'), { unsafeKeyBehaviour: 'throw' }) as Table, problems };
    } catch (e) {
      if (!(e instanceof TomlError)) throw e;
      let summary = e.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'syntax error';
      const at = lines[e.line - 1]?.trim();
      const header = at?.match(/^\[\[?[^\]]+\]\]?/)?.[0];
      if (header && /redefine/.test(summary)) summary = `${header} is already defined above (a section may appear only once)`;
      problems.push({ message: `line ${e.line}, column ${e.column}: ${summary}${at ? ` (at ${JSON.stringify(at.slice(0, 60))})` : ''}` });
      const index = e.line - 1;
      if (index < 0 || index >= lines.length || skipped.has(index)) break;
      skipped.add(index);
      lines[index] = '# ' + lines[index];
    }
  }
  return { problems };
}

function readFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (e as Error).message;
}
