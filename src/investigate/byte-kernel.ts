/**
 * The byte scans of a search over raw log chunks (LineScanner with needles): where is the next
 * needle, how many newlines lie between two offsets (line numbers), and can a line be printed as
 * its bytes are (ByteClass).
 *
 * Two implementations of one interface. WasmKernel runs byte-kernel.wat (WebAssembly, 16 bytes
 * per step with SIMD) on a copy of the chunk in its own memory: measured here on a 205 MB log,
 * finding an address and counting every newline took 75 ms, copy included, against 210 ms with
 * Buffer.indexOf (which counts newlines with one native call per line). NativeKernel does the same
 * with Buffer.indexOf on the chunk itself, for where WebAssembly SIMD cannot run (a CPU without
 * SSE4.1, node --jitless) or the module is missing; both give the same answers (tests run the
 * scanner with each).
 */
import { readFileSync } from 'node:fs';

const NL = 0x0a;
const PAGE = 65536;

/**
 * The part of the WebAssembly API used here (TypeScript declares it only in its DOM library, which
 * this project does not load).
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Instance: new (module: WasmModule) => { readonly exports: unknown };
}
type WasmModule = { readonly brand?: 'WebAssembly.Module' };
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface ByteKernel {
  /**
   * Makes chunk[from, to) the bytes the other calls look at, in `buf`, and returns the offset of
   * chunk[from] there (offsets passed to find and countNewlines are in `buf`). Valid until the
   * next load.
   */
  load(chunk: Buffer, from: number, to: number): number;
  /** Where load() put the bytes. */
  readonly buf: Buffer;
  /** The first occurrence of needle number `needle` in buf[from, to), or -1. */
  find(needle: number, from: number, to: number): number;
  /** Newlines in buf[from, to). */
  countNewlines(from: number, to: number): number;
  /** What the bytes buf[from, to) are. */
  classify(from: number, to: number): ByteClass;
}

export type KernelKind = 'wasm' | 'native';

/** What a line's bytes are, for printing it (ByteKernel.classify). */
export const enum ByteClass {
  /** Printable ASCII (0x20-0x7e) without '"' or '\\': the same text in UTF-8, plain and JSON. */
  Plain = 0,
  /** Printable ASCII with a '"' or '\\': itself as text, escaped in JSON. */
  Printable = 1,
  /** Some other byte: a control character, DEL, or UTF-8 beyond ASCII. */
  Other = 2,
}

/** The compiled module, or why there is none (then NativeKernel is used). */
let compiled: WasmModule | string | undefined;

function kernelModule(): WasmModule | string {
  if (compiled === undefined) {
    if (!wasm) return (compiled = 'this node has no WebAssembly');
    try {
      // 0.5 KiB, compiled once per thread on first use: synchronous compilation is allowed and
      // takes well under a millisecond.
      compiled = new wasm.Module(readFileSync(new URL('./byte-kernel.wasm', import.meta.url)));
    } catch (e) {
      compiled = (e as Error).message;
    }
  }
  return compiled;
}

/** Why the WebAssembly kernel cannot run here, or undefined when it can. */
export function wasmKernelProblem(): string | undefined {
  const m = kernelModule();
  return typeof m === 'string' ? m : undefined;
}

/** A kernel for these needles: the WebAssembly one when it can run (or `kind` asks for one). */
export function createKernel(needles: readonly Buffer[], kind?: KernelKind): ByteKernel {
  if (kind === 'native') return new NativeKernel(needles);
  const m = kernelModule();
  if (typeof m !== 'string') return new WasmKernel(m, needles);
  if (kind === 'wasm') throw new Error(`the WebAssembly byte kernel cannot run: ${m}`);
  return new NativeKernel(needles);
}

interface KernelExports {
  readonly memory: WasmMemory;
  countNewlines(from: number, to: number): number;
  find(from: number, to: number, needle: number, length: number): number;
  classify(from: number, to: number): ByteClass;
}

class WasmKernel implements ByteKernel {
  private readonly exports: KernelExports;
  buf: Buffer;
  /** Needle i is at memory offset needleAt[i], needleLength[i] bytes; chunks go from `base`. */
  private readonly needleAt: number[] = [];
  private readonly needleLength: number[] = [];
  private readonly base: number;

  constructor(module: WasmModule, needles: readonly Buffer[]) {
    this.exports = new (wasm as WasmApi).Instance(module).exports as unknown as KernelExports;
    let at = 0;
    for (const n of needles) {
      this.needleAt.push(at);
      this.needleLength.push(n.length);
      at += n.length;
    }
    // Chunks start on a 16-byte boundary (aligned loads), past the needles.
    this.base = (at + 15) & ~15;
    this.buf = this.view();
    this.reserve(this.base + PAGE);
    needles.forEach((n, i) => n.copy(this.buf, this.needleAt[i]));
  }

  load(chunk: Buffer, from: number, to: number): number {
    this.reserve(this.base + (to - from));
    chunk.copy(this.buf, this.base, from, to);
    return this.base;
  }

  find(needle: number, from: number, to: number): number {
    return from >= to ? -1 : this.exports.find(from, to, this.needleAt[needle]!, this.needleLength[needle]!);
  }

  countNewlines(from: number, to: number): number {
    return from >= to ? 0 : this.exports.countNewlines(from, to);
  }

  classify(from: number, to: number): ByteClass {
    return this.exports.classify(from, to);
  }

  /** Grows the memory to hold `bytes` (growing detaches the old view: a new one is made). */
  private reserve(bytes: number): void {
    const memory = this.exports.memory;
    if (bytes <= memory.buffer.byteLength) return;
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    this.buf = this.view();
  }

  private view(): Buffer {
    const b = this.exports.memory.buffer;
    return Buffer.from(b, 0, b.byteLength);
  }
}

class NativeKernel implements ByteKernel {
  buf: Buffer = Buffer.alloc(0);

  constructor(private readonly needles: readonly Buffer[]) {}

  load(chunk: Buffer, from: number): number {
    this.buf = chunk;
    return from;
  }

  find(needle: number, from: number, to: number): number {
    const p = from < to ? this.buf.indexOf(this.needles[needle]!, from) : -1;
    return p < 0 || p + this.needles[needle]!.length > to ? -1 : p;
  }

  countNewlines(from: number, to: number): number {
    const buf = this.buf;
    let n = 0;
    let p = from;
    while (p < to) {
      const nl = buf.indexOf(NL, p);
      if (nl < 0 || nl >= to) break;
      n++;
      p = nl + 1;
    }
    return n;
  }

  classify(from: number, to: number): ByteClass {
    const buf = this.buf;
    let cls = ByteClass.Plain;
    for (let i = from; i < to; i++) {
      const b = buf[i]!;
      if (b < 0x20 || b > 0x7e) return ByteClass.Other;
      if (b === 0x22 || b === 0x5c) cls = ByteClass.Printable;
    }
    return cls;
  }
}
