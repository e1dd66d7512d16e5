import type { IncomingMessage } from 'node:http';

/**
 * The client's address. With a real-IP header configured, the entry `trustedHops` from
 * the right is taken: proxies append, so everything to its left was written by the
 * client and cannot be trusted (a client adding its own X-Forwarded-For gains nothing).
 */
export function clientAddress(req: IncomingMessage, header: string | undefined, trustedHops: number): string {
  const socketAddr = normalize(req.socket.remoteAddress ?? 'unknown');
  if (!header) return socketAddr;
  const raw = req.headers[header.toLowerCase()];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!value) return socketAddr;
  const hops = value.split(',').map((s) => s.trim()).filter(Boolean);
  const pick = hops[hops.length - Math.max(1, trustedHops)];
  return pick ? normalize(pick) : socketAddr;
}

function normalize(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
