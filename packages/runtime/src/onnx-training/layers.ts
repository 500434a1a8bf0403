/**
 * Training emitters for the layers MobileNets are built of: forward in training mode (batch statistics)
 * and backward, written with standard ONNX operators in the formulations that measured fastest on
 * onnxruntime's CPU kernels (reference/ort_training.md): pointwise filter gradients as batched MatMul,
 * depthwise filter gradients as one grouped convolution with the batch folded into the groups, stride-1
 * depthwise input gradients as a convolution with the flipped filter, batch-norm backward as
 * A·dy + (B·x + C) with the second part an inference-mode BatchNormalization.
 *
 * Feature maps are NCHW; weights arrive and gradients leave in their tfjs shapes.
 */
import type { Layer } from '../onnx/converter';
import { layerConfig } from '../onnx/converter';
import { samePads } from '../onnx/converters';
import { fromNchwc, nchwcChannelAffine, nchwcChannelSum, nchwcDepthwiseBlocked, nchwcFilter, nchwcPairDots, nchwcStridedInputGradient, toNchwc } from './nchwc';
import type { AffineGradient, LayerEmitter, LayerStep, StepContext } from './emitter';
import type { StepOps, Value } from './ops';

const pair = (v: number | number[] | null | undefined): number[] => (Array.isArray(v) ? v : [v ?? 1, v ?? 1]);

function weightShape(layer: Layer, name: string): number[] {
  const w = layer.weights.find((v) => v.originalName.split('/').pop() === name);
  if (w === undefined) throw new TypeError(`training step: layer '${layer.name}' has no weight '${name}' (it has ${layer.weights.map((v) => v.originalName).join(', ')}).`);
  return w.shape as number[];
}

function unsupported(layer: Layer, what: string): never {
  throw new TypeError(`training step: layer '${layer.name}' (${layer.getClassName()}) ${what}; the onnxruntime engine cannot train it (the tfjs engine can: --engine tfjs).`);
}

/** An activation's forward and backward: `y` from `x`, and dx from dy (the mask from y, so x need not be kept). */
interface ActivationStep {
  y: Value;
  backward(dy: string): string;
}

export function emitActivation(activation: string | undefined, x: Value, ops: StepOps, name: string, owner: Layer, ctx?: StepContext): ActivationStep {
  const kind = activation ?? 'linear';
  const mask = (bool: string, dy: string) => ops.mul(dy, ops.node('Cast', [bool], `${name}_mask`, { to: { int: 1 } }), `${name}_grad`);
  switch (kind) {
    case 'linear':
      return { y: x, backward: (dy) => dy };
    case 'relu': {
      const y = ops.node('Relu', [x.name], name);
      return { y: { name: y, shape: x.shape }, backward: (dy) => mask(ops.node('Greater', [y, ops.float(0)], `${name}_pos`), dy) };
    }
    case 'relu6':
      return clipped(x, 6, ops, name, ctx);
    case 'sigmoid': {
      const y = ops.node('Sigmoid', [x.name], name);
      return { y: { name: y, shape: x.shape }, backward: (dy) => ops.mul(dy, ops.mul(y, ops.sub(ops.float(1), y, `${name}_1my`), `${name}_dsig`), `${name}_grad`) };
    }
    case 'softmax': {
      const axis = x.shape.length - 1;
      const y = ops.node('Softmax', [x.name], name, { axis: { int: axis } });
      return {
        y: { name: y, shape: x.shape },
        backward: (dy) => {
          const dot = ops.reduceSum(ops.mul(y, dy, `${name}_ydy`), [axis], `${name}_dot`, true);
          return ops.mul(y, ops.sub(dy, dot, `${name}_centred`), `${name}_grad`);
        },
      };
    }
    default:
      return unsupported(owner, `has activation '${kind}' (supported: linear, relu, relu6, sigmoid, softmax)`);
  }
}

/** min(max(x, 0), cap); the gradient passes where 0 < y < cap. */
function clipped(x: Value, cap: number, ops: StepOps, name: string, ctx?: StepContext): ActivationStep {
  let y: Value;
  if (x.affine?.source.nchwc !== undefined) {
    // A batch norm's output: its affine and the clip in one blocked pass from its (blocked) input.
    const { source, scale, shift } = x.affine;
    const channels = x.shape[1];
    const yBlocked = nchwcChannelAffine(ops, source.nchwc as string, scale, shift, channels, `${name}_nchwc`, { clip: [0, cap] });
    y = { name: fromNchwc(ops, yBlocked, channels, name), shape: x.shape, nchwc: yBlocked };
  } else {
    y = { name: ops.node('Clip', [x.name, ops.float(0), ops.float(cap)], name), shape: x.shape };
  }
  return {
    y,
    backward: (dy) => {
      // Blocked when y and dy both are (a depthwise convolution's input and input gradient): the reorder
      // moves from dy to the result, and y's plain form need not be kept for the backward pass.
      const yBlocked = y.nchwc ?? ctx?.blockedTwin(y.name);
      const dyBlocked = ctx?.blockedTwin(dy);
      const blocked = yBlocked !== undefined && dyBlocked !== undefined;
      const [yAt, dyAt] = blocked ? [yBlocked, dyBlocked] : [y.name, dy];
      const inside = ops.node('And', [ops.node('Greater', [yAt, ops.float(0)], `${name}_pos`), ops.node('Less', [yAt, ops.float(cap)], `${name}_below`)], `${name}_inside`);
      const grad = ops.mul(dyAt, ops.node('Cast', [inside], `${name}_mask`, { to: { int: 1 } }), `${name}_grad`);
      return blocked ? blockedGradientOut(ctx as StepContext, grad, x.shape[1], `${name}_grad_out`) : grad;
    },
  };
}

interface ConvGeometry {
  kernel: number[];
  strides: number[];
  /** [top, left, bottom, right] */
  pads: number[];
  outHW: number[];
}

function convGeometry(layer: Layer, inputHW: number[], kernel: number[]): ConvGeometry {
  const c = layerConfig<{ strides: number | number[]; padding: string; dilationRate?: number | number[]; dataFormat?: string }>(layer);
  if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') unsupported(layer, `has dataFormat '${c.dataFormat}'`);
  if (pair(c.dilationRate).some((d) => d !== 1)) unsupported(layer, 'is dilated');
  const strides = pair(c.strides);
  let pads: number[];
  let outHW: number[];
  if (c.padding === 'same') {
    pads = samePads(inputHW, kernel, strides, [1, 1]);
    outHW = inputHW.map((n, d) => Math.ceil(n / strides[d]));
  } else if (c.padding === 'valid') {
    pads = [0, 0, 0, 0];
    outHW = inputHW.map((n, d) => Math.floor((n - kernel[d]) / strides[d]) + 1);
  } else {
    return unsupported(layer, `has padding '${c.padding}'`);
  }
  return { kernel, strides, pads, outHW };
}

const convAttributes = (g: ConvGeometry, group = 1) => ({
  kernel_shape: { ints: g.kernel },
  strides: { ints: g.strides },
  pads: { ints: g.pads },
  group: { int: group },
});

/**
 * The filter gradient of a convolution as a convolution: each input channel (as a batch item, the batch
 * as channels) correlated with each output channel's gradient, dilated by the stride. `x` [N, Ci, H, W],
 * `dy` [N, Co, P, Q] → [Ci, Co, kh, kw].
 */
function filterGradientByConv(x: Value, dy: string, co: number, g: ConvGeometry, ops: StepOps, name: string): string {
  const [, ci, h, w] = x.shape;
  const [p, q] = g.outHW;
  const xT = ops.transpose(x.name, [1, 0, 2, 3], `${name}_xT`);
  const dyT = ops.transpose(dy, [1, 0, 2, 3], `${name}_dyT`);
  const out = ops.node('Conv', [xT, dyT], `${name}_dWconv`, { kernel_shape: { ints: [p, q] }, dilations: { ints: g.strides }, pads: { ints: g.pads } });
  return cropKernel(out, [ci, co, h + g.pads[0] + g.pads[2] - g.strides[0] * (p - 1), w + g.pads[1] + g.pads[3] - g.strides[1] * (q - 1)], g.kernel, ops, name);
}

/** Largest Ci·kh·kw whose filter gradient goes through an im2col (the first convolution's: 27). */
const IM2COL_LIMIT = 64;

/**
 * The filter gradient of a convolution with few input taps (Ci·kh·kw, the first convolution's 27) as
 * im2col and one batched product: a convolution with a constant 0/1 filter (same kernel, strides and
 * pads) lays each output position's inputs out as Ci·kh·kw channels, [N, kh·kw·Ci, P·Q], which times dz
 * [N, Co, P·Q] transposed, summed over N, is the gradient already in tfjs' [kh, kw, Ci, Co] order.
 * V1 1.0-224 b16's first convolution: 28 → 19 ms (against filterGradientByConv, whose kernel is the
 * 112 × 112 map).
 */
function filterGradientByIm2col(x: Value, dz: string, co: number, g: ConvGeometry, ops: StepOps, name: string): string {
  const [n, ci] = x.shape;
  const [kh, kw] = g.kernel;
  const [p, q] = g.outHW;
  const taps = kh * kw * ci;
  const identity = new Float32Array(taps * ci * kh * kw);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < ci; c++) identity[(((i * kw + j) * ci + c) * ci + c) * kh * kw + i * kw + j] = 1;
  const filter = ops.graph.addFloatInitializer(`${name}_im2col_filter`, identity, [taps, ci, kh, kw]);
  const columns = ops.reshape(ops.node('Conv', [x.name, filter], `${name}_dWim2col`, convAttributes(g)), [n, taps, p * q], `${name}_dWcols`);
  const dzT = ops.transpose(ops.reshape(dz, [n, co, p * q], `${name}_dzR`), [0, 2, 1], `${name}_dzT`);
  const perImage = ops.node('MatMul', [columns, dzT], `${name}_dWmm`);
  return ops.reshape(ops.reduceSum(perImage, [0], `${name}_dWsum`), [kh, kw, ci, co], `${name}_dWr`);
}

/** The first kh × kw of the last two axes (a 'valid' convolution whose stride leaves rows unread computes a few more). */
function cropKernel(t: string, shape: number[], kernel: number[], ops: StepOps, name: string): string {
  const [kh, kw] = kernel;
  if (shape[2] === kh && shape[3] === kw) return t;
  return ops.node('Slice', [t, ops.int64s([0, 0]), ops.int64s([kh, kw]), ops.int64s([2, 3])], `${name}_dWcrop`);
}

/** The input gradient of a convolution: a transposed convolution with the same filter (any stride, groups). */
function inputGradientByTransposedConv(dy: string, wOnnx: string, x: Value, g: ConvGeometry, group: number, ops: StepOps, name: string): string {
  const [, , h, w] = x.shape;
  const [p, q] = g.outHW;
  const full = [0, 1].map((d) => g.strides[d] * ((d === 0 ? p : q) - 1) + g.kernel[d] - g.pads[d] - g.pads[d + 2]);
  return ops.node('ConvTranspose', [dy, wOnnx], `${name}_dx`, {
    kernel_shape: { ints: g.kernel },
    strides: { ints: g.strides },
    pads: { ints: g.pads },
    group: { int: group },
    output_padding: { ints: [h - full[0], w - full[1]] },
  });
}

/** A gradient computed blocked: its plain form (a reorder, pruned if no layer reads it), with the blocked one recorded for layers that can use it. */
function blockedGradientOut(ctx: StepContext, blocked: string, channels: number, name: string): string {
  const plain = fromNchwc(ctx.ops, blocked, channels, name);
  ctx.setBlockedTwin(plain, blocked);
  return plain;
}

/** The deferred batch-norm gradient `d` (AffineGradient) when the batch norm read `z`, the layer's output before its activation (so a linear one). */
function deferredFor(ctx: StepContext, d: string, z: Value): AffineGradient | undefined {
  const parts = ctx.affine(d);
  return parts !== undefined && parts.x.name === z.name ? parts : undefined;
}

/** Conv2D: full, pointwise or strided; optional bias and activation. */
const conv2d: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const c = layerConfig<{ useBias: boolean; activation?: string }>(layer);
  const [kh, kw, ci, co] = weightShape(layer, 'kernel');
  const [n, , h, w] = x.shape;
  const g = convGeometry(layer, [h, w], [kh, kw]);
  const name = layer.name;
  const kernel = ctx.weight(layer, 'kernel');
  const pointwise = kh === 1 && kw === 1 && g.strides.every((s) => s === 1) && g.pads.every((p) => p === 0);
  // A 1×1 kernel's transpose as a 2-D one: onnxruntime's 4-D Transpose took 7 ms on a 1024×1024 kernel, the 2-D one 0.8 ms.
  const wOnnx = kh === 1 && kw === 1
    ? ops.reshape(ops.transpose(ops.reshape(kernel, [ci, co], `${name}_W2`), [1, 0], `${name}_WT2`), [co, ci, 1, 1], `${name}_W`)
    : ops.transpose(kernel, [3, 2, 0, 1], `${name}_W`);
  const inputs = [x.name, wOnnx, ...(c.useBias ? [ctx.weight(layer, 'bias')] : [])];
  const z: Value = { name: ops.node('Conv', inputs, name, convAttributes(g)), shape: [n, co, ...g.outHW] };
  const act = emitActivation(c.activation, z, ops, `${name}_${c.activation ?? 'linear'}`, layer);
  return {
    outputs: [act.y],
    acceptsAffine: true,
    backward: ([dOut]) => {
      if (dOut === null) return [null];
      // A following batch norm's deferred gradient dz = A·v: v computed, A folded into the gradients and the filter.
      const deferred = deferredFor(ctx, dOut, z);
      const dz = deferred === undefined ? act.backward(ctx.materialize(dOut)) : unscaledAffineGradient(ops, deferred);
      const scaled = (t: string, shape: number[], at: string) => (deferred === undefined ? t : ops.mul(t, ops.reshape(deferred.a, shape, `${at}_shape`), at));
      if (c.useBias) ctx.gradient(layer, 'bias', scaled(ops.channelSum(dz, `${name}_dB`), [co], `${name}_dBA`));
      const [p, q] = g.outHW;
      let dW: string;
      if (pointwise) {
        const xR = ops.reshape(x.name, [n, ci, h * w], `${name}_xR`);
        const dzR = ops.reshape(dz, [n, co, p * q], `${name}_dzR`);
        if (ci * co > h * w * (ci + co)) {
          // Small maps, many channels: the per-image products [N, Ci, Co] outweigh the maps, so the batch
          // goes into the GEMM's inner dimension instead — x and dz as [C, N·HW] (a cheap block transpose)
          // and one [Ci, N·HW] × [N·HW, Co] product, already in tfjs' layout. 1024→1024 at 7²: 28 → 15 ms;
          // 512→512 at 14²: 16 → 12 ms; at 28² and above the batched form below is faster.
          const x2 = ops.reshape(ops.transpose(xR, [1, 0, 2], `${name}_xT`), [ci, n * h * w], `${name}_xF`);
          const dz2 = ops.reshape(ops.transpose(dzR, [1, 0, 2], `${name}_dzT`), [co, n * p * q], `${name}_dzF`);
          const prod = ops.node('MatMul', [x2, ops.transpose(dz2, [1, 0], `${name}_dzTT`)], `${name}_dWmm`);
          dW = ops.reshape(prod, [1, 1, ci, co], `${name}_dWr`);
        } else if (co <= ci) {
          // [N, Ci, HW] × [N, HW, Co] → Σ over N: the transpose goes on the smaller of x and dz.
          const prod = ops.node('MatMul', [xR, ops.transpose(dzR, [0, 2, 1], `${name}_dzT`)], `${name}_dWmm`);
          dW = ops.reshape(ops.reduceSum(prod, [0], `${name}_dWsum`), [1, 1, ci, co], `${name}_dWr`);
        } else {
          const prod = ops.node('MatMul', [dzR, ops.transpose(xR, [0, 2, 1], `${name}_xT`)], `${name}_dWmm`);
          dW = ops.reshape(ops.transpose(ops.reduceSum(prod, [0], `${name}_dWsum`), [1, 0], `${name}_dWt`), [1, 1, ci, co], `${name}_dWr`);
        }
      } else if (ci * kh * kw <= IM2COL_LIMIT) {
        dW = filterGradientByIm2col(x, dz, co, g, ops, name);
      } else {
        dW = ops.transpose(filterGradientByConv(x, dz, co, g, ops, name), [2, 3, 0, 1], `${name}_dWt`);
      }
      ctx.gradient(layer, 'kernel', scaled(dW, [co], `${name}_dW`));
      if (!ctx.needsGradient(x)) return [null];
      // The 1×1 kernel [1, 1, Ci, Co] is already the transposed filter [Ci, Co, 1, 1] in memory: a Reshape.
      if (pointwise) return [ops.node('Conv', [dz, scaled(ops.reshape(kernel, [ci, co, 1, 1], `${name}_Wt`), [1, co, 1, 1], `${name}_WtA`)], `${name}_dx`, { kernel_shape: { ints: [1, 1] } })];
      return [inputGradientByTransposedConv(dz, scaled(wOnnx, [co, 1, 1, 1], `${name}_WA`), x, g, 1, ops, name)];
    },
  };
};

/** DepthwiseConv2D with depth multiplier 1. */
const depthwiseConv2d: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const c = layerConfig<{ useBias: boolean; activation?: string }>(layer);
  const [kh, kw, channels, multiplier] = weightShape(layer, 'depthwise_kernel');
  if (multiplier !== 1) unsupported(layer, `has depth multiplier ${multiplier} (only 1 is supported)`);
  const [n, , h, w] = x.shape;
  const g = convGeometry(layer, [h, w], [kh, kw]);
  const name = layer.name;
  const kernel = ctx.weight(layer, 'depthwise_kernel');
  const wOnnx = ops.transpose(kernel, [2, 3, 0, 1], `${name}_W`); // [C, 1, kh, kw]
  const inputs = [x.name, wOnnx, ...(c.useBias ? [ctx.weight(layer, 'bias')] : [])];
  const block = ctx.nchwcBlock !== null && channels % ctx.nchwcBlock === 0 ? ctx.nchwcBlock : null;
  const plainDepthwise = (input: string, filter: string, pads: readonly number[], strides: readonly number[], at: string, bias?: string) =>
    ops.node('Conv', [input, filter, ...(bias === undefined ? [] : [bias])], at, { kernel_shape: { ints: [kh, kw] }, strides: { ints: strides }, pads: { ints: pads }, group: { int: channels } });
  // Blocked (NCHWc), x is reordered once: the forward convolution and the filter gradient's read it.
  const xBlocked = block === null ? null : x.nchwc ?? toNchwc(ops, x.name, `${name}_in_nchwc`);
  if (xBlocked !== null) ctx.setBlockedTwin(x.name, xBlocked);
  const zBlocked = xBlocked === null ? null : nchwcDepthwiseBlocked(ops, xBlocked, nchwcFilter(ops, wOnnx, channels, [kh, kw], block as number, name), channels, [kh, kw], { strides: g.strides, pads: g.pads }, `${name}_nchwc`, inputs[2]);
  const zName = zBlocked === null ? plainDepthwise(x.name, wOnnx, g.pads, g.strides, name, inputs[2]) : fromNchwc(ops, zBlocked, channels, `${name}_out`);
  const z: Value = { name: zName, shape: [n, channels, ...g.outHW], ...(zBlocked === null ? {} : { nchwc: zBlocked }) };
  const act = emitActivation(c.activation, z, ops, `${name}_${c.activation ?? 'linear'}`, layer);
  return {
    outputs: [act.y],
    acceptsAffine: true,
    backward: ([dOut]) => {
      if (dOut === null) return [null];
      // A following batch norm's deferred gradient dz = A·v: A folded into the gradients and the filter;
      // blocked, v is one NCHWc 1×1 depthwise convolution of the blocked z (P as filter, Q as bias) with the
      // blocked g as its Sum input — instead of a batch norm, an Add, a Mul and the reorder of dz.
      const deferred = deferredFor(ctx, dOut, z);
      const scaled = (t: string, shape: number[], at: string) => (deferred === undefined ? t : ops.mul(t, ops.reshape(deferred.a, shape, `${at}_shape`), at));
      let dzBlocked: string | null = null;
      if (zBlocked !== null && deferred !== undefined) {
        // The batch norm's blocked x − mean when it has one (then z's blocked form is not kept for this).
        const gBlocked = deferred.gNchwc ?? toNchwc(ops, deferred.g, `${name}_dx_g_nchwc`);
        const [source, q] = deferred.centredNchwc === undefined ? [zBlocked, deferred.q] : [deferred.centredNchwc.x, deferred.centredNchwc.q];
        dzBlocked = nchwcChannelAffine(ops, source, deferred.p, q, channels, `${deferred.name}_dxv_nchwc`, { sum: gBlocked });
      }
      let dzPlain: string | null = deferred === undefined ? act.backward(ctx.materialize(dOut)) : null;
      const dzNchw = (): string => {
        dzPlain ??= dzBlocked !== null ? fromNchwc(ops, dzBlocked, channels, `${name}_dz_out`) : unscaledAffineGradient(ops, deferred as AffineGradient);
        return dzPlain;
      };
      if (c.useBias) ctx.gradient(layer, 'bias', scaled(ops.channelSum(dzNchw(), `${name}_dB`), [channels], `${name}_dBA`));
      // Filter: one grouped convolution over the N·C (image, channel) pairs, then Σ over N.
      const [p, q] = g.outHW;
      const dWconv = { kernel_shape: { ints: [p, q] }, dilations: { ints: g.strides }, pads: { ints: g.pads } };
      let perPair: string;
      if (xBlocked !== null) {
        // Blocked, x as [1, N·C, H, W] is the forward's reordered x reshaped (the memory order is the same:
        // [N·C / block, H, W, block]), and dz blocked is already the filter regrouped as the kernels read it
        // ([N·C / block, P·Q, block]); dz's one reorder also feeds the stride-1 input gradient. Saved a
        // ReorderInput and a Transpose of full maps per layer (V1 1.0-224 b16: about 60 ms per step).
        dzBlocked ??= toNchwc(ops, dzNchw(), `${name}_dx_in_nchwc`);
        const xF = ops.reshape(xBlocked, [1, n * channels, h, w], `${name}_xF`);
        const dzF = ops.reshape(dzBlocked, [n * channels, 1, p, q], `${name}_dzF`);
        const out = nchwcDepthwiseBlocked(ops, xF, dzF, n * channels, [p, q], { strides: [1, 1], pads: g.pads, dilations: g.strides }, `${name}_dWconv_nchwc`);
        perPair = fromNchwc(ops, out, n * channels, `${name}_dWconv`);
      } else {
        const xF = ops.reshape(x.name, [1, n * channels, h, w], `${name}_xF`);
        const dzF = ops.reshape(dzNchw(), [n * channels, 1, p, q], `${name}_dzF`);
        perPair = ops.node('Conv', [xF, dzF], `${name}_dWconv`, { ...dWconv, group: { int: n * channels } });
      }
      const size = [h + g.pads[0] + g.pads[2] - g.strides[0] * (p - 1), w + g.pads[1] + g.pads[3] - g.strides[1] * (q - 1)];
      const cropped = cropKernel(perPair, [1, n * channels, ...size], [kh, kw], ops, name);
      const summed = scaled(ops.reduceSum(ops.reshape(cropped, [n, channels, kh, kw], `${name}_dWpairs`), [0], `${name}_dWsum`), [channels, 1, 1], `${name}_dWA`); // [C, kh, kw]
      ctx.gradient(layer, 'depthwise_kernel', ops.reshape(ops.transpose(summed, [1, 2, 0], `${name}_dWt`), [kh, kw, channels, 1], `${name}_dW`));
      if (!ctx.needsGradient(x)) return [null];
      // Correlation with the 180°-flipped filter: stride 1, padded to give back H × W; strided and blocked,
      // of the gradient spread out with zeros (nchwcStridedInputGradient).
      const flipped = () => scaled(ops.node('Slice', [wOnnx, ops.int64s([-1, -1]), ops.int64s([-(kh + 1), -(kw + 1)]), ops.int64s([2, 3]), ops.int64s([-1, -1])], `${name}_Wflip`), [channels, 1, 1, 1], `${name}_WflipA`);
      if (g.strides.every((s) => s === 1)) {
        const pads = [kh - 1 - g.pads[0], kw - 1 - g.pads[1], kh - 1 - g.pads[2], kw - 1 - g.pads[3]];
        if (dzBlocked === null) return [plainDepthwise(dzNchw(), flipped(), pads, [1, 1], `${name}_dx`)];
        const dx = nchwcDepthwiseBlocked(ops, dzBlocked, nchwcFilter(ops, flipped(), channels, [kh, kw], block as number, `${name}_dx`), channels, [kh, kw], { strides: [1, 1], pads }, `${name}_dx_nchwc`);
        return [blockedGradientOut(ctx, dx, channels, `${name}_dx_out`)];
      }
      if (dzBlocked !== null) {
        const dims = { n, channels, inHW: [h, w], outHW: g.outHW, kernel: [kh, kw], strides: g.strides, pads: g.pads };
        const dx = nchwcStridedInputGradient(ops, dzBlocked, nchwcFilter(ops, flipped(), channels, [kh, kw], block as number, `${name}_dx`), dims, block as number, `${name}_dx_nchwc`);
        if (dx !== null) return [blockedGradientOut(ctx, dx, channels, `${name}_dx_out`)];
      }
      return [inputGradientByTransposedConv(dzNchw(), scaled(wOnnx, [channels, 1, 1, 1], `${name}_WA`), x, g, channels, ops, name)];
    },
  };
};

/** Batch normalization over the channels of an NCHW map, with the batch's statistics; moving averages as tfjs-layers keeps them. */
const batchNormalization: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const c = layerConfig<{ axis: number; epsilon: number; momentum: number }>(layer);
  if (x.shape.length !== 4 || !(c.axis === -1 || c.axis === 3)) unsupported(layer, `normalizes axis ${c.axis} of a rank-${x.shape.length} tensor (only the channels of a 4-D map are supported)`);
  const [n, channels, h, w] = x.shape;
  const count = n * h * w;
  const name = layer.name;
  const gamma = ctx.hasWeight(layer, 'gamma') ? ctx.weight(layer, 'gamma') : ops.float(1, [channels]);
  const beta = ctx.hasWeight(layer, 'beta') ? ctx.weight(layer, 'beta') : ops.float(0, [channels]);
  const block = ctx.nchwcBlock;
  const blocked = x.nchwc !== undefined && block !== null && channels % block === 0 ? x.nchwc : undefined;
  let output: Value;
  let mean: string;
  let variance: string;
  let invStd: string;
  let centred: string | undefined;
  if (blocked !== undefined) {
    // x also blocked (a depthwise convolution's output): the statistics from its blocked form, in two
    // passes as tfjs' moments (Σx by ReduceSum; x − mean as a 1×1 NCHWc convolution; Σ(x − mean)² as a
    // grouped convolution of that with itself, no map written), and y = γ·(x − mean)/σ + β as a 1×1 NCHWc
    // convolution, which a following ReLU6 replaces by one with the clip fused (Value.affine): no
    // BatchNormalization (single-threaded, three passes), no reorder of x, no Clip pass.
    mean = ops.scale(nchwcChannelSum(ops, blocked, x.shape, block as number, `${name}_sum`), 1 / count, `${name}_mean`);
    centred = nchwcChannelAffine(ops, blocked, ops.float(1, [channels]), ops.scale(mean, -1, `${name}_negmean`), channels, `${name}_xc_nchwc`);
    variance = ops.scale(ops.reduceSum(nchwcPairDots(ops, centred, centred, x.shape, `${name}_sumsq_dot`), [0], `${name}_sumsq`), 1 / count, `${name}_var`);
    invStd = ops.node('Reciprocal', [ops.node('Sqrt', [ops.add(variance, ops.float(c.epsilon), `${name}_vareps`)], `${name}_std`)], `${name}_invstd`);
    const scale = ops.mul(gamma, invStd, `${name}_scale`);
    const yBlocked = nchwcChannelAffine(ops, centred, scale, beta, channels, `${name}_nchwc`);
    const source: Value = { name: fromNchwc(ops, centred, channels, `${name}_xc`), shape: x.shape, nchwc: centred };
    output = { name: fromNchwc(ops, yBlocked, channels, name), shape: x.shape, nchwc: yBlocked, affine: { source, scale, shift: beta } };
  } else {
    // The batch statistics from BatchNormalization's training mode (momentum 0: its running statistics are
    // the batch's mean and biased variance, as tfjs' moments): one operator instead of ReduceSum,
    // ReduceSumSquare and an inference-mode BatchNormalization — 16·64·112² map: 68 → 58 ms, 16·128·56²:
    // 33 → 24 ms (ReduceSumSquare alone was 6× slower than ReduceSum). Its running-statistics inputs must
    // be tensors of this layer computed in the graph from a graph input (never constant-folded): onnxruntime
    // writes the outputs into their buffers, and shared constants were clobbered (reference/ort_training.md).
    const zeros = ops.mul(ctx.weight(layer, 'moving_mean'), ops.float(0), `${name}_mean0`);
    const ones = ops.add(zeros, ops.float(1), `${name}_var1`);
    const [y, batchMean, batchVariance] = ops.graph.addNode('BatchNormalization', [x.name, gamma, beta, zeros, ones], name, { epsilon: { float: c.epsilon }, momentum: { float: 0 }, training_mode: { int: 1 } }, 3);
    [mean, variance] = [batchMean, batchVariance];
    invStd = ops.node('Reciprocal', [ops.node('Sqrt', [ops.add(variance, ops.float(c.epsilon), `${name}_vareps`)], `${name}_std`)], `${name}_invstd`);
    output = { name: y, shape: x.shape };
  }
  // moving ← moving − (moving − batch)·(1 − momentum)
  for (const [weight, batch] of [['moving_mean', mean], ['moving_variance', variance]] as const) {
    const moving = ctx.weight(layer, weight);
    ctx.update(layer, weight, ops.sub(moving, ops.scale(ops.sub(moving, batch, `${name}_${weight}_delta`), 1 - c.momentum, `${name}_${weight}_step`), `${name}_${weight}_new`));
  }
  return {
    outputs: [output],
    backward: ([dy]) => {
      if (dy === null) return [null];
      const sumDy = ops.channelSum(dy, `${name}_sumdy`);
      // Σ dy·x per channel as a convolution of dy [1, N·C, H, W] with x as the N·C filters [N·C, 1, H, W]
      // (one group per (image, channel) pair, a 1 × 1 output): no product map written. 16·64·112²: 24 → 11 ms.
      // Blocked, dy's reorder serves the depthwise convolution's backward too (AffineGradient.gNchwc), and
      // the dot is with x − mean, which is Σ dy·x − mean·Σ dy without the cancellation.
      const dyBlocked = centred === undefined ? undefined : toNchwc(ops, dy, `${name}_dy_nchwc`);
      let centredSum: string;
      if (centred === undefined) {
        const dots = ops.node('Conv', [ops.reshape(dy, [1, n * channels, h, w], `${name}_dyF`), ops.reshape(x.name, [n * channels, 1, h, w], `${name}_xK`)], `${name}_sumdyx_dot`, { kernel_shape: { ints: [h, w] }, group: { int: n * channels } });
        const sumDyX = ops.reduceSum(ops.reshape(dots, [n, channels], `${name}_sumdyx_nc`), [0], `${name}_sumdyx`);
        centredSum = ops.sub(sumDyX, ops.mul(mean, sumDy, `${name}_meandy`), `${name}_sumdyxc`);
      } else {
        centredSum = ops.reduceSum(nchwcPairDots(ops, dyBlocked as string, centred, x.shape, `${name}_sumdyx_dot`), [0], `${name}_sumdyxc`);
      }
      const dGamma = ops.mul(invStd, centredSum, `${name}_dgamma`);
      if (ctx.hasWeight(layer, 'gamma')) ctx.gradient(layer, 'gamma', dGamma);
      if (ctx.hasWeight(layer, 'beta')) ctx.gradient(layer, 'beta', sumDy);
      if (!ctx.needsGradient(x)) return [null];
      // dx = A·(dy + P·x + Q) per channel, handed on deferred: the convolution before folds A into its
      // weights and computes dy + P·x + Q in its own layout (AffineGradient).
      const a = ops.mul(gamma, invStd, `${name}_A`);
      const p = ops.scale(ops.mul(invStd, dGamma, `${name}_Pneg`), -1 / count, `${name}_P`);
      const q = ops.sub(ops.scale(sumDy, -1 / count, `${name}_Qdy`), ops.mul(p, mean, `${name}_Pmean`), `${name}_Q`);
      const centredNchwc = centred === undefined ? undefined : { x: centred, q: ops.scale(sumDy, -1 / count, `${name}_Qc`) };
      return [ctx.deferAffine({ g: dy, gNchwc: dyBlocked, centredNchwc, x, a, p, q, name })];
    },
  };
};

/**
 * g + P·x + Q of a deferred batch-norm gradient (AffineGradient) in one pass: a 1×1 convolution with a
 * group per channel (filter P, bias Q) whose Sum input is g — onnxruntime's FusedConv, multithreaded,
 * where a BatchNormalization (single-threaded) and an Add took two (16·64·112²: 31 → 25 ms).
 */
export function unscaledAffineGradient(ops: StepOps, { g, x, p, q, name }: AffineGradient): string {
  const channels = x.shape[1];
  const filter = ops.reshape(p, [channels, 1, 1, 1], `${name}_P4`);
  return ops.graph.addNode('FusedConv', [x.name, filter, q, g], `${name}_dxv`, {
    kernel_shape: { ints: [1, 1] }, group: { int: channels }, activation: { string: 'Clip' }, activation_params: { floats: [-FLOAT_MAX, FLOAT_MAX] },
  }, 1, MICROSOFT_DOMAIN)[0];
}

/** onnxruntime's contrib operators (FusedConv). */
const MICROSOFT_DOMAIN = { name: 'com.microsoft', version: 1 } as const;
/** The largest float32: FusedConv needs an activation, and Clip to ±this is none. */
const FLOAT_MAX = 3.4028234663852886e38;

const activationLayer: LayerEmitter = (layer, [x], ctx) => {
  const act = emitActivation(layerConfig<{ activation: string }>(layer).activation, x, ctx.ops, layer.name, layer, ctx);
  return { outputs: [act.y], backward: ([d]) => [d === null ? null : act.backward(d)] };
};

const reluLayer: LayerEmitter = (layer, [x], ctx) => {
  const maxValue = layerConfig<{ maxValue?: number | null; negativeSlope?: number; threshold?: number }>(layer).maxValue;
  const act = maxValue == null ? emitActivation('relu', x, ctx.ops, layer.name, layer) : clipped(x, maxValue, ctx.ops, layer.name, ctx);
  return { outputs: [act.y], backward: ([d]) => [d === null ? null : act.backward(d)] };
};

const globalAveragePooling: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const [n, channels, h, w] = x.shape;
  const pooled = ops.node('Flatten', [ops.node('GlobalAveragePool', [x.name], `${layer.name}_pool`)], layer.name, { axis: { int: 1 } });
  return {
    outputs: [{ name: pooled, shape: [n, channels] }],
    backward: ([d]) => {
      if (d === null || !ctx.needsGradient(x)) return [null];
      const per = ops.reshape(ops.scale(d, 1 / (h * w), `${layer.name}_dmean`), [n, channels, 1, 1], `${layer.name}_d4`);
      return [ops.node('Expand', [per, ops.int64s([n, channels, h, w])], `${layer.name}_dx`)];
    },
  };
};

const dense: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  if (x.shape.length !== 2) unsupported(layer, `reads a rank-${x.shape.length} tensor (only [batch, features] is supported)`);
  const c = layerConfig<{ useBias: boolean; activation?: string }>(layer);
  const [, units] = weightShape(layer, 'kernel');
  const kernel = ctx.weight(layer, 'kernel');
  const inputs = [x.name, kernel, ...(c.useBias ? [ctx.weight(layer, 'bias')] : [])];
  const z: Value = { name: ops.node('Gemm', inputs, `${layer.name}_linear`), shape: [x.shape[0], units] };
  const act = emitActivation(c.activation, z, ops, layer.name, layer);
  return {
    outputs: [act.y],
    backward: ([dOut]) => {
      if (dOut === null) return [null];
      const dz = act.backward(dOut);
      ctx.gradient(layer, 'kernel', ops.node('Gemm', [x.name, dz], `${layer.name}_dW`, { transA: { int: 1 } }));
      if (c.useBias) ctx.gradient(layer, 'bias', ops.reduceSum(dz, [0], `${layer.name}_dB`));
      return [ctx.needsGradient(x) ? ops.node('Gemm', [dz, kernel], `${layer.name}_dx`, { transB: { int: 1 } }) : null];
    },
  };
};

const dropout: LayerEmitter = (layer, [x], ctx) => {
  const c = layerConfig<{ rate: number; noiseShape?: number[] | null }>(layer);
  if (c.noiseShape != null) unsupported(layer, 'has a noiseShape');
  if (c.rate === 0) return { outputs: [x], backward: (d) => [...d] };
  const mask = ctx.mask(layer, x.shape);
  const y = ctx.ops.mul(x.name, mask, layer.name);
  return { outputs: [{ name: y, shape: x.shape }], backward: ([d]) => [d === null ? null : ctx.ops.mul(d, mask, `${layer.name}_dx`)] };
};

const add: LayerEmitter = (layer, inputs, ctx) => {
  const sum = inputs.slice(1).reduce((acc, next, i) => ctx.ops.add(acc, next.name, i === inputs.length - 2 ? layer.name : `${layer.name}_${i}`), inputs[0].name);
  return { outputs: [{ name: sum, shape: inputs[0].shape }], backward: ([d]) => inputs.map(() => d) };
};

const zeroPadding: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const [[top, bottom], [left, right]] = layerConfig<{ padding: number[][] }>(layer).padding;
  const [n, channels, h, w] = x.shape;
  const y = ops.node('Pad', [x.name, ops.int64s([0, 0, top, left, 0, 0, bottom, right])], layer.name);
  return {
    outputs: [{ name: y, shape: [n, channels, h + top + bottom, w + left + right] }],
    backward: ([d]) => [d === null ? null : ops.node('Slice', [d, ops.int64s([top, left]), ops.int64s([top + h, left + w]), ops.int64s([2, 3])], `${layer.name}_dx`)],
  };
};

/**
 * UpSampling2D, nearest neighbour by whole factors (each pixel repeated fh × fw times; tfjs' and ONNX's
 * nearest agree exactly at whole factors). Forward: Reshape to [n, c, h, 1, w, 1], Expand, Reshape;
 * backward: the sum of each fh × fw block of the incoming gradient.
 */
const upSampling: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const c = layerConfig<{ size?: number | number[]; interpolation?: string; dataFormat?: string }>(layer);
  const [fh, fw] = Array.isArray(c.size) ? c.size : [c.size ?? 2, c.size ?? 2];
  if ((c.interpolation ?? 'nearest') !== 'nearest') unsupported(layer, `interpolates '${c.interpolation}'; only 'nearest' is supported`);
  if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') unsupported(layer, `has dataFormat '${c.dataFormat}'`);
  if (!(Number.isInteger(fh) && Number.isInteger(fw) && fh >= 1 && fw >= 1)) unsupported(layer, `scales by [${fh}, ${fw}]; only whole factors are supported`);
  const [n, channels, h, w] = x.shape;
  const spread = ops.reshape(x.name, [n, channels, h, 1, w, 1], `${layer.name}_spread`);
  const repeated = ops.node('Expand', [spread, ops.int64s([n, channels, h, fh, w, fw])], `${layer.name}_repeat`);
  const y = ops.reshape(repeated, [n, channels, h * fh, w * fw], layer.name);
  return {
    outputs: [{ name: y, shape: [n, channels, h * fh, w * fw] }],
    backward: ([d]) => {
      if (d === null || !ctx.needsGradient(x)) return [null];
      const blocks = ops.reshape(d, [n, channels, h, fh, w, fw], `${layer.name}_dblocks`);
      return [ops.reshape(ops.reduceSum(blocks, [3, 5], `${layer.name}_dsum`), [n, channels, h, w], `${layer.name}_dx`)];
    },
  };
};

/** A step-graph tensor in tfjs' layout: 4-D maps go NCHW → NHWC, others are as they are. */
function toTfjsLayout(x: Value, ops: StepOps, name: string): Value {
  if (x.shape.length !== 4) return x;
  const [n, c, h, w] = x.shape;
  return { name: ops.transpose(x.name, [0, 2, 3, 1], name), shape: [n, h, w, c] };
}

/** A tensor in tfjs' layout back to the step graph's: 4-D NHWC → NCHW, others as they are. */
function fromTfjsLayout(x: Value, ops: StepOps, name: string): Value {
  if (x.shape.length !== 4) return x;
  const [n, h, w, c] = x.shape;
  return { name: ops.transpose(x.name, [0, 3, 1, 2], name), shape: [n, c, h, w] };
}

/** Reshape as tfjs does it, on the NHWC order of a 4-D map (a detector's predictions [batch, cells · anchors, codes]). */
const reshape: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const target = layerConfig<{ targetShape: number[] }>(layer).targetShape;
  const known = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const free = target.indexOf(-1);
  const dims = target.map((d, i) => (i === free ? known / target.reduce((a, b, j) => (j === free ? a : a * b), 1) : d));
  if (dims.reduce((a, b) => a * b, 1) !== known || !dims.every(Number.isInteger)) unsupported(layer, `reshapes [${x.shape.slice(1)}] to [${target}]`);
  const flat = toTfjsLayout(x, ops, `${layer.name}_nhwc`);
  const y = fromTfjsLayout({ name: ops.reshape(flat.name, [x.shape[0], ...dims], `${layer.name}_tfjs`), shape: [x.shape[0], ...dims] }, ops, layer.name);
  return {
    outputs: [y],
    backward: ([d]) => {
      if (d === null || !ctx.needsGradient(x)) return [null];
      const dTfjs = toTfjsLayout({ name: d, shape: y.shape }, ops, `${layer.name}_dnhwc`);
      return [fromTfjsLayout({ name: ops.reshape(dTfjs.name, flat.shape, `${layer.name}_dx_tfjs`), shape: flat.shape }, ops, `${layer.name}_dx`).name];
    },
  };
};

/** Concatenate along tfjs' axis (on 4-D maps, NHWC's axis mapped to NCHW's); backward: Split. */
const concatenate: LayerEmitter = (layer, inputs, ctx) => {
  const { ops } = ctx;
  const rank = inputs[0].shape.length;
  const tfjsAxis = layerConfig<{ axis?: number }>(layer).axis ?? -1;
  const axisTfjs = tfjsAxis < 0 ? rank + tfjsAxis : tfjsAxis;
  const axis = rank === 4 ? [0, 2, 3, 1][axisTfjs] : axisTfjs;
  if (!(axis >= 1 && axis < rank)) unsupported(layer, `concatenates along axis ${tfjsAxis} of rank-${rank} tensors`);
  const sizes = inputs.map((v) => v.shape[axis]);
  const shape = inputs[0].shape.map((d, i) => (i === axis ? sizes.reduce((a, b) => a + b, 0) : d));
  const y = ops.node('Concat', inputs.map((v) => v.name), layer.name, { axis: { int: axis } });
  return {
    outputs: [{ name: y, shape }],
    backward: ([d]) => {
      if (d === null || inputs.every((v) => !ctx.needsGradient(v))) return inputs.map(() => null);
      if (inputs.length === 1) return [d];
      const parts = ops.graph.addNode('Split', [d, ops.int64s(sizes)], `${layer.name}_dx`, { axis: { int: axis } }, inputs.length);
      return parts.map((p, k) => (ctx.needsGradient(inputs[k]) ? p : null));
    },
  };
};

/**
 * Max pooling with windows that do not overlap (strides ≥ pool size, 'valid' padding: a Faster R-CNN's
 * 2×2 pool of its crops). Backward: each output's gradient goes to the first maximum of its window —
 * tfjs' MaxPoolGrad rule — at the flat position onnxruntime's MaxPool reports (its second output, over the
 * whole NCHW tensor); no two windows share a position, so one ScatterElements writes them all.
 */
const maxPooling: LayerEmitter = (layer, [x], ctx) => {
  const { ops } = ctx;
  const c = layerConfig<{ poolSize: number[]; strides: number[]; padding: string; dataFormat?: string }>(layer);
  const [ph, pw] = c.poolSize;
  const [sh, sw] = c.strides;
  if (c.padding !== 'valid' || sh < ph || sw < pw) unsupported(layer, `pools ${ph}×${pw} windows at strides ${sh}×${sw} with '${c.padding}' padding (only 'valid' windows that do not overlap are supported)`);
  if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') unsupported(layer, `has data format '${c.dataFormat}'`);
  const [n, channels, h, w] = x.shape;
  const shape = [n, channels, Math.floor((h - ph) / sh) + 1, Math.floor((w - pw) / sw) + 1];
  const [y, indices] = ops.graph.addNode('MaxPool', [x.name], layer.name, { kernel_shape: { ints: [ph, pw] }, strides: { ints: [sh, sw] } }, 2);
  return {
    outputs: [{ name: y, shape }],
    backward: ([d]) => {
      if (d === null || !ctx.needsGradient(x)) return [null];
      const size = x.shape.reduce((a, b) => a * b, 1);
      const positions = ops.reshape(indices, [-1], `${layer.name}_argmax_flat`);
      const scattered = ops.node('ScatterElements', [ops.node('ConstantOfShape', [ops.int64s([size])], `${layer.name}_dx_zeros`), positions, ops.reshape(d, [-1], `${layer.name}_d_flat`)], `${layer.name}_dx_flat`, { axis: { int: 0 } });
      return [ops.reshape(scattered, x.shape, `${layer.name}_dx`)];
    },
  };
};

/** tfjs class name → training emitter. */
export const TRAINING_EMITTERS: Readonly<Record<string, LayerEmitter>> = Object.freeze({
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  BatchNormalization: batchNormalization,
  Activation: activationLayer,
  ReLU: reluLayer,
  GlobalAveragePooling2D: globalAveragePooling,
  MaxPooling2D: maxPooling,
  Dense: dense,
  Dropout: dropout,
  Add: add,
  ZeroPadding2D: zeroPadding,
  Reshape: reshape,
  Concatenate: concatenate,
  UpSampling2D: upSampling,
});

export type { LayerStep, StepContext };
