import type { NostrEvent } from '../protocol/types.js';

/** What policy steps and read rules may know about the client on the other end. */
export interface Client {
  readonly connId: number;
  /** Client address after trusted-proxy resolution. */
  readonly remote: string;
  /** Pubkeys this connection has proven with NIP-42 (several are allowed). */
  readonly pubkeys: readonly string[];
}

/**
 * One step of the EVENT policy chain (khatru style): return a rejection message with
 * its standard prefix ("blocked: ...", "auth-required: ...") or undefined to let it pass.
 */
export type EventPolicy = (event: NostrEvent, client: Client) => string | undefined;

/** One delivery rule: may this client see this event? Applied to REQ, live, COUNT and REST alike. */
export type ReadRule = (event: NostrEvent, client: Client) => boolean;

/** The answer to one EVENT: an OK when the event had an id, otherwise a NOTICE. */
export type IngestResult = { id: string; ok: boolean; message: string } | { id?: undefined; notice: string };
