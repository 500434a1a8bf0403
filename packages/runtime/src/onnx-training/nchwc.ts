/**
 * onnxruntime's blocked channel layout (NCHWc) for depthwise convolutions. Its CPU provider runs a
 * depthwise convolution with weights given at run time through a generic path (an im2col and a one-row
 * GEMM per channel), 3–5× slower than its NCHWc kernels, which its graph optimizer only uses for
 * constant weights. The training step calls those kernels itself — the 'com.microsoft.nchwc' operators
 * ReorderInput, Conv and ReorderOutput — with the filter reordered in the graph.
 *
 * The block size is the machine's (16 with AVX-512, 8 with AVX2): {@link nchwcBlockSize} measures it
 * once, by the order ReorderInput leaves a known tensor in.
 */
import * as ort from 'onnxruntime-node';
import type { OnnxAttribute } from '../onnx/graph-builder';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import type { StepOps } from './ops';

export const NCHWC_DOMAIN = { name: 'com.microsoft.nchwc', version: 1 } as const;

let measured: Promise<number | null> | undefined;

/** The channel block of onnxruntime's NCHWc kernels on this machine, or null when it has none. */
export function nchwcBlockSize(): Promise<number | null> {
  measured ??= (async () => {
    const channels = 64;
    const g = new OnnxGraphBuilder();
    g.addInput('x', [1, channels, 1, 2]);
    const reordered = g.addNode('ReorderInput', ['x'], 'reorder', {}, 1, NCHWC_DOMAIN)[0];
    g.addOutput(reordered, 'y', [1, channels, 1, 2]);
    try {
      const session = await ort.InferenceSession.create(g.toBytes('nchwc_probe', {}), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
      // x[c, w] = 2c + w. Blocked, the first block's values at w = 0 come first, then those at w = 1: x[0, 1] = 1 sits at the block size.
      const x = Float32Array.from({ length: channels * 2 }, (_, i) => i);
      const { y } = await session.run({ x: new ort.Tensor('float32', x, [1, channels, 1, 2]) });
      await session.release();
      const block = Array.from(y.data as Float32Array).indexOf(1);
      return block > 1 && channels % block === 0 ? block : null;
    } catch {
      return null;
    }
  })();
  return measured;
}

/** `x` [N, C, H, W] in the blocked layout ([N, C / block, H, W, block] in memory; C a multiple of the block). */
export function toNchwc(ops: StepOps, x: string, name: string): string {
  return ops.graph.addNode('ReorderInput', [x], name, {}, 1, NCHWC_DOMAIN)[0];
}

/** A blocked map of `channels` channels back in NCHW. */
export function fromNchwc(ops: StepOps, y: string, channels: number, name: string): string {
  return ops.graph.addNode('ReorderOutput', [y], name, { channels: { int: channels } }, 1, NCHWC_DOMAIN)[0];
}

/** A depthwise filter [C, 1, kh, kw] regrouped as the NCHWc kernels read it: [C / block, kh·kw, block] in memory. */
export function nchwcFilter(ops: StepOps, wOnnx: string, channels: number, kernel: readonly number[], block: number, name: string): string {
  const [kh, kw] = kernel;
  const grouped = ops.transpose(ops.reshape(wOnnx, [channels / block, block, kh * kw], `${name}_Wblk`), [0, 2, 1], `${name}_WblkT`);
  return ops.reshape(grouped, [channels, 1, kh, kw], `${name}_Wnchwc`);
}

/**
 * A depthwise convolution (multiplier 1) of a blocked map (`toNchwc`) with a regrouped filter
 * (`nchwcFilter`, or any tensor already in that memory order); the result stays blocked. `sum`, a
 * blocked map of the output's shape, is added to the result in the same pass (it needs a `bias`).
 */
export function nchwcDepthwiseBlocked(
  ops: StepOps,
  blocked: string,
  filter: string,
  channels: number,
  kernel: readonly number[],
  attributes: { strides: readonly number[]; pads: readonly number[]; dilations?: readonly number[] },
  name: string,
  bias?: string,
  sum?: string,
): string {
  if (sum !== undefined && bias === undefined) throw new TypeError('nchwcDepthwiseBlocked: a sum input needs a bias input.');
  return ops.graph.addNode('Conv', [blocked, filter, ...(bias === undefined ? [] : [bias]), ...(sum === undefined ? [] : [sum])], name, {
    kernel_shape: { ints: kernel }, strides: { ints: attributes.strides }, pads: { ints: attributes.pads }, dilations: { ints: attributes.dilations ?? [1, 1] }, group: { int: channels },
  }, 1, NCHWC_DOMAIN)[0];
}

/**
 * scale·x + shift per channel of a blocked map (+ `sum`, a blocked map of the same shape), clipped to
 * `clip` if given: a 1×1 depthwise convolution in one pass (the 1×1 filter [C, 1, 1, 1] is the scale as
 * it is). The result stays blocked.
 */
export function nchwcChannelAffine(ops: StepOps, blocked: string, scale: string, shift: string, channels: number, name: string, options: { sum?: string; clip?: readonly [number, number] } = {}): string {
  const filter = ops.reshape(scale, [channels, 1, 1, 1], `${name}_scale4`);
  const activation: Record<string, OnnxAttribute> = options.clip === undefined ? {} : { activation: { string: 'Clip' }, activation_params: { floats: options.clip } };
  return ops.graph.addNode('Conv', [blocked, filter, shift, ...(options.sum === undefined ? [] : [options.sum])], name, {
    kernel_shape: { ints: [1, 1] }, strides: { ints: [1, 1] }, pads: { ints: [0, 0, 0, 0] }, dilations: { ints: [1, 1] }, group: { int: channels }, ...activation,
  }, 1, NCHWC_DOMAIN)[0];
}

/**
 * Σ over H, W of a·b for each (image, channel) pair of two blocked maps [N, C, H, W]: a depthwise
 * convolution of `a` as [1, N·C, H, W] with `b` as the N·C filters (a 1 × 1 output). Returns [N, C]
 * (a 1 × 1 blocked map is in plain order).
 */
export function nchwcPairDots(ops: StepOps, a: string, b: string, shape: readonly number[], name: string): string {
  const [n, c, h, w] = shape;
  const input = ops.reshape(a, [1, n * c, h, w], `${name}_in`);
  const filters = ops.reshape(b, [n * c, 1, h, w], `${name}_filters`);
  const out = nchwcDepthwiseBlocked(ops, input, filters, n * c, [h, w], { strides: [1, 1], pads: [0, 0, 0, 0] }, name);
  return ops.reshape(out, [n, c], `${name}_nc`);
}

/** The per-channel sum [C] of a blocked map [N, C, H, W] (memory [N, C / block, H·W, block]). */
export function nchwcChannelSum(ops: StepOps, blocked: string, shape: readonly number[], block: number, name: string): string {
  const [n, c, h, w] = shape;
  const view = ops.reshape(blocked, [n, c / block, h * w, block], `${name}_view`);
  return ops.reshape(ops.reduceSum(ops.reduceSum(view, [2], `${name}_hw`), [0], `${name}_n`), [c], name);
}

/**
 * The input gradient of a strided depthwise convolution from the blocked output gradient `dzBlocked`
 * [N, C, P, Q]: the gradient spread out with stride − 1 zeros after each row and column (a Pad of the
 * blocked memory seen as [N, C / block, P, 1, Q, 1, block], so every block of channels moves as one), then
 * a stride-1 blocked depthwise convolution with the 180°-flipped filter (`flippedFilter`, regrouped by
 * nchwcFilter). Returns the blocked [N, C, H, W] gradient, or null when the geometry would need negative
 * pads. Alone, V1 1.0-224 b16's four ran 2.5–3.5× faster than ConvTranspose (single-threaded); in the
 * step, on a busy machine, the whole step took 5–7 % less with one thread and about the same with two.
 */
export function nchwcStridedInputGradient(
  ops: StepOps,
  dzBlocked: string,
  flippedFilter: string,
  dims: { n: number; channels: number; inHW: readonly number[]; outHW: readonly number[]; kernel: readonly number[]; strides: readonly number[]; pads: readonly number[] },
  block: number,
  name: string,
): string | null {
  const { n, channels, inHW, outHW, kernel, strides, pads } = dims;
  const [h, w] = inHW;
  const [p, q] = outHW;
  const [kh, kw] = kernel;
  const [sh, sw] = strides;
  // Zero-spread length s·P; the correlation's pads give back H: before, k − 1 − pad; after, H − s·P + pad.
  const convPads = [kh - 1 - pads[0], kw - 1 - pads[1], h - sh * p + pads[0], w - sw * q + pads[1]];
  if (convPads.some((v) => v < 0)) return null;
  const spread = ops.node('Pad', [ops.reshape(dzBlocked, [n, channels / block, p, 1, q, 1, block], `${name}_spread_view`), ops.int64s([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1, 0])], `${name}_spread`);
  const spreadMap = ops.reshape(spread, [n, channels, sh * p, sw * q], `${name}_spread_map`);
  return nchwcDepthwiseBlocked(ops, spreadMap, flippedFilter, channels, kernel, { strides: [1, 1], pads: convPads }, name);
}
