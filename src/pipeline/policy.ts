import { isProtected } from '../protocol/kinds.js';
import type { EventPolicy } from './types.js';

/** NIP-70: a protected event is accepted only from a connection authenticated as its author. */
export const protectedEvents: EventPolicy = (event, client) => {
  if (!isProtected(event)) return undefined;
  if (client.pubkeys.includes(event.pubkey)) return undefined;
  return client.pubkeys.length === 0
    ? 'auth-required: this event is protected (NIP-70); authenticate as its author'
    : 'restricted: this event is protected (NIP-70) and may only be published by its author';
};

/** AUTH events travel in AUTH messages; stored or broadcast they would be replayable credentials. */
export const noAuthEvents: EventPolicy = (event) =>
  event.kind === 22242 ? 'invalid: kind 22242 is only accepted in an AUTH message' : undefined;

/** The relay core's chain; access control and the MLS gateway append their own steps. */
export const corePolicies: EventPolicy[] = [noAuthEvents, protectedEvents];
