/** One thing wrong with a config; `key` is the dotted setting, `env` the variable it came from if any. */
export interface ConfigProblem {
  key?: string;
  env?: string;
  message: string;
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.env ? `${p.env} (${p.key})` : p.key;
  return `config error in ${file}: ${where ? `${where}: ` : ''}${p.message}`;
}

/**
 * Every problem found in one load, one per line, each naming the file: fixing a config should take one
 * round trip, not one per mistake. The message never carries a stack trace or a secret value.
 */
export class ConfigError extends Error {
  readonly file: string;
  /** The first offending key (or env var), for callers that show one. */
  readonly key?: string;
  readonly problems: ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[], message?: string) {
    super(message ?? problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
    const first = problems.find((p) => p.env !== undefined || p.key !== undefined);
    this.key = first?.env ?? first?.key;
  }
}
