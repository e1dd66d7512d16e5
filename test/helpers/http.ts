/** Small fetch wrapper for the relay's HTTP endpoints (bounded by a timeout). */
export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or undefined if it is not JSON. */
  json: unknown;
}

export async function httpGet(url: string, headers: Record<string, string> = {}, timeoutMs = 5_000): Promise<HttpResult> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Depth-first search for values satisfying pred anywhere in a JSON value. */
export function findDeep(value: unknown, pred: (v: unknown) => boolean, out: unknown[] = []): unknown[] {
  if (pred(value)) out.push(value);
  if (Array.isArray(value)) for (const v of value) findDeep(v, pred, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) findDeep(v, pred, out);
  return out;
}
