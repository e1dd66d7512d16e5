/** NIP-11 `limitation` object; keys are NIP-11's own names so nothing is translated. */
export interface RelayLimitation {
  max_message_length?: number;
  max_subscriptions?: number;
  max_limit?: number;
  max_subid_length?: number;
  max_event_tags?: number;
  max_content_length?: number;
  min_pow_difficulty?: number;
  auth_required?: boolean;
  payment_required?: boolean;
  restricted_writes?: boolean;
  created_at_lower_limit?: number;
  created_at_upper_limit?: number;
  default_limit?: number;
}

export interface RelayInfoInput {
  name: string;
  description: string;
  pubkey?: string;
  contact?: string;
  software: string;
  version: string;
  supportedNips: number[];
  limitation: RelayLimitation;
  /** Further NIP-11 fields (icon, banner, relay_countries, ...); they cannot override the above. */
  extra?: Record<string, unknown>;
}

/** The NIP-11 document as a plain JSON-ready object; absent optional fields are omitted. */
export function relayInfoDocument(input: RelayInfoInput): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...input.extra };
  doc.name = input.name;
  doc.description = input.description;
  if (input.pubkey !== undefined) doc.pubkey = input.pubkey;
  if (input.contact !== undefined) doc.contact = input.contact;
  doc.software = input.software;
  doc.version = input.version;
  doc.supported_nips = [...new Set(input.supportedNips)].sort((a, b) => a - b);
  const limitation: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.limitation)) if (v !== undefined) limitation[k] = v;
  doc.limitation = limitation;
  return doc;
}
