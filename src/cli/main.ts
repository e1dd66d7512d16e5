#!/usr/bin/env node
import { runExport } from './export-command.js';
import { runImport } from './import-command.js';
import { runRelay } from './relay-command.js';
import { ConfigError } from '../config/load.js';

const USAGE = `Usage: mls-relay <command> [options]

Commands:
  relay  -c FILE [--watch]                         serve (--watch reloads the config on change)
  export -c FILE [--filter JSON] [--out FILE|-]    write stored events as JSONL, oldest first
  import -c FILE [--in FILE|-] [--no-verify] [--rejects FILE]
                                                   read JSONL events into the store; refused lines are
                                                   reported with their number (stderr, or JSONL to FILE)

Environment: MLS_RELAY_<SECTION>__<KEY> overrides any config key, PORT sets the port,
LOG_LEVEL (or RUST_LOG) sets the log level.`;

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  relay: runRelay,
  export: runExport,
  import: runImport,
};

async function main(argv: string[]): Promise<number> {
  // Everything this tool writes (the database, snapshots, exports) holds other people's
  // events and mailboxes: owner-only, whatever the caller's umask.
  process.umask(0o077);
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`mls-relay: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Operator mistakes get one clear line, never a stack trace.
    if (err instanceof ConfigError || (err instanceof Error && err.name === 'UsageError')) {
      process.stderr.write(`mls-relay: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`mls-relay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
