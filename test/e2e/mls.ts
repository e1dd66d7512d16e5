/**
 * The MLS side of the e2e tests, on ts-mls (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519).
 * Kept out of src/client on purpose: the SDK moves opaque bytes and stays independent of
 * any one MLS implementation.
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
  type ClientState,
  type KeyPackage,
  type PrivateKeyPackage,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { fromHex, fromUtf8, toHex, utf8 } from '../../src/client/index.js';

export const SUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
export const impl = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE_NAME));

export interface OwnKeyPackage {
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  /** The MLSMessage (mls_key_package) bytes that go into a 443. */
  encoded: Uint8Array;
  /** KeyPackageRef, hex (the `kpr` tag). */
  ref: string;
}

/** The credential identity is the Nostr pubkey, as Marmot does, so members map to roster entries. */
export async function newKeyPackage(nostrPubkey: string, o: { lastResort?: boolean } = {}): Promise<OwnKeyPackage> {
  const cred = { credentialType: 'basic' as const, identity: fromHex(nostrPubkey) };
  const caps = defaultCapabilities();
  // last_resort (0x000a, draft-ietf-mls-extensions): the relay hands it out without consuming it.
  if (o.lastResort) caps.extensions = [...caps.extensions, 0x000a];
  const extensions = o.lastResort ? [{ extensionType: 0x000a, extensionData: new Uint8Array() }] : [];
  const kp = await generateKeyPackage(cred, caps, defaultLifetime, extensions, impl);
  const encoded = encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
  const ref = toHex(await makeKeyPackageRef(kp.publicPackage, impl.hash));
  return { ...kp, encoded, ref };
}

export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  const m = decodeMlsMessage(bytes, 0)?.[0];
  if (!m || m.wireformat !== 'mls_key_package') throw new Error(`not an MLS KeyPackage (${m?.wireformat})`);
  return m.keyPackage;
}

export function epochOf(state: ClientState): bigint {
  return state.groupContext.epoch;
}

/** Creates a group and adds members in one commit; the Welcome carries the ratchet tree. */
export async function createGroupWith(groupId: Uint8Array, creator: OwnKeyPackage, members: KeyPackage[]): Promise<{ state: ClientState; welcome: Uint8Array }> {
  const initial = await createGroup(groupId, creator.publicPackage, creator.privatePackage, [], impl);
  const res = await createCommit(
    { state: initial, cipherSuite: impl },
    { extraProposals: members.map((keyPackage) => ({ proposalType: 'add' as const, add: { keyPackage } })), ratchetTreeExtension: true },
  );
  if (!res.welcome) throw new Error('commit adding members produced no Welcome');
  return { state: res.newState, welcome: encodeMlsMessage({ welcome: res.welcome, wireformat: 'mls_welcome', version: 'mls10' }) };
}

export async function joinFromWelcome(welcome: Uint8Array, own: OwnKeyPackage): Promise<ClientState> {
  const m = decodeMlsMessage(welcome, 0)?.[0];
  if (!m || m.wireformat !== 'mls_welcome') throw new Error(`not an MLS Welcome (${m?.wireformat})`);
  return joinGroup(m.welcome, own.publicPackage, own.privatePackage, emptyPskIndex, impl);
}

export async function encryptText(state: ClientState, text: string): Promise<{ state: ClientState; message: Uint8Array; epoch: bigint }> {
  const epoch = epochOf(state);
  const r = await createApplicationMessage(state, utf8(text), impl);
  return { state: r.newState, message: encodeMlsMessage({ privateMessage: r.privateMessage, wireformat: 'mls_private_message', version: 'mls10' }), epoch };
}

export type Processed = { state: ClientState; text?: string; kind: 'application' | 'commit' };

/** Throws when the message cannot be decrypted with this state (wrong epoch, removed member...). */
export async function processMessage(state: ClientState, bytes: Uint8Array): Promise<Processed> {
  const m = decodeMlsMessage(bytes, 0)?.[0];
  if (!m || m.wireformat !== 'mls_private_message') throw new Error(`not an MLS PrivateMessage (${m?.wireformat})`);
  const r = await processPrivateMessage(state, m.privateMessage, emptyPskIndex, impl);
  return r.kind === 'applicationMessage'
    ? { state: r.newState, text: fromUtf8(r.message), kind: 'application' }
    : { state: r.newState, kind: 'commit' };
}

function leafIndexOf(state: ClientState, nostrPubkey: string): number {
  for (let i = 0; i < state.ratchetTree.length; i += 2) {
    const n = state.ratchetTree[i];
    if (n?.nodeType === 'leaf' && n.leaf.credential.credentialType === 'basic' && toHex(n.leaf.credential.identity) === nostrPubkey) return i / 2;
  }
  throw new Error(`${nostrPubkey} is not in the MLS group`);
}

export async function commitRemove(state: ClientState, nostrPubkey: string): Promise<{ state: ClientState; commit: Uint8Array; epoch: bigint }> {
  const epoch = epochOf(state);
  const res = await createCommit(
    { state, cipherSuite: impl },
    { extraProposals: [{ proposalType: 'remove', remove: { removed: leafIndexOf(state, nostrPubkey) } }] },
  );
  return { state: res.newState, commit: encodeMlsMessage(res.commit), epoch };
}

/** The leaf of one device: identities are shared by an identity's devices, signature keys are not. */
export function leafIndexOfDevice(state: ClientState, device: OwnKeyPackage): number {
  const key = toHex(device.publicPackage.leafNode.signaturePublicKey);
  for (let i = 0; i < state.ratchetTree.length; i += 2) {
    const n = state.ratchetTree[i];
    if (n?.nodeType === 'leaf' && toHex(n.leaf.signaturePublicKey) === key) return i / 2;
  }
  throw new Error('that device is not in the MLS group');
}

export async function commitRemoveLeaf(state: ClientState, leaf: number): Promise<{ state: ClientState; commit: Uint8Array; epoch: bigint }> {
  const epoch = epochOf(state);
  const res = await createCommit({ state, cipherSuite: impl }, { extraProposals: [{ proposalType: 'remove', remove: { removed: leaf } }] });
  return { state: res.newState, commit: encodeMlsMessage(res.commit), epoch };
}

export function memberIdentities(state: ClientState): string[] {
  const out: string[] = [];
  for (let i = 0; i < state.ratchetTree.length; i += 2) {
    const n = state.ratchetTree[i];
    if (n?.nodeType === 'leaf' && n.leaf.credential.credentialType === 'basic') out.push(toHex(n.leaf.credential.identity));
  }
  return out.sort();
}

/** A Commit with no proposals (a path update): what any member may send to move the epoch on. */
export async function commitUpdate(state: ClientState): Promise<{ state: ClientState; commit: Uint8Array; epoch: bigint }> {
  const epoch = epochOf(state);
  const res = await createCommit({ state, cipherSuite: impl }, {});
  return { state: res.newState, commit: encodeMlsMessage(res.commit), epoch };
}

/** Two members in the same epoch with the same key schedule derive the same authenticator. */
export function epochAuthenticator(state: ClientState): string {
  return toHex(state.keySchedule.epochAuthenticator);
}
