/**
 * The relay configuration after loading, validation and env overrides.
 * Keys keep rnostr's TOML names. Every duration-valued key is in MILLISECONDS here,
 * whatever form the file used (60 = 60 s, "100ms", "1m", "2h", "1d").
 * Public-key lists are normalised to lowercase 64-char hex (npub accepted on input).
 */
export interface Config {
  /** Absolute path of the file the config came from (for messages and --watch). */
  file: string;
  information: {
    name: string;
    description: string;
    pubkey?: string; // hex
    contact?: string;
    software: string;
    /** Public ws(s) URL(s) (one URL or a list in the file): the only hosts NIP-42 relay tags and NIP-98 `u` may name. */
    relay_url?: string[];
  };
  data: {
    path: string; // resolved against process.cwd()
    db_query_timeout: number; // ms, default 100
    map_size?: number; // bytes, LMDB map size (optional override)
    backup_path?: string; // directory for LMDB snapshots (unset = no backups); restored from when data.path is empty
    backup_interval: number; // ms between snapshots, default 300000
  };
  network: {
    host: string; // default 127.0.0.1
    port: number; // default 8080; PORT env overrides
    real_ip_header?: string; // lowercase header name
    trusted_proxies: number; // hops to trust in real_ip_header, default 1
    heartbeat_interval: number; // ms, default 60000
    heartbeat_timeout: number; // ms, default 120000
    http_request_timeout: number; // ms a whole request (headers and body) may take to arrive, default 10000
    http_keepalive_timeout: number; // ms an idle keep-alive HTTP connection stays open, default 5000
    index_redirect_to?: string;
  };
  thread: {
    verify: number; // verify worker threads, 0 = auto
  };
  limitation: {
    max_message_length: number; // default 524288
    max_subscriptions: number; // default 20
    max_filters: number; // default 10
    max_limit: number; // default 300
    max_subid_length: number; // default 100
    min_prefix: number; // default 10
    max_event_tags: number; // default 5000
    max_event_time_older_than_now: number; // ms, default 94608000 s
    max_event_time_newer_than_now: number; // ms, default 900 s
    max_connections: number; // default 10000
    max_http_connections: number; // plain HTTP sockets (not yet WebSocket) at once, default 512
    max_http_connections_per_ip: number; // the same per socket peer (IPv6 per /64), default 64; unused behind a trusted real_ip_header
    max_outbound_bytes: number; // per connection pending send cap, default 8 MiB
  };
  metrics: { enabled: boolean; auth?: string };
  /** Cluster mode (src/cluster/); see README "Cluster mode". */
  cluster: ClusterConfig;
  auth: {
    enabled: boolean;
    req: AuthRules;
    event: AuthRules;
  };
  rate_limiter: {
    enabled: boolean;
    clear_interval: number; // ms
    event: RateLimitRule[];
    req_per_minute: number; // REQ + COUNT per client address and per authenticated pubkey, 0 = no limit
    connections_per_minute: number; // new WebSocket connections per client address, 0 = no limit
    ip_whitelist: string[]; // addresses/CIDRs exempt from req_per_minute and connections_per_minute
  };
  count: { enabled: boolean };
  search: { enabled: boolean };
  debug: { enabled: boolean; auth?: string };
  extensions: {
    mls_gateway: MlsGatewayConfig;
  };
  /** Non-fatal remarks made while loading (unknown keys, ignored sections); logged at start-up. */
  warnings: string[];
}

export interface AuthRules {
  ip_whitelist?: string[];
  ip_blacklist?: string[];
  pubkey_whitelist?: string[];
  pubkey_blacklist?: string[];
  event_pubkey_whitelist?: string[];
  event_pubkey_blacklist?: string[];
  allow_mentioning_whitelisted_pubkeys?: boolean;
}

export interface RateLimitRule {
  name: string;
  description: string;
  period: number; // ms
  limit: number;
  /** [start, end) ranges; a single kind k is [k, k+1]. Empty = all kinds. */
  kinds: Array<[number, number]>;
  ip_whitelist: string[];
}

export interface MlsGatewayConfig {
  enabled: boolean;
  admin_pubkeys: string[];
  system_secret_key?: string; // hex; never logged
  group_policy: 'roster' | 'members' | 'authenticated' | 'open'; // default "roster"
  membership_from_giftwrap: boolean;
  /** RFC 9750 §5.2: refuse a second ["mls_commit", N] 445 per (group, epoch); default false. */
  commit_fencing: boolean;
  keypackage_ttl: number; // ms, default 604800 s
  keypackage_low_water: number; // default 2
  keypackage_request_ttl: number; // ms, default 604800 s
  max_keypackages_per_user: number; // default 15
  welcome_ttl: number; // ms, default 259200 s
  mailbox_max_items: number; // pending items per recipient and mailbox (welcome, key-package), default 1000
  mailbox_deposits_per_minute: number; // per sender (authenticated pubkey, else client address), default 300
  message_archive_ttl_days: number; // default 30
  roster_policy_ttl_days: number; // default 365
  roster_max_seq_step: number; // most one 450 may raise a roster's seq (and the highest bootstrap seq), default 1000
  enable_api: boolean; // default true
  api_prefix: string; // default "/api/v1"
  /** Always "lmdb": accepted so the gateway docs' key loads; any other backend is a config error. */
  storage_backend: 'lmdb';
  rate_limits: {
    max_keypackages_per_hour?: number;
    max_group_messages_per_minute?: number;
    max_claims_per_hour?: number;
    max_events_per_minute?: number;
  };
  /** Keys present in the file that this relay does not act on (kept for the record). */
  extra: Record<string, unknown>;
}

export interface ClusterConfig {
  enabled: boolean;
  nats_url: string[]; // one or more NATS servers of one cluster
  stream: string; // JetStream stream holding the log; snapshots in the object store bucket `<stream>-snapshots`
  replicas: number; // stream replicas, default 3
  token?: string;
  user?: string;
  password?: string;
  nkey_seed?: string;
  creds_file?: string;
  tls_ca?: string;
  instance_id?: string; // default: host name plus a random suffix
  append_timeout: number; // ms, default 5000
  snapshot_interval: number; // ms, default 1 h
  snapshots_kept: number; // default 2
}
