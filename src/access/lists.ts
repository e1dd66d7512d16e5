/**
 * [auth.req] / [auth.event] allow and deny lists as plain decisions. Order: what authenticating cannot
 * fix comes first (addresses, a blacklisted identity, the event's author), so a blocked client is never
 * told to go and authenticate; then the identity rules. The prefixes are NIP-42's: `auth-required:`
 * only while the connection has not authenticated at all (authenticating may help), `restricted:`
 * once it has and its keys are still not allowed (clients that re-authenticate on `auth-required:`
 * would otherwise loop or wait for a timeout).
 */
import type { AuthRules } from '../config/types.js';
import type { NostrEvent } from '../protocol/types.js';
import type { Client } from '../pipeline/types.js';
import { IpList } from './ip.js';

/** A rejection and the stable label it is counted under. */
export interface Denial {
  message: string;
  label: 'ip_blacklist' | 'ip_whitelist' | 'pubkey_blacklist' | 'pubkey_whitelist' | 'event_pubkey_blacklist' | 'event_pubkey_whitelist';
}

/** Absent list = no such rule (undefined); an empty whitelist admits nobody. */
export interface CompiledRules {
  ipWhite?: IpList;
  ipBlack?: IpList;
  pkWhite?: ReadonlySet<string>;
  pkBlack?: ReadonlySet<string>;
  authorWhite?: ReadonlySet<string>;
  authorBlack?: ReadonlySet<string>;
  mention: boolean;
}

// Config objects are replaced whole on reload, so the compiled form is cached per rules object.
const compiled = new WeakMap<AuthRules, CompiledRules>();

export function compileRules(rules: AuthRules): CompiledRules {
  let c = compiled.get(rules);
  if (!c) {
    const set = (l?: string[]) => (l === undefined ? undefined : new Set(l.map((k) => k.toLowerCase())));
    c = {
      ipWhite: rules.ip_whitelist && new IpList(rules.ip_whitelist),
      ipBlack: rules.ip_blacklist && new IpList(rules.ip_blacklist),
      pkWhite: set(rules.pubkey_whitelist),
      pkBlack: set(rules.pubkey_blacklist),
      authorWhite: set(rules.event_pubkey_whitelist),
      authorBlack: set(rules.event_pubkey_blacklist),
      mention: rules.allow_mentioning_whitelisted_pubkeys === true,
    };
    compiled.set(rules, c);
  }
  return c;
}

export type Action = 'publish' | 'read';

/** The address part alone: used at connect time, before there is any identity. */
export function addressDenial(r: CompiledRules, remote: string, action: Action): Denial | undefined {
  if (r.ipBlack?.has(remote)) return { label: 'ip_blacklist', message: `blocked: your address may not ${action} on this relay` };
  if (r.ipWhite && !r.ipWhite.has(remote)) return { label: 'ip_whitelist', message: `blocked: your address is not allowed to ${action} on this relay` };
  return undefined;
}

/** Identity rules: a connection qualifies through ANY of its pubkeys, and is refused for ANY blacklisted one. */
function identityBlocked(r: CompiledRules, client: Client, action: Action): Denial | undefined {
  if (r.pkBlack && client.pubkeys.some((p) => r.pkBlack!.has(p))) {
    return { label: 'pubkey_blacklist', message: `blocked: an authenticated pubkey of this connection may not ${action} on this relay` };
  }
  return undefined;
}

function identityMissing(r: CompiledRules, client: Client, action: Action): Denial | undefined {
  if (r.pkWhite && !client.pubkeys.some((p) => r.pkWhite!.has(p))) {
    return {
      label: 'pubkey_whitelist',
      message:
        client.pubkeys.length === 0
          ? `auth-required: this relay only lets whitelisted pubkeys ${action}; authenticate (NIP-42)`
          : `restricted: no pubkey authenticated on this connection may ${action} on this relay`,
    };
  }
  // Without an identity a pubkey blacklist could be dodged by simply not authenticating (rnostr does the same).
  if (r.pkBlack && client.pubkeys.length === 0) {
    return { label: 'pubkey_blacklist', message: `auth-required: authenticate (NIP-42) to ${action} on this relay` };
  }
  return undefined;
}

function authorDenial(r: CompiledRules, event: NostrEvent): Denial | undefined {
  if (r.authorBlack?.has(event.pubkey)) return { label: 'event_pubkey_blacklist', message: 'blocked: events by this author are not accepted' };
  if (r.authorWhite && !r.authorWhite.has(event.pubkey)) {
    const mentions = r.mention && event.tags.some((t) => t[0] === 'p' && typeof t[1] === 'string' && r.authorWhite!.has(t[1]));
    if (!mentions) return { label: 'event_pubkey_whitelist', message: 'blocked: events by this author are not accepted' };
  }
  return undefined;
}

export function eventDenial(r: CompiledRules, event: NostrEvent, client: Client): Denial | undefined {
  return addressDenial(r, client.remote, 'publish') ?? identityBlocked(r, client, 'publish') ?? authorDenial(r, event) ?? identityMissing(r, client, 'publish');
}

/** The client's address and identity, without an event: what REQ/COUNT and REST calls are judged by. */
function clientDenial(r: CompiledRules, client: Client, action: Action): Denial | undefined {
  return addressDenial(r, client.remote, action) ?? identityBlocked(r, client, action) ?? identityMissing(r, client, action);
}

/** REQ and COUNT. event_pubkey_* lists concern authors of written events and have no meaning here. */
export function readDenial(r: CompiledRules, client: Client): Denial | undefined {
  return clientDenial(r, client, 'read');
}

/**
 * A REST call: the same lists, with the NIP-98 signer as the client's one pubkey ([auth.req]
 * for reads, [auth.event] for writes). A call always carries its signer, so a pubkey the lists
 * refuse is `restricted:` (authenticated, still not allowed), as on the WebSocket; the address and
 * blacklist refusals stay `blocked:`. event_pubkey_* lists name authors of stored events; REST
 * calls store none.
 */
export function apiDenial(r: CompiledRules, client: Client, action: Action): Denial | undefined {
  return clientDenial(r, client, action);
}
