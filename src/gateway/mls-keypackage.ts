/**
 * The MLS KeyPackage inside a 443/30443 (RFC 9750 §5.1: the delivery service checks what it
 * hands out). Decodes the content with ts-mls and verifies both signatures of RFC 9420 §10.1:
 * the leaf node's (LeafNodeTBS) and the KeyPackage's (KeyPackageTBS), both by the leaf node's
 * signature key. The relay still never decrypts anything: a KeyPackage is public material.
 */
import { ciphersuites, getCiphersuiteFromName, type CiphersuiteName } from 'ts-mls/crypto/ciphersuite.js';
import { makeNobleSignatureImpl } from 'ts-mls/crypto/implementation/default/makeNobleSignatureImpl.js';
import type { Signature } from 'ts-mls/crypto/signature.js';
import { extensionTypeToNumber } from 'ts-mls/extension.js';
import { decodeKeyPackage, verifyKeyPackage, type KeyPackage } from 'ts-mls/keyPackage.js';
import { verifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js';
import { decodeMlsMessage } from 'ts-mls/message.js';
import type { NostrEvent } from '../protocol/types.js';
import { firstTag } from './tags.js';

/** draft-ietf-mls-extensions `last_resort` (0x000a), as OpenMLS/MDK and Marmot use it: a KeyPackage extension. */
export const LAST_RESORT_EXTENSION = 0x000a;

/** What the stock needs from a verified KeyPackage. */
export interface KeyPackageFacts {
  /** RFC 9420 ciphersuite id (1 = MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). */
  suite: number;
  lastResort: boolean;
  /** Leaf node lifetime, unix seconds (not_after capped to a safe integer). */
  notBefore: number;
  notAfter: number;
}

const SUITE_IDS = ciphersuites as Record<string, number>;
const SUITE_NAMES = new Map(Object.entries(SUITE_IDS).map(([name, id]) => [id, name]));

/** `0x0001`, `1` or the RFC 9420 name; undefined when none of those. */
export function parseSuite(v: string): number | undefined {
  if (/^0x[0-9a-f]{1,4}$/i.test(v)) return parseInt(v.slice(2), 16);
  if (/^\d{1,5}$/.test(v)) {
    const n = Number(v);
    return n <= 0xffff ? n : undefined;
  }
  return SUITE_IDS[v];
}

export const suiteHex = (id: number): string => '0x' + id.toString(16).padStart(4, '0');

const HEX_ONLY = /^(?:[0-9a-fA-F]{2})+$/;

/**
 * base64 unless the event says hex. NIP-EE's first KeyPackages were hex with no encoding tag:
 * content made only of hex digit pairs is read as hex then (base64 of a KeyPackage, hundreds
 * of characters, is never all hex digits).
 */
function contentBytes(e: Pick<NostrEvent, 'content' | 'tags'>): Uint8Array {
  const s = e.content.trim();
  const encoding = firstTag(e, 'encoding');
  return encoding === 'hex' || (encoding === undefined && HEX_ONLY.test(s)) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
}

/**
 * The KeyPackage in the bytes: an MLSMessage with wireformat mls_key_package (ts-mls,
 * marmot-ts) or a bare TLS-serialized KeyPackage (OpenMLS/MDK). Either must use every byte.
 */
function decodeEither(bytes: Uint8Array): KeyPackage | undefined {
  try {
    const m = decodeMlsMessage(bytes, 0);
    if (m && m[1] === bytes.length && m[0].wireformat === 'mls_key_package') return m[0].keyPackage;
  } catch {
    /* not an MLSMessage: try the bare form */
  }
  try {
    const k = decodeKeyPackage(bytes, 0);
    if (k && k[1] === bytes.length) return k[0];
  } catch {
    /* neither */
  }
  return undefined;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const toSec = (b: bigint): number => Number(b > MAX_SAFE ? MAX_SAFE : b);

/** Decoding only (no signature check): the facts of a KeyPackage already verified at ingest. */
export function keyPackageFacts(e: Pick<NostrEvent, 'content' | 'tags'>): KeyPackageFacts | undefined {
  const kp = decodeEither(contentBytes(e));
  return kp === undefined ? undefined : factsOf(kp);
}

function factsOf(kp: KeyPackage): KeyPackageFacts | undefined {
  const suite = SUITE_IDS[kp.cipherSuite] ?? parseSuite(String(kp.cipherSuite));
  if (suite === undefined || kp.leafNode.leafNodeSource !== 'key_package') return undefined;
  return {
    suite,
    lastResort: kp.extensions.some((x) => extensionTypeToNumber(x.extensionType) === LAST_RESORT_EXTENSION),
    notBefore: toSec(kp.leafNode.lifetime.notBefore),
    notAfter: toSec(kp.leafNode.lifetime.notAfter),
  };
}

const signers = new Map<number, Promise<Signature | undefined>>();

/** The suite's signature scheme alone (no HPKE): what verification needs, loaded once per suite. */
function signerFor(suite: number): Promise<Signature | undefined> {
  let s = signers.get(suite);
  if (s === undefined) {
    const name = SUITE_NAMES.get(suite) as CiphersuiteName | undefined;
    s = name === undefined ? Promise.resolve(undefined) : makeNobleSignatureImpl(getCiphersuiteFromName(name).signature).catch(() => undefined);
    signers.set(suite, s);
  }
  return s;
}

/**
 * Full check of a 443/30443's content at `now` (unix s): the facts, or an `invalid: ...`
 * refusal. Tag `cs`/`ciphersuite`/`mls_ciphersuite`, when present, must name the same suite.
 */
export async function inspectKeyPackage(e: Pick<NostrEvent, 'content' | 'tags'>, now: number): Promise<KeyPackageFacts | string> {
  const kp = decodeEither(contentBytes(e));
  if (kp === undefined) return 'invalid: content is not an MLS KeyPackage (RFC 9420 §10)';
  if (kp.version !== 'mls10') return 'invalid: KeyPackage protocol version is not mls10';
  const facts = factsOf(kp);
  if (facts === undefined) return 'invalid: content is not an MLS KeyPackage (RFC 9420 §10)';
  const tag = firstTag(e, 'cs', 'ciphersuite', 'mls_ciphersuite');
  if (tag !== undefined) {
    const declared = parseSuite(tag);
    if (declared === undefined) return 'invalid: ciphersuite tag must be hex (0x0001), decimal (1) or an RFC 9420 ciphersuite name';
    if (declared !== facts.suite) return `invalid: KeyPackage ciphersuite ${suiteHex(facts.suite)} differs from its tag ${suiteHex(declared)}`;
  }
  const sig = await signerFor(facts.suite);
  if (sig === undefined) return `invalid: unsupported MLS ciphersuite ${suiteHex(facts.suite)}`;
  let leafOk = false;
  let kpOk = false;
  try {
    leafOk = await verifyLeafNodeSignatureKeyPackage(kp.leafNode, sig);
    kpOk = leafOk && (await verifyKeyPackage(kp, sig));
  } catch {
    /* a malformed key or signature is a failed verification */
  }
  if (!leafOk) return 'invalid: KeyPackage leaf node signature does not verify';
  if (!kpOk) return 'invalid: KeyPackage signature does not verify';
  if (now < facts.notBefore) return `invalid: KeyPackage lifetime has not begun (not_before ${facts.notBefore})`;
  if (now > facts.notAfter) return `invalid: KeyPackage lifetime has passed (not_after ${facts.notAfter})`;
  return facts;
}
