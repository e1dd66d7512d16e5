/** Event kinds of PROTOCOL.md and the NIPs the gateway relies on. */
export const KIND = {
  SEAL: 13,
  KEY_PACKAGE: 443,
  WELCOME_RUMOR: 444,
  GROUP_MESSAGE: 445,
  NOISE_DM: 446,
  KEY_PACKAGE_REQUEST: 447,
  ROSTER: 450,
  GIFT_WRAP: 1059,
  RELAY_LIST: 10002,
  INBOX_RELAYS: 10050,
  KEY_PACKAGE_RELAYS: 10051,
  AUTH: 22242,
  HTTP_AUTH: 27235,
  KEY_PACKAGE_ADDRESSABLE: 30443,
} as const;

/** MLS 1.0 as written in `mls_ver` / `mls_protocol_version` tags. */
export const MLS_VERSION = '1.0';
/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, in the hex form Marmot clients use. */
export const DEFAULT_CIPHERSUITE = '0x0001';
export const NOISE_VERSION = 'noise.1';
export const GIFT_VERSION = 'gift.1';

/**
 * Two tag vocabularies exist (PROTOCOL.md): the enterprise one used by the mobile SDKs
 * and the public Marmot / NIP-EE one. The relay reads both; builders emit one.
 */
export type Vocabulary = 'enterprise' | 'marmot';
