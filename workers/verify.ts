/**
 * Piscina worker: checks the id hash and BIP-340 signature of a batch of events.
 * One task carries many events so the per-task messaging cost is spread thin.
 * Answers one code per event (see src/verify/check-event.ts): 0 ok, 1 bad id, 2 bad signature.
 */
import { workerData } from 'piscina';
import type { NostrEvent } from '../src/protocol/types.js';
import { loadBackend, type SchnorrBackend } from '../src/verify/backend.js';
import { checkEvent } from '../src/verify/check-event.js';

export interface VerifyBatchTask {
  events: NostrEvent[];
}

export interface InfoTask {
  op: 'info';
}

export interface InfoResult {
  backend: string;
}

export interface VerifyWorkerData {
  backend?: string;
}

// Loaded once per thread; a load failure rejects every task, which VerifyPool.create surfaces at start-up.
const backendReady: Promise<SchnorrBackend> = loadBackend((workerData as VerifyWorkerData | undefined)?.backend);
// An unobserved rejection would kill the thread before the first task could report why.
backendReady.catch(() => {});

export default async function verifyTask(task: VerifyBatchTask | InfoTask): Promise<Uint8Array | InfoResult> {
  const backend = await backendReady;
  if ('op' in task) return { backend: backend.name };
  const events = task.events;
  const out = new Uint8Array(events.length);
  for (let i = 0; i < events.length; i++) out[i] = checkEvent(backend, events[i]!);
  return out;
}
