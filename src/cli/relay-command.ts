import { loadConfig } from '../config/load.js';
import { watchConfig } from '../config/watch.js';
import { log } from '../log.js';
import { installFaultBarrier } from '../lifecycle/faults.js';
import { warnIfCapsExceedFileLimit } from '../lifecycle/fd-limit.js';
import { startRelay } from '../relay.js';
import { parseCommandArgs, requireConfigPath } from './args.js';

/** How long SIGTERM may take before we give up waiting (Cloud Run kills at 10 s). */
const STOP_DEADLINE_MS = 8_000;
/** How long a stopped relay may wait for the event loop to empty before exiting anyway. */
const LINGER_MS = 500;

export async function runRelay(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, watch: { type: 'boolean' } }, 'relay');
  const file = requireConfigPath(args.config, 'relay');
  const config = loadConfig(file, process.env, { serve: true });
  for (const w of config.warnings) log.warn({ file: config.file }, w);

  installFaultBarrier();
  warnIfCapsExceedFileLimit(config);
  const relay = await startRelay(config);
  log.info({ host: relay.host, port: relay.port, data: config.data.path }, 'listening');

  let current = config;
  const stopWatch = args.watch
    ? watchConfig(
        file,
        current,
        (next, restartNeeded) => {
          current = next;
          relay.setConfig(next);
          for (const w of next.warnings) log.warn({ file: next.file }, w);
          if (restartNeeded.length > 0) log.warn({ keys: restartNeeded }, 'config reloaded; these keys need a restart to take effect');
          else log.info('config reloaded');
        },
        (err) => log.error({ err: err.message }, 'config reload failed; keeping the running config'),
      )
    : () => undefined;

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      stopWatch();
      const began = Date.now();
      const timer = setTimeout(() => {
        log.error('shutdown deadline passed; exiting');
        // Whatever is stuck also holds the event loop open: only an explicit exit beats Cloud Run's SIGKILL.
        process.exit(1);
      }, STOP_DEADLINE_MS);
      timer.unref();
      relay.stop().then(
        () => {
          clearTimeout(timer);
          log.info('stopped');
          // Everything we own is closed; a handle left behind by a library must not turn a clean stop into a SIGKILL.
          setTimeout(() => process.exit(0), Math.max(0, Math.min(LINGER_MS, began + STOP_DEADLINE_MS - Date.now()))).unref();
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
          setTimeout(() => process.exit(1), LINGER_MS).unref();
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
