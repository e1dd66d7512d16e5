import type { Socket } from 'node:net';
import { canonicalAddress, rateSubject } from '../access/ip.js';

export interface SocketLimits {
  total: number;
  perAddress: number;
  /** With a trusted real-IP header the socket peer is a proxy: only the total cap applies. */
  behindProxy: boolean;
}

export type Admission = 'ok' | 'total' | 'address';

/**
 * Counts sockets that are still plain HTTP: from accept until they close or become a WebSocket
 * (which then counts under max_connections instead). Per address means per socket peer, IPv6 per
 * /64 like the rate limiter, since one host holds a whole /64.
 */
export class HttpSocketCaps {
  private total = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly counted = new WeakMap<Socket, string>();
  /** Sockets closed at accept, by the cap that refused them (for /metrics). */
  readonly refused = { total: 0, address: 0 };
  /**
   * One listener shared by every socket (the emitter calls it with the socket as `this`), and
   * removed on release: a per-socket `once` closure would stay on every upgraded WebSocket's
   * socket for its whole life (~250 bytes each).
   */
  private readonly onClose: (this: Socket) => void;

  constructor() {
    const caps = this;
    this.onClose = function (this: Socket) {
      caps.release(this);
    };
  }

  get size(): number {
    return this.total;
  }

  /** Counts the socket if it fits; the caller closes it otherwise. */
  admit(socket: Socket, limits: SocketLimits): Admission {
    if (this.total >= limits.total) {
      this.refused.total++;
      return 'total';
    }
    const peer = socket.remoteAddress;
    const key = limits.behindProxy ? '' : rateSubject((peer && canonicalAddress(peer)) ?? peer ?? 'unknown');
    const n = this.byAddress.get(key) ?? 0;
    if (!limits.behindProxy && n >= limits.perAddress) {
      this.refused.address++;
      return 'address';
    }
    this.total++;
    this.byAddress.set(key, n + 1);
    this.counted.set(socket, key);
    socket.on('close', this.onClose);
    return 'ok';
  }

  /** The socket closed or was upgraded; calling it twice is harmless. */
  release(socket: Socket): void {
    const key = this.counted.get(socket);
    if (key === undefined) return;
    this.counted.delete(socket);
    socket.off('close', this.onClose);
    this.total--;
    const n = (this.byAddress.get(key) ?? 1) - 1;
    if (n <= 0) this.byAddress.delete(key);
    else this.byAddress.set(key, n);
  }
}
