/**
 * Client SDK seed: builders for every gateway kind, NIP-42 / NIP-98 helpers, NIP-59 gift
 * wrapping of MLS Welcomes and a REST client. Depends on nothing inside the relay except
 * the shared wire types, so it can be lifted into its own package.
 */
export * from './kinds.js';
export * from './encoding.js';
export { signEvent, oneShotKey, publicKeyOf, generateSecretKey, nowSec, type EventTemplate } from './sign.js';
export * from './tags.js';
export * from './keypackage.js';
export * from './group-message.js';
export * from './noise-dm.js';
export * from './keypackage-request.js';
export * from './roster.js';
export * from './giftwrap.js';
export * from './relay-lists.js';
export * from './nip42.js';
export * from './nip98.js';
export * from './rest.js';
export type { NostrEvent } from '../protocol/types.js';
