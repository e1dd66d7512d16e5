import { createRequire } from 'node:module';
import type { SchnorrBackend } from '../schnorr.js';

interface BcryptoSchnorr {
  native?: number;
  verify(msg: Buffer, sig: Buffer, key: Buffer): boolean;
}

/** Zero-copy view: bcrypto asserts Buffer.isBuffer on every argument. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function load(): SchnorrBackend {
  const require = createRequire(import.meta.url);
  let schnorr: BcryptoSchnorr;
  try {
    schnorr = require('bcrypto/lib/schnorr') as BcryptoSchnorr;
  } catch (err) {
    throw new Error(`bcrypto is not loadable: ${(err as Error).message}`);
  }
  // bcrypto quietly serves its pure-JS code when the binding is missing (or NODE_BACKEND=js);
  // that is slower than @noble/curves, so only the native build (native === 2) is worth using.
  if (schnorr.native !== 2) throw new Error('bcrypto native binding is not loaded');
  return {
    name: 'bcrypto',
    verify(sig, msg32, pub32) {
      if (sig.length !== 64 || msg32.length !== 32 || pub32.length !== 32) return false;
      try {
        return schnorr.verify(asBuffer(msg32), asBuffer(sig), asBuffer(pub32)) === true;
      } catch {
        return false;
      }
    },
  };
}
