import type { NostrEvent } from '../protocol/types.js';
import type { Position } from '../storage/position.js';
import type { WriteEffect } from '../storage/writer.js';

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

/** An EVENT step that may need to await: a rejection, a promise of one, or undefined. */
export type AsyncEventPolicy = (event: NostrEvent, client: Client) => Promise<string | undefined> | string | undefined;

/**
 * One delivery rule: may this client see this event? Applied to REQ, live, COUNT and REST
 * alike. `position` is given for stored results (the event's place in the relay's order)
 * and absent for live delivery, where the rule is judged as of now.
 */
export type ReadRule = (event: NostrEvent, client: Client, position?: Position) => boolean;

/** The answer to one EVENT: an OK when the event had an id, otherwise a NOTICE. */
export type IngestResult = { id: string; ok: boolean; message: string } | { id?: undefined; notice: string };

/**
 * A write-time step: returns work to run INSIDE the event's LMDB write transaction (the
 * gateway's side tables), or undefined. The work is given the event's position; `now` is
 * the time the change was made (carried in the cluster log), the only clock an effect may
 * read, so every instance that applies the event decides the same. Throwing
 * `WriteRejection` there refuses the event atomically with that message (e.g. a racing
 * roster sequence number, a second Commit for one epoch).
 */
export type EventEffect = (event: NostrEvent, client: Client, now: number) => WriteEffect | undefined;

/** Runs after an event is durably stored (or accepted, when ephemeral); never blocks the OK. */
export type AfterAccept = (event: NostrEvent, client: Client) => void;

/**
 * A REQ/COUNT gate: return a CLOSED message with its prefix ("auth-required: ...",
 * "blocked: ...", "rate-limited: ...") or undefined to let the query run.
 */
export type ReqPolicy = (
  filters: readonly import('../protocol/types.js').Filter[],
  client: Client,
  command: 'REQ' | 'COUNT',
) => string | undefined;

/** A gate on new WebSocket connections by client address: a reason to refuse, or undefined. */
export type ConnectPolicy = (remote: string) => string | undefined;
