/**
 * Typed calls into the SIMD kernels: splitting a row of channels into the kernels' channel blocks,
 * laying out grids of positions, building per-channel patterns and scratch memory in tfjs' heap.
 * All pointers are byte offsets into the wasm memory.
 */
import { TensorInfo, WasmBackend, byteOffset } from '../heap';
import { SimdExports } from './module';

/** One operand of a grid kernel: where its first position's channel 0 is, and byte strides between positions. */
export interface GridOperand {
  ptr: number;
  rowStride: number;
  colStride: number;
}

/**
 * Calls `fn` for the channel blocks the kernels process: 16 channels at a time, then one block of
 * 4, 8 or 12, then single channels. `first` is the block's first channel.
 */
export function forEachChannelBlock(channels: number, fn: (variant: string, first: number) => void): void {
  let c = 0;
  for (; channels - c >= 16; c += 16) fn('v4', c);
  const vectors = (channels - c) >> 2;
  if (vectors > 0) {
    fn(`v${vectors}`, c);
    c += 4 * vectors;
  }
  for (; c < channels; c++) fn('s1', c);
}

/**
 * Runs a channel-block reduction (`moments`, `grad_sums`, `dot`) over a rows × cols grid of positions
 * with `channels` channels each. `constants` point at per-channel f32 arrays, `sums` at per-channel f64
 * accumulators that the kernel adds to.
 */
export function reduceGrid(
  simd: SimdExports, name: string, a: GridOperand, b: GridOperand, constants: number[], sums: number[],
  rows: number, cols: number, channels: number,
): void {
  if (rows === 0 || cols === 0) return;
  forEachChannelBlock(channels, (variant, c) => {
    simd[`${name}_${variant}`](
      a.ptr + 4 * c, b.ptr + 4 * c, ...constants.map((p) => p + 4 * c), ...sums.map((p) => p + 8 * c),
      rows, cols, a.rowStride, a.colStride, b.rowStride, b.colStride,
    );
  });
}

/** Positions summed in f32 before they are added into the f64 sums. */
const ROW_LENGTH = 256;

/**
 * A reduction over `positions` consecutive positions of two tensors with the same layout (channels
 * innermost), cut into rows of ROW_LENGTH positions so each f32 partial sum stays short.
 */
export function reducePositions(simd: SimdExports, name: string, a: number, b: number, constants: number[], sums: number[], positions: number, channels: number): void {
  const cols = Math.min(positions, ROW_LENGTH);
  if (cols === 0) return;
  const rows = Math.floor(positions / cols);
  const rowBytes = cols * channels * 4;
  const grid = (ptr: number): GridOperand => ({ ptr, rowStride: rowBytes, colStride: channels * 4 });
  reduceGrid(simd, name, grid(a), grid(b), constants, sums, rows, cols, channels);
  const rest = positions - rows * cols;
  const done = rows * rowBytes;
  reduceGrid(simd, name, grid(a + done), grid(b + done), constants, sums, 1, rest, channels);
}

/** dst += src · w per channel over a rows × cols grid (w: `channels` floats). */
export function axpyGrid(simd: SimdExports, dst: GridOperand, src: GridOperand, w: number, rows: number, cols: number, channels: number): void {
  if (rows === 0 || cols === 0) return;
  forEachChannelBlock(channels, (variant, c) => {
    simd[`axpy_${variant}`](dst.ptr + 4 * c, src.ptr + 4 * c, w + 4 * c, rows, cols, dst.rowStride, dst.colStride, src.rowStride, src.colStride);
  });
}

/** Length of a per-channel pattern for the flat kernels: the least multiple of both `channels` and 4. */
export function patternPeriod(channels: number): number {
  if (channels % 4 === 0) return channels;
  return channels % 2 === 0 ? 2 * channels : 4 * channels;
}

/**
 * Scratch memory inside tfjs' heap, owned by one kernel call: a float32 tensor cut into parts of the
 * requested byte sizes, each starting on an 8-byte boundary so it can hold f64 arrays. Read and write it
 * through views taken after the kernel's last allocation (growing the heap detaches views).
 */
export class Scratch {
  private readonly info: TensorInfo;
  /** Byte offset of each part in the wasm memory. */
  readonly parts: number[];

  constructor(private readonly backend: WasmBackend, partBytes: number[]) {
    const rounded = partBytes.map((b) => Math.ceil(b / 8) * 8);
    this.info = backend.makeOutput([rounded.reduce((a, b) => a + b, 0) / 4 + 2], 'float32');
    let at = Math.ceil(byteOffset(backend, this.info) / 8) * 8;
    this.parts = rounded.map((size) => {
      const start = at;
      at += size;
      return start;
    });
  }

  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.buffer(), ptr, length);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.buffer(), ptr, length);
  }

  /** `values` (one per channel) repeated over a pattern of `patternPeriod` floats at ptr. */
  writePattern(ptr: number, values: ArrayLike<number>): void {
    const pattern = this.f32(ptr, patternPeriod(values.length));
    for (let j = 0; j < pattern.length; j++) pattern[j] = values[j % values.length];
  }

  dispose(): void {
    this.backend.disposeData(this.info.dataId);
  }

  private buffer(): ArrayBufferLike {
    return (this.backend.typedArrayFromHeap(this.info) as Float32Array).buffer;
  }
}
