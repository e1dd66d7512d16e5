/** The one interface every BIP-340 backend implements (backends/*), apart from the loader that picks one. */
export interface SchnorrBackend {
  name: BackendName;
  /** false for any invalid or malformed input; never throws. */
  verify(sig: Uint8Array, msg32: Uint8Array, pub32: Uint8Array): boolean;
}

export type BackendName = 'bcrypto' | 'wasm' | 'noble';

export const BACKEND_NAMES: readonly BackendName[] = ['bcrypto', 'wasm', 'noble'];

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}
