/**
 * NIP-59 gift wrapping (rumor → kind 13 seal → kind 1059 wrap, NIP-44 v2 encryption) and
 * the MLS Welcome carried in it as a kind 444 rumor. The relay only sees the wrap: a
 * one-shot author, the `p` recipient and, for the gateway, the optional `h` group.
 */
import { getEventHash, verifyEvent } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import type { NostrEvent } from '../protocol/types.js';
import { GIFT_VERSION, KIND } from './kinds.js';
import { fromBase64, fromHex, toBase64 } from './encoding.js';
import { nowSec, oneShotKey, publicKeyOf, signEvent } from './sign.js';
import { tagValue } from './tags.js';

/** An unsigned event with its id: deniable, so a leaked rumor proves nothing about its author. */
export type Rumor = Omit<NostrEvent, 'sig'>;

const TWO_DAYS = 2 * 24 * 3600;

function randomPast(maxSeconds: number): number {
  return nowSec() - Math.floor(Math.random() * maxSeconds);
}

export function createRumor(senderPubkey: string, t: { kind: number; content: string; tags?: string[][]; created_at?: number }): Rumor {
  const base = { pubkey: senderPubkey, created_at: t.created_at ?? nowSec(), kind: t.kind, tags: t.tags ?? [], content: t.content };
  return { ...base, id: getEventHash(base) };
}

/** Seal time is randomised (NIP-59) since nobody but the recipient ever sees it. */
export function sealRumor(senderSk: Uint8Array, rumor: Rumor, recipientPubkey: string, created_at = randomPast(TWO_DAYS)): NostrEvent {
  const key = nip44.getConversationKey(senderSk, recipientPubkey);
  return signEvent(senderSk, { kind: KIND.SEAL, content: nip44.encrypt(JSON.stringify(rumor), key), tags: [], created_at });
}

export interface WrapOptions {
  /** Gateway `h` tag: lets an owner/admin's wrap make the recipient a member (membership_from_giftwrap). */
  groupId?: string;
  /**
   * Id of the 445 Commit this Welcome belongs to (`["mls_commit", id]` on the wrap). A relay
   * with commit_fencing refuses the wrap unless that Commit was accepted: publish the Commit,
   * wait for its OK true, then send the Welcomes (RFC 9750 §5.2).
   */
  commitId?: string;
  /** `v` tag; null omits it (plain NIP-59 / Marmot wraps carry only `p`). */
  version?: string | null;
  /**
   * NIP-59 suggests a randomised past created_at for the wrap too; off by default because
   * relays expire mailbox items and answer `since` pickups by created_at, and a wrap dated
   * two days back could be swept or missed. Turn it on for public relays.
   */
  randomizeTimestamp?: boolean;
  created_at?: number;
  /** `device` tag: the recipient's device whose KeyPackage the Welcome was made for. */
  device?: string;
}

export function wrapSeal(seal: NostrEvent, recipientPubkey: string, o: WrapOptions = {}): NostrEvent {
  const ephemeral = oneShotKey();
  const key = nip44.getConversationKey(ephemeral, recipientPubkey);
  const tags: string[][] = [['p', recipientPubkey]];
  if (o.groupId !== undefined) tags.push(['h', o.groupId]);
  if (o.commitId !== undefined) tags.push(['mls_commit', o.commitId]);
  const v = o.version === undefined ? GIFT_VERSION : o.version;
  if (v !== null) tags.push(['v', v]);
  if (o.device !== undefined) tags.push(['device', o.device]);
  const created_at = o.created_at ?? (o.randomizeTimestamp ? randomPast(TWO_DAYS) : nowSec());
  return signEvent(ephemeral, { kind: KIND.GIFT_WRAP, content: nip44.encrypt(JSON.stringify(seal), key), tags, created_at });
}

export function giftWrap(senderSk: Uint8Array, recipientPubkey: string, rumor: Rumor, o: WrapOptions = {}): NostrEvent {
  return wrapSeal(sealRumor(senderSk, rumor, recipientPubkey), recipientPubkey, o);
}

export interface Unwrapped {
  rumor: Rumor;
  seal: NostrEvent;
  /** The real sender: the seal's author, which the rumor must claim too. */
  sender: string;
}

/** Decrypts a 1059; throws unless the seal verifies and names the same author as the rumor. */
export function unwrapGift(wrap: NostrEvent, recipientSk: Uint8Array): Unwrapped {
  if (wrap.kind !== KIND.GIFT_WRAP) throw new Error(`not a gift wrap (kind ${wrap.kind})`);
  const seal = JSON.parse(nip44.decrypt(wrap.content, nip44.getConversationKey(recipientSk, wrap.pubkey))) as NostrEvent;
  if (seal.kind !== KIND.SEAL) throw new Error(`wrapped event is kind ${seal.kind}, not a seal`);
  if (!verifyEvent({ ...seal })) throw new Error('seal signature does not verify');
  const rumor = JSON.parse(nip44.decrypt(seal.content, nip44.getConversationKey(recipientSk, seal.pubkey))) as Rumor;
  // Without this check anyone could seal a rumor that claims someone else wrote it.
  if (rumor.pubkey !== seal.pubkey) throw new Error('rumor author differs from seal author');
  const { id: _id, ...unsigned } = rumor;
  if (getEventHash(unsigned) !== rumor.id) throw new Error('rumor id does not match its content');
  return { rumor, seal, sender: seal.pubkey };
}

export interface WelcomeOptions extends Omit<WrapOptions, 'created_at'> {
  /** The encoded MLSMessage (wireformat mls_welcome). */
  welcome: Uint8Array;
  /** The 443/30443 the Welcome consumed (Marmot `e` tag), so the joiner finds its private keys. */
  keyPackageEventId?: string;
  relays?: string[];
}

/** Welcome → 444 rumor → 13 seal → 1059 wrap for one new member. */
export function giftWrapWelcome(senderSk: Uint8Array, recipientPubkey: string, o: WelcomeOptions): { wrap: NostrEvent; rumor: Rumor } {
  const tags: string[][] = [];
  if (o.keyPackageEventId !== undefined) tags.push(['e', o.keyPackageEventId]);
  if (o.relays?.length) tags.push(['relays', ...o.relays]);
  tags.push(['encoding', 'base64']);
  const rumor = createRumor(publicKeyOf(senderSk), { kind: KIND.WELCOME_RUMOR, content: toBase64(o.welcome), tags });
  return { wrap: giftWrap(senderSk, recipientPubkey, rumor, o), rumor };
}

/** The Welcome MLSMessage bytes of an unwrapped 444 rumor. */
export function welcomeBytes(rumor: Rumor): Uint8Array {
  if (rumor.kind !== KIND.WELCOME_RUMOR) throw new Error(`rumor is kind ${rumor.kind}, not a Welcome (444)`);
  return tagValue(rumor, 'encoding') === 'hex' ? fromHex(rumor.content) : fromBase64(rumor.content);
}
