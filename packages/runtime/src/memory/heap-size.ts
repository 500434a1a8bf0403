/** The size of tfjs' wasm memory, the heap that training on the wasm backend must fit (≤ 4 GiB). */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from '../wasm-training/heap';

/**
 * The WebAssembly JS API as used here (the workspace compiles with lib ES2022 only, which does not
 * declare it; Node provides it at run time).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  Memory: { prototype: WasmMemory; new (descriptor: { initial: number }): WasmMemory };
  instantiate(source: unknown, imports?: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
export const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export function isWasmMemory(value: unknown): value is WasmMemory {
  return value instanceof wasmApi().Memory;
}

/**
 * Bytes of the wasm backend's memory now, or null when the active backend is not wasm. The memory only
 * grows (emscripten's `memory.grow`, ~20 % beyond what is asked at a time), so after a training step it
 * is at least that step's peak.
 */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const memory = (tf.backend() as unknown as WasmBackend).wasm?.asm?.memory;
  return isWasmMemory(memory) ? memory.buffer.byteLength : null;
}
