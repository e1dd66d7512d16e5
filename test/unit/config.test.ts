import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { npubEncode, nsecEncode } from 'nostr-tools/nip19';
import { parseDuration } from '../../src/config/duration.js';
import { normalizePubkey, normalizeSecretKey, parseKeyList } from '../../src/config/keys.js';
import { ConfigError, defaultConfig, loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { diffConfig, watchConfig } from '../../src/config/watch.js';

// Compiled to dist/test/unit/: the repository root is three levels up.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string) => join(root, 'test/fixtures', name);

const HEX1 = 'fb206642abe6284973cf98f71af8334439bb0501e212e862f38cf00b9ce3e17e';
const HEX2 = 'b9d7cb940830093ffced633dd81741859569dd3b8956d6949711efcb12920c28';
const NO_ENV = {};

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'mls-relay-config-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads TOML text through a real file, so messages carry a real path. */
function loadText(text: string, env: NodeJS.ProcessEnv = NO_ENV): Config {
  return withTempDir((dir) => {
    const file = join(dir, 'relay.toml');
    writeFileSync(file, text);
    return loadConfig(file, env);
  });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.doesNotMatch(e.message, /\n\s+at /, 'no stack trace in the message');
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('parseDuration', () => {
  test('accepts seconds and humantime strings, returns ms', () => {
    assert.equal(parseDuration('100ms'), 100);
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration(60), 60_000);
    assert.equal(parseDuration(0.5), 500);
    assert.equal(parseDuration('60'), 60_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1m 30s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
  });

  test('rejects anything else with a descriptive message', () => {
    assert.throws(() => parseDuration('10 parsecs'), /expected a duration.*got "10 parsecs"/);
    assert.throws(() => parseDuration(''), /expected a duration/);
    assert.throws(() => parseDuration('1m30'), /got "1m30"/);
    assert.throws(() => parseDuration(-1), /got -1/);
    assert.throws(() => parseDuration(Number.POSITIVE_INFINITY), /expected a duration/);
    assert.throws(() => parseDuration(true), /got true/);
    assert.throws(() => parseDuration([1]), /got an array/);
  });
});

describe('keys', () => {
  test('hex (any case) and npub normalise to lowercase hex', () => {
    assert.equal(normalizePubkey(HEX1.toUpperCase()), HEX1);
    assert.equal(normalizePubkey(npubEncode(HEX2)), HEX2);
  });

  test('placeholders and malformed keys are refused', () => {
    assert.throws(() => normalizePubkey('your-allowed-pubkey-1'), /not a hex or npub public key, got "your-allowed-pubkey-1"/);
    assert.throws(() => normalizePubkey(HEX1.slice(1)), /not a hex or npub/);
    assert.throws(() => normalizePubkey('npub1' + 'q'.repeat(58)), /not a hex or npub/);
    assert.throws(() => normalizePubkey(nsecEncode(Uint8Array.from(Buffer.from(HEX1, 'hex')))), /not a hex or npub/);
  });

  test('lists: arrays or space/comma-separated strings, every bad item named', () => {
    assert.deepEqual(parseKeyList([HEX1, npubEncode(HEX2)]), [HEX1, HEX2]);
    assert.deepEqual(parseKeyList(`${HEX1}, ${HEX2} ${HEX1}`), [HEX1, HEX2]);
    assert.deepEqual(parseKeyList(''), []);
    assert.throws(() => parseKeyList([HEX1, 'x', 7]), (e: Error) => /\[1\]: .*"x"/.test(e.message) && /\[2\]: .*7/.test(e.message));
    assert.throws(() => parseKeyList(42), /expected a list/);
  });

  test('secret keys: hex or nsec, range checked, never echoed', () => {
    const bytes = Uint8Array.from(Buffer.from(HEX1, 'hex'));
    assert.equal(normalizeSecretKey(nsecEncode(bytes)), HEX1);
    assert.equal(normalizeSecretKey(HEX1.toUpperCase()), HEX1);
    assert.throws(() => normalizeSecretKey('0'.repeat(64)), (e: Error) => /not a valid secp256k1/.test(e.message));
    assert.throws(() => normalizeSecretKey('f'.repeat(64)), /not a valid secp256k1/);
    assert.throws(() => normalizeSecretKey('hunter2'), (e: Error) => !e.message.includes('hunter2'));
  });
});

describe('loadConfig: sample files', () => {
  test('rnostr.toml loads unchanged with its values', () => {
    const c = loadConfig(fixture('rnostr.toml'), NO_ENV);
    assert.equal(c.file, fixture('rnostr.toml'));
    assert.equal(c.information.name, 'MLS Secure Relay');
    assert.equal(c.data.path, resolve(process.cwd(), 'data'));
    assert.equal(c.data.db_query_timeout, 100);
    assert.equal(c.network.host, '0.0.0.0');
    assert.equal(c.network.port, 8080);
    assert.equal(c.limitation.max_message_length, 1048576);
    assert.equal(c.limitation.max_limit, 1000);
    assert.equal(c.limitation.max_subscriptions, 50);
    assert.equal(c.limitation.max_event_time_older_than_now, 94608000 * 1000);
    assert.equal(c.limitation.max_event_time_newer_than_now, 900 * 1000);
    assert.equal(c.limitation.max_connections, 10000, 'unset keys keep their defaults');
    assert.deepEqual(c.metrics, { enabled: true, auth: 'replace_with_secure_metrics_key' });
    assert.equal(c.auth.enabled, true);
    assert.deepEqual(c.auth.req, {});
    assert.deepEqual(c.auth.event, {});
    assert.equal(c.rate_limiter.enabled, true);
    assert.deepEqual(c.rate_limiter.event, [
      { name: 'mls_group_messages', description: 'MLS messages (kind 445)', period: 60_000, limit: 100, kinds: [[445, 446]], ip_whitelist: [] },
      { name: 'noise_dms', description: 'Noise DMs (kind 446)', period: 60_000, limit: 50, kinds: [[446, 447]], ip_whitelist: [] },
    ]);
    assert.equal(c.count.enabled, false);
    assert.equal(c.search.enabled, false);
    assert.deepEqual(c.warnings, []);
  });

  test('config/relay.toml loads without warnings and documents every gateway key', () => {
    const file = join(root, 'config/relay.toml');
    const c = loadConfig(file, NO_ENV);
    assert.deepEqual(c.warnings, []);
    assert.equal(c.network.host, '127.0.0.1');
    assert.equal(c.network.port, 8080);
    assert.equal(c.data.db_query_timeout, 100);
    assert.equal(c.count.enabled, true);
    assert.equal(c.metrics.enabled, false);
    assert.equal(c.debug.enabled, false);
    assert.equal(c.auth.enabled, false);
    assert.equal(c.rate_limiter.event.length, 2);
    assert.deepEqual(c.rate_limiter.event.map((r) => [r.kinds, r.limit, r.period]), [[[[445, 446]], 100, 60_000], [[[446, 447]], 50, 60_000]]);
    assert.equal(c.extensions.mls_gateway.enabled, true);

    const text = readFileSync(file, 'utf8');
    const raw = parse(text) as Record<string, any>;
    const documented = new Set([
      ...Object.keys(raw.extensions.mls_gateway),
      ...[...text.matchAll(/^#\s*([a-z_]+)\s*=/gm)].map((m) => m[1]),
    ]);
    for (const key of Object.keys(defaultConfig().extensions.mls_gateway)) {
      if (key !== 'extra') assert.ok(documented.has(key), `config/relay.toml documents extensions.mls_gateway.${key}`);
    }
    for (const section of Object.keys(defaultConfig())) {
      if (section !== 'file' && section !== 'warnings') assert.ok(section in raw, `config/relay.toml has [${section}]`);
    }
  });

  test('the gateway docs sample fails, naming the file and every offending key', () => {
    const file = fixture('mls-gateway-docs.toml');
    const err = configError(() => loadConfig(file, NO_ENV));
    assert.equal(err.file, file);
    const lines = err.message.split('\n');
    for (const line of lines) assert.ok(line.startsWith(`config error in ${file}: `), line);
    assert.match(err.message, /line 10, column \d+: \[server\] is already defined above/);
    assert.match(err.message, /auth\.pubkey_whitelist\[0\]: not a hex or npub public key, got "your-allowed-pubkey-1"/);
    assert.match(err.message, /auth\.pubkey_whitelist\[1\]: not a hex or npub public key, got "your-allowed-pubkey-2"/);
    assert.match(err.message, /extensions\.mls_gateway\.storage_backend: only "lmdb" is supported; this relay stores events in LMDB at data\.path \(got "firestore"\)/);
    assert.equal(lines.length, 4);
    assert.equal(err.key, 'auth.pubkey_whitelist[0]');
  });

  test('the corrected docs sample loads: [server] as [network], whitelist for req and event', () => {
    const c = loadConfig(fixture('mls-gateway-docs-fixed.toml'), NO_ENV);
    assert.equal(c.network.host, '0.0.0.0');
    assert.equal(c.network.port, 8080);
    assert.equal(c.thread.verify, 2);
    assert.equal(c.auth.enabled, true);
    assert.deepEqual(c.auth.req.pubkey_whitelist, [HEX1, HEX2]);
    assert.deepEqual(c.auth.event.pubkey_whitelist, [HEX1, HEX2]);
    assert.equal((c.auth as unknown as Record<string, unknown>).pubkey_whitelist, undefined, 'moved, not left at the top');
    const gw = c.extensions.mls_gateway;
    assert.equal(gw.api_prefix, '/api/v1/mls');
    assert.equal(gw.enable_api, true);
    assert.equal(gw.keypackage_ttl, 86_400_000);
    assert.equal(gw.welcome_ttl, 3_600_000);
    assert.equal(gw.storage_backend, 'lmdb');
    assert.deepEqual(gw.rate_limits, { max_events_per_minute: 100, max_keypackages_per_hour: 10, max_group_messages_per_minute: 50 });
    assert.deepEqual(gw.extra, { project_id: 'your-gcp-project', enable_message_archive: true });
    assert.ok(c.warnings.some((w) => w.startsWith('extensions.mls_gateway.project_id:')));
  });

  test('top-level auth rules merge with explicit sub-tables', () => {
    const c = loadText(`[auth]\npubkey_whitelist = ["${HEX1}"]\nallow_mentioning_whitelisted_pubkeys = true\n[auth.event]\npubkey_whitelist = ["${HEX2}"]\nallow_mentioning_whitelisted_pubkeys = false\n`);
    assert.deepEqual(c.auth.req, { pubkey_whitelist: [HEX1], allow_mentioning_whitelisted_pubkeys: true });
    assert.deepEqual(c.auth.event, { pubkey_whitelist: [HEX2, HEX1], allow_mentioning_whitelisted_pubkeys: false });
  });

  test('[network] wins over [server] for keys set in both', () => {
    const c = loadText('[server]\nport = 1000\nhost = "0.0.0.0"\n[network]\nport = 2000\n');
    assert.equal(c.network.port, 2000);
    assert.equal(c.network.host, '0.0.0.0');
    assert.ok(c.warnings.some((w) => w.startsWith('server.port:')));
  });
});

describe('loadConfig: errors', () => {
  test('missing file', () => {
    const err = configError(() => loadConfig('/nonexistent/dir/relay.toml', NO_ENV));
    assert.match(err.message, /^cannot read config file \/nonexistent\/dir\/relay\.toml: no such file$/);
  });

  test('unknown top-level section is fatal and lists the valid ones', () => {
    const err = configError(() => loadText('[netwrok]\nport = 1\n'));
    assert.equal(err.key, 'netwrok');
    assert.match(err.message, /netwrok: unknown section \[netwrok\]; valid sections: information, data, network,/);
  });

  test('unknown key in a known section is a warning', () => {
    const c = loadText('[network]\nprot = 1\n[thread]\nhttp = 4\n');
    assert.equal(c.network.port, 8080);
    assert.ok(c.warnings.some((w) => w.startsWith('network.prot: unknown key')));
    assert.ok(c.warnings.some((w) => w.startsWith('thread.http: rnostr setting')));
  });

  test('wrong types name file and dotted key, all reported at once', () => {
    const err = configError(() => loadText('[network]\nport = "abc"\n[limitation]\nmax_limit = -1\n[metrics]\nenabled = "yes"\n'));
    const lines = err.message.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^config error in \/.*relay\.toml: network\.port: expected an integer between 0 and 65535, got "abc"$/);
    assert.ok(lines.some((l) => l.endsWith('limitation.max_limit: expected a positive integer, got -1')));
    assert.ok(lines.some((l) => l.endsWith('metrics.enabled: expected true or false, got "yes"')));
    assert.equal(err.key, 'network.port');
  });

  test('bad duration, bad URL, bad kinds, bad IP, missing rule limit, secrets not echoed', () => {
    const err = configError(() =>
      loadText(
        [
          '[data]', 'db_query_timeout = "10 parsecs"',
          '[information]', 'relay_url = "https://relay.example.com"',
          '[metrics]', 'auth = 12345',
          '[auth.req]', 'ip_whitelist = ["10.0.0.0/33"]',
          '[[rate_limiter.event]]', 'kinds = [1, [5, 2]]',
          '[extensions.mls_gateway]', 'system_secret_key = "topsecretvalue"',
        ].join('\n'),
      ),
    );
    assert.match(err.message, /data\.db_query_timeout: expected a duration .*got "10 parsecs"/);
    assert.match(err.message, /information\.relay_url: expected a ws:\/\/ or wss:\/\/ URL/);
    assert.match(err.message, /auth\.req\.ip_whitelist\[0\]: expected an IP address or CIDR block/);
    assert.match(err.message, /rate_limiter\.event\[0\]\.kinds\[1\]: expected a kind/);
    assert.match(err.message, /rate_limiter\.event\[0\]\.limit: required/);
    assert.match(err.message, /metrics\.auth: expected a string \(value not shown\)/);
    assert.match(err.message, /extensions\.mls_gateway\.system_secret_key: not a 64-char hex or nsec secret key/);
    assert.doesNotMatch(err.message, /topsecretvalue|12345/);
  });

  test('group_policy defaults to "roster"; bad policy and seq step are config errors', () => {
    const d = loadText('').extensions.mls_gateway;
    assert.equal(d.group_policy, 'roster');
    assert.equal(d.roster_max_seq_step, 1000);
    const err = configError(() => loadText('[extensions.mls_gateway]\ngroup_policy = "anyone"\nroster_max_seq_step = 0\n'));
    assert.match(err.message, /extensions\.mls_gateway\.group_policy: expected one of "roster", "members", "authenticated", "open"/);
    assert.match(err.message, /extensions\.mls_gateway\.roster_max_seq_step: expected a positive integer, got 0/);
  });

  test('syntax errors carry line and column', () => {
    const err = configError(() => loadText('[network]\nport = = 3\n'));
    assert.match(err.message, /config error in .*relay\.toml: line 2, column \d+: /);
  });

  test('valid rarer values: kinds ranges, ws URL, npub admin, header list', () => {
    const c = loadText(
      `[information]\nrelay_url = "wss://relay.example.com"\n[network]\nreal_ip_header = ["X-Forwarded-For"]\n` +
        `[[rate_limiter.event]]\nlimit = 5\nkinds = [1, [30000, 40000]]\n[extensions.mls_gateway]\nadmin_pubkeys = ["${npubEncode(HEX1)}"]\napi_prefix = "/api/v2/"\n`,
    );
    assert.deepEqual(c.information.relay_url, ['wss://relay.example.com']);
    assert.equal(c.network.real_ip_header, 'x-forwarded-for');
    assert.deepEqual(c.rate_limiter.event[0]!.kinds, [[1, 2], [30000, 40000]]);
    assert.equal(c.rate_limiter.event[0]!.period, 60_000);
    assert.deepEqual(c.extensions.mls_gateway.admin_pubkeys, [HEX1]);
    assert.equal(c.extensions.mls_gateway.api_prefix, '/api/v2');
  });

  test('defaultConfig', () => {
    const c = defaultConfig();
    assert.equal(c.file, '(defaults)');
    assert.equal(c.network.port, 8080);
    assert.equal(c.network.host, '127.0.0.1');
    assert.equal(c.data.path, resolve(process.cwd(), 'data'));
    assert.equal(c.limitation.max_limit, 300);
    assert.equal(c.limitation.max_event_time_newer_than_now, 900_000);
    assert.equal(c.extensions.mls_gateway.keypackage_ttl, 604_800_000);
    assert.deepEqual(c.rate_limiter.event, []);
    assert.deepEqual(c.warnings, []);
    c.network.port = 1;
    assert.equal(defaultConfig().network.port, 8080, 'each call returns a fresh object');
  });
});

describe('loadConfig: environment overrides', () => {
  const file = () => fixture('rnostr.toml');

  test('PORT wins over the file; MLS_RELAY_NETWORK__PORT wins over PORT', () => {
    assert.equal(loadConfig(file(), { PORT: '9000' }).network.port, 9000);
    assert.equal(loadConfig(file(), { PORT: '9000', MLS_RELAY_NETWORK__PORT: '9001' }).network.port, 9001);
    assert.equal(loadConfig(fixture('mls-gateway-docs-fixed.toml'), { PORT: '9002' }).network.port, 9002, 'also over [server]');
  });

  test('nested keys, case-insensitive names, coercion', () => {
    const c = loadConfig(file(), {
      MLS_RELAY_EXTENSIONS__MLS_GATEWAY__ENABLED: 'false',
      mls_relay_limitation__max_limit: '42',
      MLS_RELAY_AUTH__EVENT__PUBKEY_WHITELIST: `${HEX1} ${npubEncode(HEX2)}`,
      MLS_RELAY_AUTH__REQ__IP_WHITELIST: '10.0.0.0/8,192.168.1.1',
      MLS_RELAY_DATA__DB_QUERY_TIMEOUT: '250ms',
      MLS_RELAY_METRICS__ENABLED: '0',
      MLS_RELAY_LOG_LEVEL: 'debug', // not a setting (no "__"): left to whoever reads it
    });
    assert.equal(c.extensions.mls_gateway.enabled, false);
    assert.equal(c.limitation.max_limit, 42);
    assert.deepEqual(c.auth.event.pubkey_whitelist, [HEX1, HEX2]);
    assert.deepEqual(c.auth.req.ip_whitelist, ['10.0.0.0/8', '192.168.1.1']);
    assert.equal(c.data.db_query_timeout, 250);
    assert.equal(c.metrics.enabled, false);
  });

  test('system secret key shortcuts', () => {
    const nsec = nsecEncode(Uint8Array.from(Buffer.from(HEX2, 'hex')));
    assert.equal(loadConfig(file(), { MLS_RELAY_SYSTEM_SECRET_KEY: HEX1 }).extensions.mls_gateway.system_secret_key, HEX1);
    assert.equal(loadConfig(file(), { MLS_GATEWAY_SYSTEM_SECRET_KEY: nsec }).extensions.mls_gateway.system_secret_key, HEX2);
  });

  test('a bad env value names the variable', () => {
    const err = configError(() => loadConfig(file(), { MLS_RELAY_NETWORK__PORT: 'abc', MLS_RELAY_COUNT__ENABLED: 'yes' }));
    assert.equal(err.key, 'MLS_RELAY_NETWORK__PORT', 'problems follow the file order of sections');
    assert.match(err.message, /MLS_RELAY_NETWORK__PORT \(network\.port\): expected an integer between 0 and 65535, got "abc"/);
    assert.match(err.message, /MLS_RELAY_COUNT__ENABLED \(count\.enabled\): expected true, false, 1 or 0, got "yes"/);
    assert.match(configError(() => loadConfig(file(), { PORT: '80a' })).message, /PORT \(network\.port\): expected an integer/);
  });

  test('env names that are not settings are errors naming the variable', () => {
    assert.match(configError(() => loadConfig(file(), { MLS_RELAY_NETWROK__PORT: '1' })).message, /MLS_RELAY_NETWROK__PORT .*unknown section "netwrok"/);
    assert.match(configError(() => loadConfig(file(), { MLS_RELAY_RATE_LIMITER__EVENT__LIMIT: '1' })).message, /cannot be set from the environment/);
    assert.match(configError(() => loadConfig(file(), { MLS_RELAY_AUTH__REQ: '1' })).message, /auth\.req is a section/);
  });
});

describe('watchConfig', () => {
  test('picks up edits and editor-style replacements, reports bad files, stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mls-relay-watch-'));
    const file = join(dir, 'relay.toml');
    const events: Array<{ next?: Config; restart?: string[]; changed?: string[]; error?: Error }> = [];
    let wake: () => void = () => {};
    const next = (ms = 5000) =>
      new Promise<(typeof events)[number]>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no watch event within ${ms} ms`)), ms);
        const check = () => {
          const e = events.shift();
          if (e) {
            clearTimeout(t);
            ok(e);
          } else wake = check;
        };
        check();
      });
    const push = (e: (typeof events)[number]) => {
      events.push(e);
      wake();
    };
    writeFileSync(file, '[network]\nport = 8080\n');
    const initial = loadConfig(file, NO_ENV);
    const stop = watchConfig(
      file,
      initial,
      (n, restart, changed) => push({ next: n, restart, changed }),
      (error) => push({ error }),
      { env: NO_ENV, debounceMs: 50 },
    );
    try {
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(file, '[network]\nport = 8081\n[limitation]\nmax_limit = 7\n');
      const first = await next();
      assert.equal(first.error, undefined);
      assert.equal(first.next?.network.port, 8081);
      assert.deepEqual(first.restart, ['network.port']);
      assert.deepEqual(first.changed, ['limitation.max_limit', 'network.port']);

      // Editors save by writing a sibling file and renaming it over the original.
      const tmp = join(dir, '.relay.toml.swp');
      writeFileSync(tmp, '[network]\nport = 8081\n[limitation]\nmax_limit = 8\n');
      renameSync(tmp, file);
      const second = await next();
      assert.equal(second.next?.limitation.max_limit, 8);
      assert.deepEqual(second.restart, []);

      writeFileSync(file, '[network]\nport = "nope"\n');
      const third = await next();
      assert.ok(third.error instanceof ConfigError);
      assert.match(third.error.message, /network\.port/);
    } finally {
      stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('diffConfig ignores file and warnings', () => {
    const a = parseConfig('[network]\nport = 1\n', '/a.toml', NO_ENV);
    const b = parseConfig('[network]\nport = 1\nbogus = 1\n', '/b.toml', NO_ENV);
    assert.deepEqual(diffConfig(a, b), []);
    const c = parseConfig('[thread]\nverify = 3\n', '/c.toml', NO_ENV);
    assert.deepEqual(diffConfig(a, c), ['network.port', 'thread.verify']);
  });
});
