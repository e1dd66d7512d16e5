import { createHash } from 'node:crypto';
import { serializeForId } from '../protocol/event-validate.js';
import type { NostrEvent } from '../protocol/types.js';
import type { SchnorrBackend } from './backend.js';

/** Verdicts of the verify step; numbers so a batch answer is one small Uint8Array. */
export const VERIFY_OK = 0;
export const VERIFY_BAD_ID = 1;
export const VERIFY_BAD_SIG = 2;
export type VerifyResult = typeof VERIFY_OK | typeof VERIFY_BAD_ID | typeof VERIFY_BAD_SIG;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/**
 * Id hash then signature of one event. Input comes through structured clone from the main
 * thread and is re-checked here, so a caller that skipped validateEvent cannot make this throw.
 * node:crypto's sha256 measured about 2x @noble/hashes for event-sized input on this machine
 * (145k vs 70k serialize+hash per second) and hashes the string without a TextEncoder copy.
 */
export function checkEvent(backend: SchnorrBackend, ev: NostrEvent): VerifyResult {
  let digest: Buffer;
  try {
    if (typeof ev.id !== 'string' || !HEX64.test(ev.id)) return VERIFY_BAD_ID;
    digest = createHash('sha256').update(serializeForId(ev), 'utf8').digest();
  } catch {
    return VERIFY_BAD_ID;
  }
  // Comparing hex strings also insists on the lowercase form NIP-01 requires.
  if (digest.toString('hex') !== ev.id) return VERIFY_BAD_ID;
  if (typeof ev.sig !== 'string' || !HEX128.test(ev.sig)) return VERIFY_BAD_SIG;
  if (typeof ev.pubkey !== 'string' || !HEX64.test(ev.pubkey)) return VERIFY_BAD_SIG;
  return backend.verify(Buffer.from(ev.sig, 'hex'), digest, Buffer.from(ev.pubkey, 'hex')) ? VERIFY_OK : VERIFY_BAD_SIG;
}
