/**
 * Several devices per identity. Each device is its own MLS client (its own leaf, its own
 * KeyPackages and private keys); all devices of an identity publish under the identity's
 * Nostr pubkey and are told apart by the `["device", "<id>"]` tag of their 443/30443 (and
 * of Welcome deposits addressed to them). The tag is signed by the identity key, so only
 * the identity can say which devices it has; a KeyPackage without it belongs to the
 * identity's default device (id null), which is what single-device and Marmot clients are.
 */
import type { NostrEvent } from '../protocol/types.js';
import { countTags, onlyTag } from './tags.js';

const DEVICE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const isDeviceId = (v: unknown): v is string => typeof v === 'string' && DEVICE_ID.test(v);

export const DEVICE_RULE = 'a device id is 1 to 64 characters of A-Z a-z 0-9 . _ : -';

/** The device an event names: null when it has no device tag, a refusal text when the tag is malformed. */
export function deviceOf(e: Pick<NostrEvent, 'tags'>): { device: string | null } | { error: string } {
  const n = countTags(e, 'device');
  if (n === 0) return { device: null };
  const v = onlyTag(e, 'device');
  if (n > 1 || !isDeviceId(v)) return { error: `invalid: at most one device tag; ${DEVICE_RULE}` };
  return { device: v };
}

/** The device a (policy-checked) event is addressed to, or null. */
export function deviceAddressed(e: Pick<NostrEvent, 'tags'>): string | null {
  const d = deviceOf(e);
  return 'device' in d ? d.device : null;
}
