/**
 * Whether a URL a client signed (a NIP-42 `relay` tag, a NIP-98 `u` tag) names this relay.
 *
 * The request's Host and X-Forwarded-Host headers never decide it: the sender writes them, and a
 * relay in the middle that passed our challenge to a victim sends its own name there along with the
 * victim's AUTH for it. Only the configured public URL(s) count, or, on a relay without them (which
 * start-up allows on loopback only), loopback names on the port the connection really reached.
 */

const DEFAULT_PORT: Record<string, number> = { 'ws:': 80, 'http:': 80, 'wss:': 443, 'https:': 443 };

interface Parts {
  hostname: string;
  /** Explicit port, '' when the URL does not write one. */
  port: string;
  protocol: string;
}

/** Hostname (lowercase, no trailing dot), port and scheme of a URL or a bare host. */
function parts(urlOrHost: string): Parts | undefined {
  try {
    const u = new URL(urlOrHost.includes('://') ? urlOrHost : `ws://${urlOrHost}`);
    if (u.hostname === '') return undefined;
    return { hostname: u.hostname.toLowerCase().replace(/\.$/, ''), port: u.port, protocol: u.protocol };
  } catch {
    return undefined;
  }
}

/**
 * Hostnames must match; ports only when both sides spell one out, because behind a TLS proxy the
 * public URL and the one a client writes legitimately differ in whether the port is written
 * (NIP-42: "checking the domain name should be enough").
 */
export function namesThisRelay(url: string, expected: string): boolean {
  const a = parts(url);
  const b = parts(expected);
  if (!a || !b || a.hostname !== b.hostname) return false;
  return a.port === '' || b.port === '' || a.port === b.port;
}

/** localhost, 127.0.0.0/8 and ::1, as a bare name, a URL hostname ("[::1]") or network.host. */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * `relayUrls` is information.relay_url; `localPort` is the port this relay accepted the connection
 * on, used only without relay_url (there is no proxy then to rewrite it, and another program on
 * another loopback port must not pass for us).
 */
export function namesOwnUrl(url: string, relayUrls: readonly string[] | undefined, localPort: number | undefined): boolean {
  if (relayUrls !== undefined && relayUrls.length > 0) return relayUrls.some((r) => namesThisRelay(url, r));
  const p = parts(url);
  if (!p || !isLoopbackName(p.hostname)) return false;
  const port = p.port !== '' ? Number(p.port) : DEFAULT_PORT[p.protocol];
  return port !== undefined && port === localPort;
}
