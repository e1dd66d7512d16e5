import type { Config } from '../config/types.js';
import { GATEWAY_KINDS } from '../gateway/gateway.js';
import { VERSION } from '../version.js';

/** The NIPs the running configuration actually serves; nothing is advertised that is switched off. */
export function supportedNips(cfg: Config): number[] {
  const nips = [1, 9, 11, 40, 42];
  if (cfg.count.enabled) nips.push(45);
  // Gift-wrapped Welcomes (444 → 13 → 1059) are how the gateway delivers group invitations.
  if (cfg.extensions.mls_gateway.enabled) nips.push(59);
  nips.push(70);
  return nips;
}

/** NIP-11 relay information document for the current configuration. */
export function relayInformation(cfg: Config, verifyBackend: string): Record<string, unknown> {
  const info = cfg.information;
  const lim = cfg.limitation;
  // auth_required: reading needs NIP-42 (a pubkey list on [auth.req]; with a blacklist the relay
  // must know who you are). restricted_writes: some condition beyond a valid event decides writes.
  const req = cfg.auth.req;
  const ev = cfg.auth.event;
  const authRequired = cfg.auth.enabled && (req.pubkey_whitelist !== undefined || req.pubkey_blacklist !== undefined);
  const restrictedWrites =
    cfg.extensions.mls_gateway.enabled ||
    (cfg.auth.enabled &&
      [ev.pubkey_whitelist, ev.pubkey_blacklist, ev.event_pubkey_whitelist, ev.event_pubkey_blacklist, ev.ip_whitelist, ev.ip_blacklist].some((l) => l !== undefined));
  const doc: Record<string, unknown> = {
    name: info.name,
    description: info.description,
    software: info.software,
    version: VERSION,
    supported_nips: supportedNips(cfg),
    limitation: {
      max_message_length: lim.max_message_length,
      max_subscriptions: lim.max_subscriptions,
      max_filters: lim.max_filters,
      max_limit: lim.max_limit,
      default_limit: lim.max_limit,
      max_subid_length: lim.max_subid_length,
      max_event_tags: lim.max_event_tags,
      created_at_lower_limit: Math.floor(lim.max_event_time_older_than_now / 1000),
      created_at_upper_limit: Math.floor(lim.max_event_time_newer_than_now / 1000),
      auth_required: authRequired,
      restricted_writes: restrictedWrites,
      payment_required: false,
    },
    // Which signature backend verifies events, so operators can tell a native build from a fallback.
    software_details: { verify_backend: verifyBackend },
  };
  const gw = cfg.extensions.mls_gateway;
  if (gw.enabled) {
    doc.mls_gateway = {
      kinds: GATEWAY_KINDS,
      group_policy: gw.group_policy,
      roster_max_seq_step: gw.roster_max_seq_step,
      welcome: 'gift-wrapped-444',
      noise_dm: { kind: 446, version: 'noise.1' },
    };
  }
  if (info.pubkey) doc.pubkey = info.pubkey;
  if (info.contact) doc.contact = info.contact;
  return doc;
}
