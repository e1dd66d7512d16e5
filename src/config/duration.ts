/**
 * Durations as rnostr writes them (humantime: "100ms", "1m30s", "2h") or as a bare number of seconds,
 * always returned in milliseconds so the rest of the relay never guesses the unit.
 *
 * Hand-written on purpose, after trying the libraries: `ms` 2.1 cannot read "1m30s" and reads "60" as
 * 60 ms; `parse-duration` 2.1.9 accepts "-5s" (-5000) and reads "1h-30m" as 5,400,000 ms, so an
 * operator's typo would become a silent wrong value instead of a config error naming the key.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1, msec: 1, millis: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

const EXPECTED = 'expected a duration (seconds, or a string like "100ms", "60s", "1m30s", "2h", "1d")';

/** Milliseconds (rounded to a whole ms) from seconds or a humantime-style string; throws on anything else. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${EXPECTED}, got ${value}`);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') throw new Error(`${EXPECTED}, got ${describeType(value)}`);
  const text = value.trim();
  if (PLAIN_SECONDS.test(text)) return Math.round(Number(text) * 1000);

  let total = 0;
  let pos = 0;
  PART.lastIndex = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    const unit = m ? UNIT_MS[m[2]] : undefined;
    if (!m || unit === undefined) break;
    total += Number(m[1]) * unit;
    pos = PART.lastIndex;
  }
  if (text.length === 0 || pos !== text.length) throw new Error(`${EXPECTED}, got ${JSON.stringify(value)}`);
  return Math.round(total);
}

function describeType(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return 'a table';
  return String(v);
}
