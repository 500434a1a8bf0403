/**
 * Helpers for kernels that run on tfjs' wasm backend: tensors live in the wasm heap, kernels read and
 * write them there through typed-array views, and may call the backend's own kernels (XNNPACK GEMM,
 * depthwise conv, transpose) on views of the same memory with another shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdExports } from './simd/module';

export type TensorInfo = tf.TensorInfo;

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  /** Where each tensor lives: `memoryOffset` is its byte offset in the wasm memory. */
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  /** The emscripten module; in the non-threaded build its memory is `asm.memory`. */
  wasm?: { asm?: { memory?: unknown } };
}

/** Byte offset of a tensor in the wasm memory. */
export function byteOffset(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('wasm training kernels: tensor is not in the wasm backend');
  return data.memoryOffset;
}

/** Runs another kernel registered for the wasm backend on tensors already in the heap. */
export function runWasmKernel(name: string, backend: WasmBackend, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`wasm training kernels: kernel '${name}' is not registered for the wasm backend`);
  return config.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

/** The same memory seen with another shape (a free reshape). */
export function withShape(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * A float32 view of a tensor in the wasm heap. Take views only after the last allocation of a kernel:
 * growing the heap detaches earlier views.
 */
export function f32(backend: WasmBackend, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new TypeError(`wasm training kernels expect float32 tensors, received ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Matrix product a[M, K] · b[K, N] → [M, N] with XNNPACK (no transpose flags: they are ~10× slower). */
export function matMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number): TensorInfo {
  const out = runWasmKernel('BatchMatMul', backend, { a: withShape(a, [1, m, k]), b: withShape(b, [1, k, n]) }, { transposeA: false, transposeB: false });
  return withShape(out, [m, n]);
}

/** Explicit 2-D transpose [rows, cols] → [cols, rows]: the SIMD kernel when ready, else tfjs' Transpose. */
export function transpose2d(backend: WasmBackend, x: TensorInfo, rows: number, cols: number): TensorInfo {
  const simd = simdExports(backend);
  if (simd === null) return runWasmKernel('Transpose', backend, { x: withShape(x, [rows, cols]) }, { perm: [1, 0] });
  const out = backend.makeOutput([cols, rows], 'float32');
  simd.transpose(byteOffset(backend, x), byteOffset(backend, out), rows, cols);
  return out;
}

export function dispose(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
