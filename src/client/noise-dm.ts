/** Kind 446: a Noise-protocol direct message; the relay routes by `p` and never reads the content. */
import type { NostrEvent } from '../protocol/types.js';
import { KIND, NOISE_VERSION } from './kinds.js';
import { signEvent } from './sign.js';

export interface NoiseDmOptions {
  recipient: string;
  /** The Noise transport message, already encoded (base64) by the caller's Noise session. */
  content: string;
  version?: string;
  created_at?: number;
}

export function buildNoiseDm(sk: Uint8Array, o: NoiseDmOptions): NostrEvent {
  return signEvent(sk, {
    kind: KIND.NOISE_DM,
    content: o.content,
    tags: [['p', o.recipient], ['v', o.version ?? NOISE_VERSION]],
    created_at: o.created_at,
  });
}
