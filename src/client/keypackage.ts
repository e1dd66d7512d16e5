/** Kind 443 and 30443: a published MLS KeyPackage (content = the encoded MLSMessage key_package). */
import type { NostrEvent } from '../protocol/types.js';
import { DEFAULT_CIPHERSUITE, KIND, MLS_VERSION, type Vocabulary } from './kinds.js';
import { fromBase64, fromHex, toBase64, toHex } from './encoding.js';
import { signEvent, publicKeyOf } from './sign.js';
import { tagValue } from './tags.js';

export interface KeyPackageOptions {
  /** The encoded ts-mls MLSMessage (wireformat mls_key_package). */
  keyPackage: Uint8Array;
  /** Defaults to base64; hex exists for Marmot clients that still publish hex. */
  encoding?: 'base64' | 'hex';
  ciphersuite?: string;
  /** KeyPackageRef (hex), lets the relay reject a re-published KeyPackage. */
  keyRef?: string;
  /** Unix seconds; the relay clamps it to its keypackage_ttl. */
  expiresAt?: number;
  mlsVersion?: string;
  /** Default true: MLS KeyPackages must not be reused (RFC 9420 §16.8). */
  singleUse?: boolean;
  relays?: string[];
  /** `["device", id]`: which device of the identity holds this KeyPackage's private keys. */
  device?: string;
  /** NIP-70 `["-"]`: only the author may publish it. */
  protected?: boolean;
  vocabulary?: Vocabulary;
  created_at?: number;
  extraTags?: string[][];
}

function keyPackageTags(pubkey: string, o: KeyPackageOptions): string[][] {
  const marmot = o.vocabulary === 'marmot';
  const tags: string[][] = [['p', pubkey]];
  tags.push([marmot ? 'mls_ciphersuite' : 'cs', o.ciphersuite ?? DEFAULT_CIPHERSUITE]);
  tags.push([marmot ? 'mls_protocol_version' : 'mls_ver', o.mlsVersion ?? MLS_VERSION]);
  if (o.keyRef !== undefined) tags.push([marmot ? 'i' : 'kpr', o.keyRef]);
  if (o.expiresAt !== undefined) tags.push(['exp', String(o.expiresAt)]);
  tags.push(['encoding', o.encoding ?? 'base64']);
  if (o.singleUse ?? true) tags.push(['single_use', '1']);
  if (o.relays?.length) tags.push(['relays', ...o.relays]);
  if (o.device !== undefined) tags.push(['device', o.device]);
  if (o.protected) tags.push(['-']);
  return [...tags, ...(o.extraTags ?? [])];
}

function encodeContent(o: KeyPackageOptions): string {
  return o.encoding === 'hex' ? toHex(o.keyPackage) : toBase64(o.keyPackage);
}

export function buildKeyPackageEvent(sk: Uint8Array, o: KeyPackageOptions): NostrEvent {
  const pk = publicKeyOf(sk);
  return signEvent(sk, { kind: KIND.KEY_PACKAGE, content: encodeContent(o), tags: keyPackageTags(pk, o), created_at: o.created_at });
}

/** 30443: replaced per (author, d), so a client can rotate "slot" KeyPackages in place. */
export function buildAddressableKeyPackageEvent(sk: Uint8Array, d: string, o: KeyPackageOptions): NostrEvent {
  const pk = publicKeyOf(sk);
  return signEvent(sk, {
    kind: KIND.KEY_PACKAGE_ADDRESSABLE,
    content: encodeContent(o),
    tags: [['d', d], ...keyPackageTags(pk, o)],
    created_at: o.created_at,
  });
}

/** The MLSMessage bytes of a 443/30443, honouring its `encoding` tag. */
export function keyPackageBytes(e: Pick<NostrEvent, 'tags' | 'content'>): Uint8Array {
  return tagValue(e, 'encoding') === 'hex' ? fromHex(e.content) : fromBase64(e.content);
}
