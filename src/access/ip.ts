/**
 * Client addresses: one canonical spelling per address, CIDR list matching (node:net BlockList) and
 * the key rate limits count under.
 */
import { BlockList, isIP } from 'node:net';

/**
 * The canonical form of an address as it arrives from a socket or a proxy header, or undefined when it
 * is not an IP. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) becomes the IPv4 address, so a
 * dual-stack listener cannot make one client look like two (lists, rate-limit buckets, logs).
 * Accepts what proxies write: `1.2.3.4:5678`, `[2001:db8::1]:443`, `"[2001:db8::1]"`, zone ids.
 */
export function canonicalAddress(raw: string): string | undefined {
  let s = raw.trim().replace(/^"|"$/g, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  s = s.toLowerCase();
  const family = isIP(s);
  if (family === 4) return s;
  if (family !== 6) return undefined;
  const groups = ipv6Groups(s);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return compressIPv6(groups);
}

/** The eight 16-bit groups of a valid IPv6 address (validated by the caller with isIP). */
function ipv6Groups(addr: string): number[] {
  // An embedded IPv4 tail (::ffff:1.2.3.4) is the last two groups written in decimal.
  const s = addr.replace(/(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, (_m, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const gap = s.indexOf('::');
  if (gap < 0) return parse(s);
  const left = parse(s.slice(0, gap));
  const right = parse(s.slice(gap + 2));
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text form: lowercase, longest run of two or more zero groups as "::". */
function compressIPv6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * The subject rate limits count under. An IPv6 client usually holds a whole /64 and can pick any
 * address in it, so per-address buckets would be no limit at all: IPv6 is keyed by its /64.
 */
export function rateSubject(addr: string): string {
  if (isIP(addr) !== 6) return addr;
  const g = ipv6Groups(addr);
  return `${compressIPv6([g[0]!, g[1]!, g[2]!, g[3]!, 0, 0, 0, 0])}/64`;
}

/** A compiled ip_whitelist / ip_blacklist: single addresses and CIDR blocks, IPv4 and IPv6. */
export class IpList {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr = '', prefix] = entry.trim().split('/');
      const family = isIP(addr);
      // The config check already refused anything else; a bad entry here must not widen a whitelist.
      if (family === 0) throw new Error(`not an IP address or CIDR block: ${JSON.stringify(entry)}`);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(prefix), type);
    }
    this.size = entries.length;
  }

  /** Whether a canonical address (see canonicalAddress) is in the list; a non-IP never is. */
  has(addr: string): boolean {
    const family = isIP(addr);
    if (family === 0) return false;
    return this.list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
  }
}
