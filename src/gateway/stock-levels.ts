import type { GatewayTables } from './tables.js';

/** Recomputed at most this often: the count walks every stock key, which a scrape should not do each time. */
const EVERY_MS = 60_000;

/**
 * Owners whose stock (unconsumed KeyPackages still in gw:kp_owner; expired ones leave with the
 * next sweep) is below `lowWater`, for the low-stock metric and alert. Only keys are read, in
 * owner order, so the walk costs one cursor pass and no record decoding.
 */
export function ownersBelow(t: GatewayTables, lowWater: number): number {
  let below = 0;
  let owner: string | undefined;
  let n = 0;
  for (const key of t.kpOwner.getKeys()) {
    const o = (key as [string, number, string])[0];
    if (o !== owner) {
      if (owner !== undefined && n < lowWater) below++;
      owner = o;
      n = 0;
    }
    n++;
  }
  if (owner !== undefined && n < lowWater) below++;
  return below;
}

/** ownersBelow, cached for EVERY_MS. */
export function cachedOwnersBelow(t: GatewayTables, lowWater: () => number, now = Date.now): () => number {
  let value = 0;
  let at = -Infinity;
  return () => {
    if (now() - at >= EVERY_MS) {
      value = ownersBelow(t, lowWater());
      at = now();
    }
    return value;
  };
}
