/**
 * The request target as a URL, or undefined when it is not one we serve. Origin-form (`/path?q`) is
 * parsed against a fixed origin by concatenation, so `//evil/x` stays a path and never names a host;
 * absolute-form (`http://host/path`, which RFC 9112 says a server must accept) must be http(s).
 * Anything else (`*`, `http://[`, a port beyond 65535) is the client's error, answered 400.
 */
export function requestTarget(raw: string | undefined): URL | undefined {
  const target = raw ?? '/';
  try {
    if (target.startsWith('/')) return new URL('http://localhost' + target);
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** decodeURIComponent that answers undefined instead of throwing on `%zz` or `%C0`. */
export function decodePathPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
