import { pino, type Logger } from 'pino';

const PINO_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const VERBOSITY = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** RUST_LOG targets that mean "this relay": rnostr's crates, and our own name. */
const OUR_TARGETS = /^(nostr_relay|rnostr|nostr_extensions|nostr_db|mls_relay|mls-relay)(::|$)/;

export interface LevelChoice {
  level: string;
  /** Set when a variable was present but not understood; logged once the logger exists. */
  problem?: string;
}

function normalize(word: string): string | undefined {
  const w = word.trim().toLowerCase();
  if (w === 'off' || w === 'none') return 'silent';
  if (w === 'warning') return 'warn';
  return PINO_LEVELS.includes(w) ? w : undefined;
}

/**
 * env_logger syntax as rnostr operators write it: `info`, `nostr_relay=debug`,
 * `warn,nostr_relay=debug,actix_web=info`, `nostr_relay` (a bare target means trace), and
 * an optional `/regex` suffix (ignored). A directive for one of our targets wins over the
 * global level; with several (`nostr_relay::db=trace,nostr_relay=info`) the most verbose
 * wins, because we cannot filter by module and should not hide what was asked for.
 * Directives for other crates are ignored.
 */
export function parseRustLog(spec: string): string | undefined {
  let global: string | undefined;
  let ours: string | undefined;
  for (const raw of spec.split('/')[0]!.split(',')) {
    const directive = raw.trim();
    if (directive === '') continue;
    const eq = directive.indexOf('=');
    if (eq < 0) {
      const asLevel = normalize(directive);
      if (asLevel !== undefined) global = asLevel;
      else if (OUR_TARGETS.test(directive)) ours = moreVerbose(ours, 'trace');
      continue;
    }
    const target = directive.slice(0, eq).trim();
    const level = normalize(directive.slice(eq + 1));
    if (level !== undefined && OUR_TARGETS.test(target)) ours = moreVerbose(ours, level);
  }
  return ours ?? global;
}

function moreVerbose(a: string | undefined, b: string): string {
  return a === undefined || VERBOSITY.indexOf(b) > VERBOSITY.indexOf(a) ? b : a;
}

/**
 * LOG_LEVEL (pino's names, plus `off` and `warning`) wins; RUST_LOG is honoured so operators
 * coming from rnostr keep their habit. Anything unreadable falls back to info, and says so.
 */
export function levelFromEnv(env: NodeJS.ProcessEnv = process.env): LevelChoice {
  const explicit = env.LOG_LEVEL?.trim();
  if (explicit) {
    const level = normalize(explicit);
    if (level !== undefined) return { level };
    return { level: 'info', problem: `LOG_LEVEL=${JSON.stringify(explicit.slice(0, 40))} is not a level (${PINO_LEVELS.join(', ')}); using info` };
  }
  const rust = env.RUST_LOG?.trim();
  if (rust) {
    const level = parseRustLog(rust);
    if (level !== undefined) return { level };
    return { level: 'info', problem: `RUST_LOG=${JSON.stringify(rust.slice(0, 80))} sets no level for this relay; using info` };
  }
  return { level: 'info' };
}

/**
 * Never pass event content, ciphertext or secrets to the logger; log ids, kinds and counts.
 * The redaction below is the second line, for a whole event or a header set logged by
 * mistake: the usual carriers of content and keys are censored wherever they appear at the
 * top level or one object down.
 */
const REDACT_PATHS = [
  'content',
  'sig',
  'ciphertext',
  'secret',
  'password',
  'token',
  'authorization',
  '*.content',
  '*.sig',
  '*.ciphertext',
  '*.secret',
  '*.password',
  '*.token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

const choice = levelFromEnv();

/** One JSON logger for the process. */
export const log: Logger = pino({
  level: choice.level,
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  redact: { paths: REDACT_PATHS, censor: '[redacted]' },
});

if (choice.problem) log.warn(choice.problem);

export type { Logger };
