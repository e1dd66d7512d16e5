/**
 * What a valid config file looks like: one entry per key with its check and default. The loader,
 * the env overrides and defaultConfig() are all driven by this table, so a new key is one line here
 * (plus its type in types.ts and its line in config/relay.toml).
 *
 * Not a schema library, after measuring one: zod 4 costs 48 ms to import (the whole config room: 23 ms)
 * and 10.6 ms for its first parse, and keeping this relay's error lines ("network.port: expected an
 * integer between 0 and 65535, got \"abc\"", list items by index, secrets never echoed, coercion only
 * for env strings) would need a custom refinement and error map on nearly every key.
 */
import * as c from './checks.js';
import type { Check } from './checks.js';

export interface FieldSpec {
  kind: 'field';
  check: Check;
  default?: unknown;
}
export interface TableSpec {
  kind: 'table';
  fields: Record<string, Node>;
  /** What an unknown key does: a warning, or a warning plus a copy into the table's `extra`. */
  unknown: 'warn' | 'extra';
  /** Keys of rnostr (or the gateway docs) that are understood but have no effect here, with why. */
  ignored?: Record<string, string>;
  required?: string[];
}
export interface TableListSpec {
  kind: 'tables';
  item: TableSpec;
}
export type Node = FieldSpec | TableSpec | TableListSpec;

const f = (check: Check, dflt?: unknown): FieldSpec => ({ kind: 'field', check, default: dflt });
const table = (fields: Record<string, Node>, more: Partial<TableSpec> = {}): TableSpec => ({ kind: 'table', fields, unknown: 'warn', ...more });

const SECOND = 1000;
const positive = c.int(1);
const nonNegative = c.int(0);

const information = table({
  name: f(c.str(), 'mls-relay'),
  description: f(c.str(), ''),
  pubkey: f(c.pubkey),
  contact: f(c.str()),
  software: f(c.str(), 'https://github.com/mls-relay/mls-relay'),
  relay_url: f(c.wsUrls),
});

const data = table({
  path: f(c.str({ nonEmpty: true }), './data'),
  db_query_timeout: f(c.duration(), 100),
  map_size: f(positive),
  backup_path: f(c.str({ nonEmpty: true })),
  backup_interval: f(c.duration({ min: SECOND }), 300 * SECOND),
});

const networkFields: Record<string, Node> = {
  host: f(c.str({ nonEmpty: true }), '127.0.0.1'),
  port: f(c.int(0, 65535), 8080), // 0 lets the OS pick (tests, several relays on one host)
  real_ip_header: f(c.realIpHeader),
  trusted_proxies: f(nonNegative, 1),
  heartbeat_interval: f(c.duration({ min: 1 }), 60 * SECOND),
  heartbeat_timeout: f(c.duration({ min: 1 }), 120 * SECOND),
  // Plain HTTP must not hold sockets: a slow or silent client is cut well before it matters.
  http_request_timeout: f(c.duration({ min: 100 }), 10 * SECOND),
  http_keepalive_timeout: f(c.duration({ min: 1 }), 5 * SECOND),
  index_redirect_to: f(c.str()),
};
const network = table(networkFields);

const thread = table(
  { verify: f(nonNegative, 0) },
  {
    ignored: {
      http: 'rnostr setting with no effect here (the HTTP server is one event loop; see thread.verify; live matching is one stateful worker)',
      reader: 'rnostr setting with no effect here (see thread.verify)',
    },
  },
);

const limitation = table({
  max_message_length: f(positive, 524288),
  max_subscriptions: f(positive, 20),
  max_filters: f(positive, 10),
  max_limit: f(positive, 300),
  max_subid_length: f(positive, 100),
  min_prefix: f(nonNegative, 10),
  max_event_tags: f(nonNegative, 5000),
  max_event_time_older_than_now: f(c.duration(), 94608000 * SECOND),
  max_event_time_newer_than_now: f(c.duration(), 900 * SECOND),
  max_connections: f(positive, 10000),
  max_http_connections: f(positive, 512),
  max_http_connections_per_ip: f(positive, 64),
  max_outbound_bytes: f(positive, 8 * 1024 * 1024),
});

const metrics = table({ enabled: f(c.bool, false), auth: f(c.secretStr) });

/** No defaults: an absent list means "no such rule", which is not the same as an empty whitelist. */
export const authRuleFields: Record<string, Node> = {
  ip_whitelist: f(c.ipList),
  ip_blacklist: f(c.ipList),
  pubkey_whitelist: f(c.pubkeyList),
  pubkey_blacklist: f(c.pubkeyList),
  event_pubkey_whitelist: f(c.pubkeyList),
  event_pubkey_blacklist: f(c.pubkeyList),
  allow_mentioning_whitelisted_pubkeys: f(c.bool),
};

// Rule keys directly under [auth] are the gateway docs' form; the loader copies them into req and event.
const auth = table({
  enabled: f(c.bool, false),
  req: table(authRuleFields),
  event: table(authRuleFields),
  ...authRuleFields,
});

const rateRule = table(
  {
    name: f(c.str(), ''),
    description: f(c.str(), ''),
    period: f(c.duration({ min: 1 }), 60 * SECOND),
    limit: f(positive),
    kinds: f(c.kindRanges, []),
    ip_whitelist: f(c.ipList, []),
  },
  { required: ['limit'] },
);

const rate_limiter = table({
  // Default on: a file that lists rules but forgets `enabled` most likely wants them applied.
  enabled: f(c.bool, true),
  clear_interval: f(c.duration({ min: 1 }), 60 * SECOND),
  event: { kind: 'tables', item: rateRule },
  // Generous enough for a carrier-grade NAT full of honest clients; a flood from one address still stops.
  req_per_minute: f(nonNegative, 1200),
  connections_per_minute: f(nonNegative, 300),
  ip_whitelist: f(c.ipList, []),
});

const mls_gateway = table(
  {
    // On by default: without the gateway's read rules, MLS kinds would be served like any public event.
    enabled: f(c.bool, true),
    admin_pubkeys: f(c.pubkeyList, []),
    system_secret_key: f(c.secretKey),
    // "roster": members only where a 450 roster exists, any authenticated pubkey elsewhere, so
    // Marmot groups (which never publish 450s) work out of the box while rostered groups stay closed.
    group_policy: f(c.oneOf('roster', 'members', 'authenticated', 'open'), 'roster'),
    membership_from_giftwrap: f(c.bool, true),
    // Opt-in: clients must tag their Commits (mls_commit) and wait for OK before sending Welcomes.
    commit_fencing: f(c.bool, false),
    keypackage_ttl: f(c.duration({ min: 1 }), 604800 * SECOND),
    keypackage_low_water: f(nonNegative, 2),
    keypackage_request_ttl: f(c.duration({ min: 1 }), 604800 * SECOND),
    max_keypackages_per_user: f(positive, 15),
    welcome_ttl: f(c.duration({ min: 1 }), 259200 * SECOND),
    // A mailbox nobody empties must not grow without bound; 1000 pending welcomes is far beyond honest use.
    mailbox_max_items: f(positive, 1000),
    // Unlike rate_limits (absent = no cap) this has a default: without one, one sender fills any mailbox in seconds.
    mailbox_deposits_per_minute: f(positive, 300),
    message_archive_ttl_days: f(positive, 30),
    roster_policy_ttl_days: f(positive, 365),
    // How far one 450 may move a roster's seq: a single 450 can then never exhaust the seq space
    // (at 1000 a step, Number.MAX_SAFE_INTEGER is 9e12 roster changes away).
    roster_max_seq_step: f(positive, 1000),
    enable_api: f(c.bool, true),
    api_prefix: f(c.apiPrefix, '/api/v1'),
    storage_backend: f(c.onlyLmdb, 'lmdb'),
    rate_limits: table({
      max_keypackages_per_hour: f(positive),
      max_group_messages_per_minute: f(positive),
      max_claims_per_hour: f(positive),
      max_events_per_minute: f(positive),
    }),
  },
  { unknown: 'extra' },
);

/** Cluster mode (src/cluster/): instances share one ordered log on NATS JetStream. Off: nothing changes. */
const cluster = table({
  enabled: f(c.bool, false),
  nats_url: f(c.stringList, ['nats://127.0.0.1:4222']),
  stream: f(c.streamName, 'mls-relay'),
  // 3: the log survives the loss of one NATS server of a 3-node cluster.
  replicas: f(c.int(1, 5), 3),
  token: f(c.secretStr),
  user: f(c.str({ nonEmpty: true })),
  password: f(c.secretStr),
  nkey_seed: f(c.secretStr),
  creds_file: f(c.str({ nonEmpty: true })),
  tls_ca: f(c.str({ nonEmpty: true })),
  instance_id: f(c.str({ nonEmpty: true })),
  // An append the stream has not acknowledged by then gets OK false "error:": never a hang.
  append_timeout: f(c.duration({ min: 100 }), 5 * SECOND),
  snapshot_interval: f(c.duration({ min: SECOND }), 3600 * SECOND),
  snapshots_kept: f(c.int(1, 100), 2),
});

/** The top level. Unknown sections are fatal (unlike unknown keys): a misspelt section loses a whole block. */
export const rootSpec = table({
  information,
  data,
  network,
  thread,
  limitation,
  metrics,
  auth,
  rate_limiter,
  count: table({ enabled: f(c.bool, true) }),
  search: table({ enabled: f(c.bool, false) }),
  debug: table({ enabled: f(c.bool, false), auth: f(c.secretStr) }),
  extensions: table({ mls_gateway }),
  cluster,
});

/** The gateway docs' [server]: [network] under another name, with `workers` meaning thread.verify. */
export const serverSpec = table({ ...networkFields, workers: f(nonNegative) });

export const SECTION_NAMES = Object.keys(rootSpec.fields);
