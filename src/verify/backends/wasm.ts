import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SchnorrBackend } from '../schnorr.js';

/**
 * nostr-wasm's public API only verifies whole events (it hashes the id itself), which would
 * hash every event twice. So the libsecp256k1 module it ships is instantiated here directly
 * and only xonly_pubkey_parse + schnorrsig_verify are called. The export/import letters are
 * the emscripten-minified names of nostr-wasm 0.1.0 (dist/nostr.js, map_wasm_exports).
 */
interface Secp256k1Exports {
  memory: WebAssembly.Memory;
  init(): void;
  malloc(n: number): number;
  contextCreate(flags: number): number;
  xonlyPubkeyParse(ctx: number, out: number, in32: number): number;
  schnorrsigVerify(ctx: number, sig: number, msg: number, msgLen: number, pub: number): number;
}

const CONTEXT_VERIFY = 257;

async function wasmBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('nostr-wasm'); // .../nostr-wasm/dist/main.js
  return new Uint8Array(await readFile(join(dirname(main), '..', 'public', 'out', 'secp256k1.wasm')));
}

export async function load(): Promise<SchnorrBackend> {
  const bytes = await wasmBytes();
  const trap = (what: string) => () => {
    throw new Error(`libsecp256k1 (wasm): ${what}`);
  };
  const imports = {
    a: {
      a: trap('abort'), // abort: libsecp256k1's illegal-argument callback ends up here
      b: () => 0, // fd_write: the library only writes diagnostics before aborting
      c: () => 70, // fd_seek
      d: trap('out of memory'), // emscripten_resize_heap
      e: () => 52, // fd_close
      f: (dst: number, src: number, n: number) => heap.copyWithin(dst, src, src + n), // memcpy
    },
  };
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes), imports);
  const x = instance.exports as Record<string, unknown>;
  const w: Secp256k1Exports = {
    memory: x.g as WebAssembly.Memory,
    init: x.h as () => void,
    malloc: x.i as (n: number) => number,
    contextCreate: x.o as (f: number) => number,
    xonlyPubkeyParse: x.p as Secp256k1Exports['xonlyPubkeyParse'],
    schnorrsigVerify: x.u as Secp256k1Exports['schnorrsigVerify'],
  };
  for (const [k, v] of Object.entries(w)) {
    if (v === undefined) throw new Error(`nostr-wasm module lacks export for ${k} (unexpected nostr-wasm version)`);
  }
  // The heap cannot grow (resize traps), so this view stays valid for the module's life.
  const heap = new Uint8Array(w.memory.buffer);
  w.init();
  const ctx = w.contextCreate(CONTEXT_VERIFY);
  const pSig = w.malloc(64);
  const pMsg = w.malloc(32);
  const pPub = w.malloc(32);
  const pXonly = w.malloc(64); // secp256k1_xonly_pubkey, opaque 64 bytes
  if (!ctx || !pSig || !pMsg || !pPub || !pXonly) throw new Error('libsecp256k1 (wasm): allocation failed');

  return {
    name: 'wasm',
    verify(sig, msg32, pub32) {
      if (sig.length !== 64 || msg32.length !== 32 || pub32.length !== 32) return false;
      try {
        heap.set(sig, pSig);
        heap.set(msg32, pMsg);
        heap.set(pub32, pPub);
        if (w.xonlyPubkeyParse(ctx, pXonly, pPub) !== 1) return false;
        return w.schnorrsigVerify(ctx, pSig, pMsg, 32, pXonly) === 1;
      } catch {
        return false;
      }
    },
  };
}
