import { createStore } from '@xstate/store';
import type { GatewayTables, GroupRecord } from '../src/gateway/tables.js';
import type { Supervised } from './supervisor.js';

function emptyGroup(group: string, now: number): GroupRecord {
  return {
    group_id: group,
    display_name: null,
    avatar_url: null,
    relays: [],
    last_epoch: null,
    last_event_ts: null,
    messages: 0,
    created_at: now,
    updated_at: now,
  };
}

/**
 * A 445 for `group` (inside its write transaction). `commitEpoch` is set only for the
 * epoch's winning Commit (fencing.ts): it moves last_epoch from N to N+1, one epoch at a
 * time (or sets it when unknown). Application messages and their `k` tag never move it,
 * so no member can push the registry's epoch out of reach.
 */
export function recordGroupMessage(t: GatewayTables, group: string, commitEpoch: number | undefined, createdAt: number, now: number): void {
  const g = t.groups.get(group) ?? emptyGroup(group, now);
  const next: GroupRecord = { ...g, messages: g.messages + 1, updated_at: now };
  if (commitEpoch !== undefined && (g.last_epoch === null || g.last_epoch === commitEpoch)) next.last_epoch = commitEpoch + 1;
  if (g.last_event_ts === null || createdAt > g.last_event_ts) next.last_event_ts = createdAt;
  t.groups.putSync(group, next);
}

/** Registry row for a group that got a roster (bootstrap), so created_at is when it became known. */
export function touchGroup(t: GatewayTables, group: string, now: number): void {
  if (!t.groups.doesExist(group)) t.groups.putSync(group, emptyGroup(group, now));
}

export interface GroupMeta {
  display_name?: string | null;
  avatar_url?: string | null;
  relays?: string[];
}

/** POST /groups: create or update the registry metadata; returns whether the row is new. */
export function upsertGroupMeta(t: GatewayTables, group: string, meta: GroupMeta, now: number): boolean {
  const old = t.groups.get(group);
  const g = { ...(old ?? emptyGroup(group, now)) };
  if (meta.display_name !== undefined) g.display_name = meta.display_name;
  if (meta.avatar_url !== undefined) g.avatar_url = meta.avatar_url;
  if (meta.relays !== undefined) g.relays = meta.relays;
  g.updated_at = now;
  t.groups.putSync(group, g);
  return old === undefined;
}

interface GroupView {
  group_id: string;
  display_name: string | null;
  owner: string | null;
  admins: string[];
  member_count: number;
  last_epoch: number | null;
  last_event_ts: number | null;
  messages: number;
  created_at: number | null;
  updated_at: number | null;
}

/**
 * One per MLS group the relay has seen (a 445, a roster, or registry metadata). The
 * registry lives in gw:groups and gw:roster; the actor is rebuilt from them on start and
 * on a supervisor restart, and reloads after each commit that touched its group.
 */
export class GroupActor implements Supervised {
  readonly kind = 'group';
  readonly id: string;
  readonly state;

  constructor(
    private readonly tables: GatewayTables,
    readonly groupId: string,
  ) {
    this.id = `group:${groupId}`;
    this.state = createStore({
      context: this.load(),
      on: { loaded: (_c, e: { view: GroupView }) => e.view },
    });
  }

  private load(): GroupView {
    const g = this.tables.groups.get(this.groupId);
    const r = this.tables.roster.get(this.groupId);
    return {
      group_id: this.groupId,
      display_name: g?.display_name ?? null,
      owner: r?.owner ?? null,
      admins: r?.admins ?? [],
      member_count: r?.member_count ?? 0,
      last_epoch: g?.last_epoch ?? null,
      last_event_ts: g?.last_event_ts ?? null,
      messages: g?.messages ?? 0,
      created_at: g?.created_at ?? r?.created_at ?? null,
      updated_at: Math.max(g?.updated_at ?? 0, r?.updated_at ?? 0) || null,
    };
  }

  refresh(): void {
    this.state.trigger.loaded({ view: this.load() });
  }

  snapshot(): Record<string, unknown> {
    return { ...this.state.getSnapshot().context };
  }

  stop(_reason: string): void {
    /* state is durable; nothing to release */
  }
}
