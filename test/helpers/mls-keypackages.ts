/**
 * Genuine ts-mls KeyPackages for tests and benches that publish 443/30443s: the relay
 * decodes and verifies them. Generating one costs a few ms, so a small pool made once per
 * process serves the many tests that only need "a valid KeyPackage"; the relay does not
 * bind KeyPackage bytes to one event, so pooled bytes may be reused under fresh key refs.
 */
import {
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteName,
  type Extension,
  type Lifetime,
} from 'ts-mls';
import { encodeKeyPackage } from 'ts-mls/keyPackage.js';

export const SUITE_1: CiphersuiteName = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
const impls = new Map<CiphersuiteName, Awaited<ReturnType<typeof getCiphersuiteImpl>>>();

async function implOf(name: CiphersuiteName) {
  let i = impls.get(name);
  if (i === undefined) impls.set(name, (i = await getCiphersuiteImpl(getCiphersuiteFromName(name))));
  return i;
}

/** draft-ietf-mls-extensions last_resort (0x000a), empty extension data. */
export const LAST_RESORT: Extension = { extensionType: 0x000a, extensionData: new Uint8Array() };

export interface GenuineOptions {
  suite?: CiphersuiteName;
  lastResort?: boolean;
  lifetime?: Lifetime;
  /** Credential identity (hex); default 32 zero bytes. */
  identity?: string;
  /** Bare TLS KeyPackage (OpenMLS/MDK style) instead of an MLSMessage. */
  bare?: boolean;
}

/** The encoded bytes of a freshly generated, correctly signed KeyPackage. */
export async function genuineKeyPackage(o: GenuineOptions = {}): Promise<Uint8Array> {
  const impl = await implOf(o.suite ?? SUITE_1);
  const identity = Buffer.from(o.identity ?? '00'.repeat(32), 'hex');
  const caps = defaultCapabilities();
  if (o.lastResort) caps.extensions = [...caps.extensions, 0x000a];
  const kp = await generateKeyPackage({ credentialType: 'basic', identity }, caps, o.lifetime ?? defaultLifetime, o.lastResort ? [LAST_RESORT] : [], impl);
  return o.bare ? encodeKeyPackage(kp.publicPackage) : encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
}

export const toB64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

const POOL: string[] = await Promise.all(Array.from({ length: 4 }, () => genuineKeyPackage().then(toB64)));
let next = 0;

/** Base64 of a valid suite-1 KeyPackage without last_resort, from the pool. */
export function pooledKeyPackage(): string {
  return POOL[next++ % POOL.length]!;
}
