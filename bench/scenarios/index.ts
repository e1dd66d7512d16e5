/** Every scenario `npm run bench` knows, in the order it runs them. */
import type { Scenario } from '../lib/report.js';
import { ingest } from './ingest.js';

export const SCENARIOS: Scenario[] = [ingest];
