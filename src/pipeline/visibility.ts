import type { NostrEvent } from '../protocol/types.js';
import type { Client, ReadRule } from './types.js';

/**
 * The read rules of the relay, in one place so REQ results, live fan-out, COUNT and REST
 * all apply the same ones. The core has none; the MLS gateway adds its kind rules.
 */
export class Visibility {
  readonly rules: ReadRule[] = [];

  get restricted(): boolean {
    return this.rules.length > 0;
  }

  mayRead(event: NostrEvent, client: Client): boolean {
    for (const rule of this.rules) if (!rule(event, client)) return false;
    return true;
  }
}
