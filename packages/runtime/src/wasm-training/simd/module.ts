/**
 * Assembles the WAT kernels (kernels.wat.ts) once with wabt and instantiates them on tfjs' wasm memory.
 *
 * wabt loads asynchronously, so `initWasmSimdKernels()` must have resolved before the kernels can be used;
 * until then (and wherever instantiation fails, e.g. a threaded build with shared memory) `simdExports()`
 * returns null and the training kernels run their JavaScript loops instead.
 */
import { KERNELS_WAT } from './kernels.wat';
import type { WasmBackend } from '../heap';

/** A channel-block reduction over a grid: (a, b, constants…, f64 outputs…, rows, cols, aRow, aCol, bRow, bCol). */
type GridFn = (...args: number[]) => void;

export interface SimdExports {
  [name: string]: GridFn;
  /** (x, out, p, r, n, period) */
  scale_shift(x: number, out: number, p: number, r: number, n: number, period: number): void;
  /** (a, b, out, p, q, r, n, period) */
  scale_shift2(a: number, b: number, out: number, p: number, q: number, r: number, n: number, period: number): void;
  /** (dy, x, out, n, period, upper) */
  mask(dy: number, x: number, out: number, n: number, period: number, upper: number): void;
  /** (src, dst, rows, cols) */
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

/**
 * The WebAssembly JS API as used here (the workspace compiles with lib ES2022 only, which does not
 * declare it; Node provides it at run time).
 */
interface WasmModule {
  readonly kind: 'compiled WebAssembly module';
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { exports: object };
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: WasmModule | null = null;
let compiling: Promise<boolean> | null = null;
let enabled = true;
const instances = new WeakMap<WasmMemory, SimdExports | null>();

/** Assembles the SIMD kernels (once). Resolves to whether they are available; never rejects. */
export function initWasmSimdKernels(): Promise<boolean> {
  compiling ??= assemble().then(
    (module) => {
      compiled = module;
      return true;
    },
    () => false,
  );
  return compiling;
}

async function assemble(): Promise<WasmModule> {
  const wabt = await (require('wabt') as () => Promise<{ parseWat(name: string, text: string, features: { simd: boolean }): WabtModule }>)();
  const parsed = wabt.parseWat('mobilenets-training-kernels.wat', KERNELS_WAT, { simd: true });
  try {
    parsed.validate();
    return await wasmApi().compile(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

interface WabtModule {
  validate(): void;
  toBinary(options: object): { buffer: Uint8Array };
  destroy(): void;
}

/** Turns the SIMD kernels off (or back on): for tests that compare them with the JavaScript loops. */
export function setWasmSimdEnabled(on: boolean): void {
  enabled = on;
}

/** The SIMD kernels bound to this backend's memory, or null when they are not ready or not usable. */
export function simdExports(backend: WasmBackend): SimdExports | null {
  if (!enabled || compiled === null) return null;
  const memory = backend.wasm?.asm?.memory;
  if (!isMemory(memory)) return null;
  let exports = instances.get(memory);
  if (exports === undefined) {
    try {
      exports = new (wasmApi().Instance)(compiled, { env: { memory } }).exports as unknown as SimdExports;
    } catch {
      exports = null; // e.g. a shared (threaded) memory: our import is declared unshared
    }
    instances.set(memory, exports);
  }
  return exports;
}

/** Duck-typed: under Jest the emscripten module may come from another realm's WebAssembly. */
function isMemory(value: unknown): value is WasmMemory {
  return typeof value === 'object' && value !== null && typeof (value as WasmMemory).grow === 'function' && (value as WasmMemory).buffer instanceof Object;
}
