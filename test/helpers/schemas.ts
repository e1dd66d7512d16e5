/**
 * Validation of relay→client messages against the JSON schemas published by
 * @nostrability/schemata (0.3.x).
 *
 * The package's JS bundle cannot be imported on Node 20 (it uses JSON import
 * attributes), so the schema files are read from
 * node_modules/@nostrability/schemata/dist/nips/... with fs. Those files are
 * already dereferenced by the package build (no external `$ref`), so each one
 * compiles on its own.
 *
 * Deliberate deviations from the package schemas (kept as narrow as possible):
 *  - NIP-45 `COUNT` (nips/nip-45/messages/relay-count): the schema sets
 *    `additionalProperties: false` on the result object with only `count` and
 *    `approximate`, but NIP-45 also lets a relay return `"hll": "<hex>"`
 *    (HyperLogLog registers, 256 bytes = 512 hex chars). Before validating a
 *    COUNT, an `hll` member that is exactly 512 lowercase hex chars is removed from a copy;
 *    any other `hll` value still fails validation.
 *  - The schemas carry `errorMessage` annotations (an ajv-errors keyword); they
 *    are registered as plain annotation keywords so strict mode does not reject them.
 * Nothing in DIVERGENCES.md / LIMITATIONS.md of 0.3.2 concerns the relay message
 * schemas; LIMITATIONS.md notes that id/sig correctness cannot be checked by
 * JSON Schema — the ws client (ws-client.ts) additionally checks every EVENT it
 * receives with nostr-tools' verifyEvent.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);

/** Root of the installed @nostrability/schemata package. */
function schemataRoot(): string {
  // package.json is not in the package's "exports"; resolve the main entry and walk up.
  let dir: string;
  try {
    dir = dirname(require.resolve('@nostrability/schemata/package.json'));
  } catch {
    const main = require.resolve('@nostrability/schemata');
    dir = dirname(main);
    while (!dir.endsWith(join('@nostrability', 'schemata'))) {
      const up = dirname(dir);
      if (up === dir) throw new Error('cannot locate @nostrability/schemata');
      dir = up;
    }
  }
  return dir;
}

const ROOT = schemataRoot();

/** Message type (first array element) → schema file, relative to the package's dist/. */
const SCHEMA_FILES: Record<string, string> = {
  EVENT: 'nips/nip-01/messages/relay-event/schema.json',
  OK: 'nips/nip-01/messages/relay-ok/schema.json',
  EOSE: 'nips/nip-01/messages/relay-eose/schema.json',
  CLOSED: 'nips/nip-01/messages/relay-closed/schema.json',
  NOTICE: 'nips/nip-01/messages/relay-notice/schema.json',
  AUTH: 'nips/nip-42/messages/relay-auth/schema.json',
  COUNT: 'nips/nip-45/messages/relay-count/schema.json',
};

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, strict: true, strictTuples: false });
addFormats(ajv);
ajv.addKeyword({ keyword: 'errorMessage', schemaType: ['string', 'object'] });

const validators = new Map<string, ValidateFunction>();
for (const [type, rel] of Object.entries(SCHEMA_FILES)) {
  const file = join(ROOT, 'dist', rel);
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  validators.set(type, ajv.compile(schema));
}

const HLL_RE = /^[0-9a-f]{512}$/;

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ' ' + JSON.stringify(e.params) : ''}`)
    .join('; ');
}

function preview(msg: unknown): string {
  const s = JSON.stringify(msg);
  return s.length > 500 ? s.slice(0, 500) + '…' : s;
}

/**
 * Throws if `msg` is not a valid relay→client message (EVENT, OK, EOSE, CLOSED,
 * NOTICE, AUTH, COUNT) according to the schemata JSON schemas.
 */
export function assertValidRelayMessage(msg: unknown[]): void {
  if (!Array.isArray(msg) || msg.length === 0 || typeof msg[0] !== 'string') {
    throw new Error(`relay message is not a JSON array starting with a type string: ${preview(msg)}`);
  }
  const type = msg[0];
  const validate = validators.get(type);
  if (!validate) {
    throw new Error(`unknown relay message type ${JSON.stringify(type)}: ${preview(msg)}`);
  }
  let subject: unknown = msg;
  if (type === 'COUNT' && msg.length === 3 && isPlainObject(msg[2]) && 'hll' in msg[2]) {
    // Workaround (see file header): NIP-45 allows "hll"; the schema does not.
    const { hll, ...rest } = msg[2] as Record<string, unknown>;
    if (typeof hll === 'string' && HLL_RE.test(hll)) subject = [msg[0], msg[1], rest];
  }
  if (!validate(subject)) {
    throw new Error(`invalid ${type} message from relay: ${formatErrors(validate.errors)}\n  message: ${preview(msg)}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message types this module can validate. */
export const RELAY_MESSAGE_TYPES = Object.keys(SCHEMA_FILES);
