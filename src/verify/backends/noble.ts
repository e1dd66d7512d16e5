import { schnorr } from '@noble/curves/secp256k1.js';
import type { SchnorrBackend } from '../schnorr.js';

export function load(): SchnorrBackend {
  return {
    name: 'noble',
    verify(sig, msg32, pub32) {
      if (sig.length !== 64 || msg32.length !== 32 || pub32.length !== 32) return false;
      try {
        return schnorr.verify(sig, msg32, pub32);
      } catch {
        return false;
      }
    },
  };
}
