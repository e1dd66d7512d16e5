/**
 * The gateway docs' [server] is accepted in the file as an alias of [network]; the environment takes
 * it the same way (MLS_RELAY_SERVER__HOST was refused as an unknown section), with the same precedence:
 * a [network] key, from the file or MLS_RELAY_NETWORK__*, wins over the [server] one, with a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const load = (text: string, env: Record<string, string>) => parseConfig(text, 'relay.toml', env);

test('MLS_RELAY_SERVER__HOST and __PORT set network.host and network.port like [server] in the file', () => {
  const c = load('', { MLS_RELAY_SERVER__HOST: '127.0.0.2', MLS_RELAY_SERVER__PORT: '7001', MLS_RELAY_SERVER__WORKERS: '3' });
  assert.equal(c.network.host, '127.0.0.2');
  assert.equal(c.network.port, 7001);
  assert.equal(c.thread.verify, 3);
});

test('MLS_RELAY_SERVER__* overrides [server] in the file; [network] still wins over both, with a warning', () => {
  const fromFile = load('[server]\nhost = "127.0.0.3"\n', { MLS_RELAY_SERVER__HOST: '127.0.0.4' });
  assert.equal(fromFile.network.host, '127.0.0.4');
  const both = load('', { MLS_RELAY_SERVER__HOST: '127.0.0.5', MLS_RELAY_NETWORK__HOST: '127.0.0.6' });
  assert.equal(both.network.host, '127.0.0.6');
  assert.ok(both.warnings.some((w) => /server\.host: ignored, network\.host is also set/.test(w)), both.warnings.join('\n'));
});

test('a bad MLS_RELAY_SERVER__ value gets the same one-line error as any other variable', () => {
  assert.throws(
    () => load('', { MLS_RELAY_SERVER__PORT: 'abc' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^config error in relay\.toml: MLS_RELAY_SERVER__PORT \(server\.port\): expected an integer between 0 and 65535, got "abc"$/.test(e.message),
  );
  assert.throws(
    () => load('', { MLS_RELAY_SERVER__NOPE__X: '1' }),
    (e: unknown) => e instanceof ConfigError && /MLS_RELAY_SERVER__NOPE__X \(server\.nope\.x\): no section server\.nope to set keys in/.test(e.message),
  );
});
