/**
 * BIP-340 verification behind one call, so the verify worker can use the fastest
 * implementation present on the machine. Measured on one core (bench/verify.ts):
 * bcrypto's native libsecp256k1 binding is by far the fastest, the nostr-wasm build of
 * libsecp256k1 comes next, and pure-JS @noble/curves is the always-available fallback.
 */
import { BACKEND_NAMES, isBackendName, type BackendName, type SchnorrBackend } from './schnorr.js';

export { BACKEND_NAMES, isBackendName, type BackendName, type SchnorrBackend } from './schnorr.js';

/** Environment variable that forces one backend (bcrypto|wasm|noble). */
export const BACKEND_ENV = 'MLS_RELAY_VERIFY_BACKEND';


/** Loads exactly the named backend; rejects when it is not usable here. */
export async function loadNamedBackend(name: BackendName): Promise<SchnorrBackend> {
  switch (name) {
    case 'bcrypto':
      return (await import('./backends/bcrypto.js')).load();
    case 'wasm':
      return (await import('./backends/wasm.js')).load();
    case 'noble':
      return (await import('./backends/noble.js')).load();
  }
}

/**
 * `preferred` (or else $MLS_RELAY_VERIFY_BACKEND) forces one backend and fails loudly if
 * it cannot load: an operator who asked for one must not silently get a 35x slower one.
 * Otherwise the first that loads wins, fastest first.
 */
export async function loadBackend(preferred?: string): Promise<SchnorrBackend> {
  const forced = preferred || process.env[BACKEND_ENV] || undefined;
  if (forced !== undefined) {
    if (!isBackendName(forced)) {
      throw new Error(`unknown verify backend "${forced}" (expected one of ${BACKEND_NAMES.join(', ')})`);
    }
    return loadNamedBackend(forced);
  }
  const failures: string[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return await loadNamedBackend(name);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no verify backend could be loaded (${failures.join('; ')})`);
}
