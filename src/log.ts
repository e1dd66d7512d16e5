import { pino, type Logger } from 'pino';

/**
 * One JSON logger for the process. LOG_LEVEL wins; RUST_LOG is honoured so operators
 * coming from rnostr keep their habit (its module filters, if any, are ignored).
 * Never pass event content, ciphertext or secrets to it.
 */
function levelFromEnv(): string {
  const raw = process.env.LOG_LEVEL ?? process.env.RUST_LOG ?? 'info';
  const level = raw.split(',')[0]!.split('=').pop()!.trim().toLowerCase();
  const known = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (level === 'off') return 'silent';
  return known.includes(level) ? level : 'info';
}

export const log: Logger = pino({
  level: levelFromEnv(),
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
});

export type { Logger };
