/** Kind 447: an admin asks a user to publish more KeyPackages. */
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { signEvent } from './sign.js';

export interface KeyPackageRequestOptions {
  target: string;
  groupId?: string;
  ciphersuite?: string;
  /** How many KeyPackages the requester wants available. */
  min?: number;
  /** Seconds from created_at during which the request is meaningful. */
  ttl?: number;
  created_at?: number;
}

export function buildKeyPackageRequest(sk: Uint8Array, o: KeyPackageRequestOptions): NostrEvent {
  const tags: string[][] = [['p', o.target]];
  if (o.groupId !== undefined) tags.push(['h', o.groupId]);
  if (o.ciphersuite !== undefined) tags.push(['cs', o.ciphersuite]);
  if (o.min !== undefined) tags.push(['min', String(o.min)]);
  if (o.ttl !== undefined) tags.push(['ttl', String(o.ttl)]);
  return signEvent(sk, { kind: KIND.KEY_PACKAGE_REQUEST, content: '', tags, created_at: o.created_at });
}
