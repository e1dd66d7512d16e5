/**
 * `relay --watch`: reload the config when its file changes. The directory is watched, not the file,
 * because editors often save by writing a new file and renaming it over the old one, which ends a
 * watch on the old inode.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadConfig } from './load.js';
import type { Config } from './types.js';

/** Keys read once at start-up (listening socket, LMDB environment, worker pools). */
const RESTART_PREFIXES = ['data.path', 'data.map_size', 'data.backup_path', 'data.backup_interval', 'network.host', 'network.port', 'thread.', 'extensions.mls_gateway.api_prefix', 'extensions.mls_gateway.enabled'];

export interface WatchOptions {
  env?: NodeJS.ProcessEnv;
  debounceMs?: number;
}

/**
 * Calls onChange(next, restartNeeded, changed) after each edit that changes the loaded config, and
 * onError for a file that no longer loads (the current config stays in force). Returns a stop function.
 */
export function watchConfig(
  file: string,
  current: Config,
  onChange: (next: Config, restartNeeded: string[], changed: string[]) => void,
  onError: (err: Error) => void,
  options: WatchOptions = {},
): () => void {
  const path = resolve(file);
  const name = basename(path);
  const debounceMs = options.debounceMs ?? 100;
  let last = current;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let missingRetried = false;

  const report = (err: unknown): void => {
    try {
      onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // an onError that throws must not take the watcher (or the process) down with it
    }
  };

  const reload = (): void => {
    timer = undefined;
    if (stopped) return;
    let next: Config;
    try {
      next = loadConfig(path, options.env ?? process.env, { serve: true });
    } catch (e) {
      // During a rename-over save the file can be briefly absent: look once more before complaining.
      if (/no such file/.test((e as Error).message) && !missingRetried) {
        missingRetried = true;
        schedule();
        return;
      }
      missingRetried = false;
      report(e);
      return;
    }
    missingRetried = false;
    const changed = diffConfig(last, next);
    if (changed.length === 0) return;
    last = next;
    try {
      onChange(next, changed.filter(needsRestart), changed);
    } catch (e) {
      report(e);
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, changedName) => {
      // Some platforms do not report the name; reloading an unchanged file is harmless.
      if (changedName === null || changedName === name) schedule();
    });
    watcher.on('error', report);
  } catch (e) {
    report(e);
  }

  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    watcher?.close();
  };
}

export function needsRestart(key: string): boolean {
  return RESTART_PREFIXES.some((p) => (p.endsWith('.') ? key.startsWith(p) : key === p));
}

/** Dotted keys whose values differ (lists compared whole); `file` and `warnings` are not settings. */
export function diffConfig(a: Config, b: Config): string[] {
  const fa = flatten(a as unknown as Record<string, unknown>);
  const fb = flatten(b as unknown as Record<string, unknown>);
  const keys = new Set([...fa.keys(), ...fb.keys()]);
  keys.delete('file');
  keys.delete('warnings');
  return [...keys].filter((k) => fa.get(k) !== fb.get(k)).sort();
}

function flatten(obj: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [key, value] of Object.entries(obj)) {
    const dotted = prefix + key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) flatten(value as Record<string, unknown>, dotted + '.', out);
    else if (value !== undefined) out.set(dotted, JSON.stringify(value));
  }
  return out;
}
