/** The body of POST <api_prefix>/keypackages/claim: `{owner, ciphersuite?, id?, device?, per_device?}`. */
import { DEVICE_RULE, isDeviceId } from './devices.js';
import type { ClaimWant } from './keypackages.js';
import { parseSuite } from './mls-keypackage.js';
import { isHexKey, parseKey } from './tags.js';

export interface ClaimRequest {
  owner: string;
  filter: ClaimWant;
  perDevice: boolean;
}

export function claimRequest(b: Record<string, unknown>, bad: (msg: string) => Error): ClaimRequest {
  const owner = parseKey(b.owner);
  if (owner === undefined) throw bad('owner must be a hex or npub public key');
  const filter: ClaimWant = {};
  if (b.ciphersuite !== undefined && b.ciphersuite !== null) {
    const suite = typeof b.ciphersuite === 'string' || typeof b.ciphersuite === 'number' ? parseSuite(String(b.ciphersuite)) : undefined;
    if (suite === undefined) throw bad('ciphersuite must be hex ("0x0001"), decimal (1) or an RFC 9420 ciphersuite name');
    filter.suite = suite;
  }
  if (b.id !== undefined) {
    if (typeof b.id !== 'string' || !isHexKey(b.id)) throw bad('id must be the 64-hex id of a KeyPackage event');
    filter.id = b.id;
  }
  if (b.device !== undefined) {
    // null asks for the default device: KeyPackages published without a device tag.
    if (b.device !== null && !isDeviceId(b.device)) throw bad(`device must be null or a device id (${DEVICE_RULE})`);
    filter.device = b.device;
  }
  if (b.per_device !== undefined && typeof b.per_device !== 'boolean') throw bad('per_device must be true or false');
  const perDevice = b.per_device === true;
  if (perDevice && (filter.id !== undefined || filter.device !== undefined)) throw bad('per_device cannot be combined with id or device');
  return { owner, filter, perDevice };
}
