import type { IncomingMessage } from 'node:http';
import { canonicalAddress } from '../access/ip.js';

/**
 * The client's address, in canonical form (IPv4-mapped IPv6 as IPv4). With a real-IP header configured,
 * the entry `trustedHops` from the right is taken: each trusted proxy appends the address it saw, so
 * everything further left was written by the client and proves nothing (a client adding its own
 * X-Forwarded-For gains nothing). When the header holds fewer entries than trusted hops, every entry
 * came from a trusted proxy and the leftmost is the client. `trustedHops = 0` trusts no proxy: the
 * header is ignored. An entry that is not an IP address falls back to the socket peer.
 *
 * This only holds if the relay is reachable through the proxies alone: a client that can connect
 * directly writes the "proxy" entry itself.
 */
export function clientAddress(req: IncomingMessage, header: string | undefined, trustedHops: number): string {
  const peer = req.socket.remoteAddress;
  const socketAddr = (peer && canonicalAddress(peer)) ?? peer ?? 'unknown';
  if (!header || trustedHops <= 0) return socketAddr;
  const raw = req.headers[header.toLowerCase()];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!value) return socketAddr;
  const hops = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (hops.length === 0) return socketAddr;
  const pick = hops[Math.max(0, hops.length - trustedHops)]!;
  return canonicalAddress(pick) ?? socketAddr;
}
