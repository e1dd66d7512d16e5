import { corePolicies } from './policy.js';
import type { AfterAccept, AsyncEventPolicy, ConnectPolicy, EventEffect, EventPolicy, ReqPolicy } from './types.js';

/**
 * The relay's extension points, as plain lists of small functions (khatru style). Access
 * control, rate limits and the MLS gateway each push their steps here at start-up; the
 * connection actor and the ingest pipeline only walk the lists.
 */
export interface Hooks {
  /** Before any handshake: by client address. */
  connect: ConnectPolicy[];
  /**
   * EVENT, after the cheap checks and BEFORE the signature check: only steps that judge the
   * connection, not the event's claimed author (rate limits), so abuse is refused without
   * costing a verify.
   */
  preVerify: EventPolicy[];
  /** EVENT, after the signature check, in order; the first rejection wins. */
  event: EventPolicy[];
  /**
   * EVENT, after `event` passed: steps that must await (the MLS KeyPackage signatures). A step
   * returns undefined synchronously for events it does not inspect, so others never wait.
   */
  eventAsync: AsyncEventPolicy[];
  /** Work inside the event's write transaction. */
  effects: EventEffect[];
  /** After the event is accepted (stored or ephemeral). */
  afterAccept: AfterAccept[];
  /** REQ and COUNT, before the query runs. */
  req: ReqPolicy[];
}

export function coreHooks(): Hooks {
  return { connect: [], preVerify: [], event: [...corePolicies], eventAsync: [], effects: [], afterAccept: [], req: [] };
}

/** First rejection of a list of gates, or undefined. */
export function firstRejection<A extends unknown[]>(gates: Array<(...args: A) => string | undefined>, ...args: A): string | undefined {
  for (const gate of gates) {
    const r = gate(...args);
    if (r !== undefined) return r;
  }
  return undefined;
}
