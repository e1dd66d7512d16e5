import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib compiles to dist/bench/lib). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Pre-signed events, kept between runs so signing is never measured (gitignored). */
export const CACHE_DIR = resolve(ROOT, 'bench', '.cache');
/** Where each run's JSON goes (gitignored). */
export const RESULTS_DIR = resolve(ROOT, 'bench', 'results');
