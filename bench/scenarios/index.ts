/** Every scenario `npm run bench` knows, in the order it runs them. */
import type { Scenario } from '../lib/report.js';
import { cluster } from './cluster.js';
import { connections } from './connections.js';
import { fanout } from './fanout.js';
import { gateway } from './gateway.js';
import { http } from './http.js';
import { ingest } from './ingest.js';
import { query } from './query.js';
import { verifyPool } from './verify-pool.js';

export const SCENARIOS: Scenario[] = [verifyPool, ingest, fanout, connections, http, query, gateway, cluster];
