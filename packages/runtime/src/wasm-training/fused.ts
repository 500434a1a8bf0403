/**
 * The fused training kernels of `@mobilenets/backbone` (batch-norm training and its gradient, the ReLU
 * and ReLU6 gradients) for the wasm backend: passes over channels-last data in the wasm heap, per-channel
 * sums accumulated in doubles. Each pass runs as a WebAssembly SIMD kernel (simd/) once
 * `initWasmSimdKernels()` has resolved, else as the JavaScript loop next to it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TensorInfo, WasmBackend, byteOffset, f32 } from './heap';
import { Scratch, patternPeriod, reducePositions } from './simd/calls';
import { SimdExports, simdExports } from './simd/module';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

const channelsOf = (info: TensorInfo) => info.shape[info.shape.length - 1];
const sizeOf = (info: TensorInfo) => info.shape.reduce((a, b) => a * b, 1);

/** Per-channel sums of a pass over all positions: their meaning depends on the pass. */
interface ChannelSums {
  sum1: Float64Array;
  sum2: Float64Array;
}

/**
 * The per-channel scratch of a SIMD batch-norm pass: two f64 sums, then `patterns` per-channel f32
 * patterns for the element-wise pass that follows.
 */
function batchNormScratch(backend: WasmBackend, channels: number, patterns: number): Scratch {
  return new Scratch(backend, [8 * channels, 8 * channels, ...Array<number>(patterns).fill(4 * patternPeriod(channels))]);
}

function zeroedSums(scratch: Scratch, channels: number): ChannelSums {
  const [sum1, sum2] = [scratch.parts[0], scratch.parts[1]].map((p) => scratch.f64(p, channels).fill(0));
  return { sum1, sum2 };
}

// ---- batch-norm forward -----------------------------------------------------------------------------

export function batchNormTraining(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { x: xInfo, scale: scaleInfo, offset: offsetInfo } = args.inputs as Record<string, TensorInfo>;
  const { epsilon } = args.attrs as { epsilon: number };
  const channels = channelsOf(xInfo);
  const count = sizeOf(xInfo) / channels;
  const yInfo = backend.makeOutput(xInfo.shape, 'float32');
  const meanInfo = backend.makeOutput([channels], 'float32');
  const varianceInfo = backend.makeOutput([channels], 'float32');
  const simd = simdExports(backend);
  const scratch = simd ? batchNormScratch(backend, channels, 2) : null;

  // Sums of x − shift and (x − shift)², shift = the first position's x: exact mean and variance
  // even when the mean is large against the spread.
  const sums = simd && scratch ? momentsSimd(simd, scratch, backend, xInfo, channels) : momentsJs(f32(backend, xInfo), channels);
  const [x, scale, offset, mean, variance] = [xInfo, scaleInfo, offsetInfo, meanInfo, varianceInfo].map((i) => f32(backend, i));
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const shifted = sums.sum1[c] / count;
    const v = Math.max(sums.sum2[c] / count - shifted * shifted, 0);
    const m = x[c] + shifted;
    mean[c] = m;
    variance[c] = v;
    a[c] = scale[c] / Math.sqrt(v + epsilon);
    b[c] = offset[c] - m * a[c];
  }
  // y = x·a + b per channel
  if (simd && scratch) {
    const [, , p, r] = scratch.parts;
    scratch.writePattern(p, a);
    scratch.writePattern(r, b);
    simd.scale_shift(byteOffset(backend, xInfo), byteOffset(backend, yInfo), p, r, x.length, patternPeriod(channels));
    scratch.dispose();
  } else {
    const y = f32(backend, yInfo);
    for (let base = 0; base < x.length; base += channels) {
      for (let c = 0; c < channels; c++) y[base + c] = x[base + c] * a[c] + b[c];
    }
  }
  return [yInfo, meanInfo, varianceInfo];
}

function momentsSimd(simd: SimdExports, scratch: Scratch, backend: WasmBackend, xInfo: TensorInfo, channels: number): ChannelSums {
  const sums = zeroedSums(scratch, channels);
  const x = byteOffset(backend, xInfo);
  reducePositions(simd, 'moments', x, x, [x], [scratch.parts[0], scratch.parts[1]], sizeOf(xInfo) / channels, channels);
  return sums;
}

function momentsJs(x: Float32Array, channels: number): ChannelSums {
  const sum1 = new Float64Array(channels);
  const sum2 = new Float64Array(channels);
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const d = x[base + c] - x[c];
      sum1[c] += d;
      sum2[c] += d * d;
    }
  }
  return { sum1, sum2 };
}

// ---- batch-norm gradient ----------------------------------------------------------------------------

/**
 * With r = 1/√(var + ε) and x̂ = (x − mean)·r: dOffset = Σdy, dScale = Σ dy·x̂, and
 * dx = scale·r/M · (M·dy − dOffset − x̂·dScale), the gradient through the batch statistics too.
 */
export function batchNormTrainingGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { dy: dyInfo, x: xInfo, mean: meanInfo, variance: varianceInfo, scale: scaleInfo } = args.inputs as Record<string, TensorInfo>;
  const { epsilon } = args.attrs as { epsilon: number };
  const channels = channelsOf(xInfo);
  const count = sizeOf(xInfo) / channels;
  const dxInfo = backend.makeOutput(xInfo.shape, 'float32');
  const dScaleInfo = backend.makeOutput([channels], 'float32');
  const dOffsetInfo = backend.makeOutput([channels], 'float32');
  const simd = simdExports(backend);
  const scratch = simd ? batchNormScratch(backend, channels, 3) : null;

  // sum1 = Σdy, sum2 = Σ dy·(x − mean)
  const sums = simd && scratch
    ? gradSumsSimd(simd, scratch, backend, dyInfo, xInfo, meanInfo, channels)
    : gradSumsJs(f32(backend, dyInfo), f32(backend, xInfo), f32(backend, meanInfo), channels);
  const [dy, x, mean, variance, scale, dScale, dOffset] = [dyInfo, xInfo, meanInfo, varianceInfo, scaleInfo, dScaleInfo, dOffsetInfo].map((i) => f32(backend, i));
  const k1 = new Float32Array(channels);
  const k2 = new Float32Array(channels);
  const k3 = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const r = 1 / Math.sqrt(variance[c] + epsilon);
    const gradScale = r * sums.sum2[c];
    dScale[c] = gradScale;
    dOffset[c] = sums.sum1[c];
    // dx = k1·dy + k2·x + k3
    k1[c] = scale[c] * r;
    k2[c] = (-scale[c] * r * r * gradScale) / count;
    k3[c] = (-scale[c] * r * sums.sum1[c]) / count - k2[c] * mean[c];
  }
  if (simd && scratch) {
    const [, , p, q, r] = scratch.parts;
    scratch.writePattern(p, k1);
    scratch.writePattern(q, k2);
    scratch.writePattern(r, k3);
    simd.scale_shift2(byteOffset(backend, dyInfo), byteOffset(backend, xInfo), byteOffset(backend, dxInfo), p, q, r, x.length, patternPeriod(channels));
    scratch.dispose();
  } else {
    const dx = f32(backend, dxInfo);
    for (let base = 0; base < x.length; base += channels) {
      for (let c = 0; c < channels; c++) dx[base + c] = k1[c] * dy[base + c] + k2[c] * x[base + c] + k3[c];
    }
  }
  return [dxInfo, dScaleInfo, dOffsetInfo];
}

function gradSumsSimd(simd: SimdExports, scratch: Scratch, backend: WasmBackend, dyInfo: TensorInfo, xInfo: TensorInfo, meanInfo: TensorInfo, channels: number): ChannelSums {
  const sums = zeroedSums(scratch, channels);
  const [dy, x, mean] = [dyInfo, xInfo, meanInfo].map((i) => byteOffset(backend, i));
  reducePositions(simd, 'grad_sums', dy, x, [mean], [scratch.parts[0], scratch.parts[1]], sizeOf(xInfo) / channels, channels);
  return sums;
}

function gradSumsJs(dy: Float32Array, x: Float32Array, mean: Float32Array, channels: number): ChannelSums {
  const sum1 = new Float64Array(channels);
  const sum2 = new Float64Array(channels);
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[base + c];
      sum1[c] += g;
      sum2[c] += g * (x[base + c] - mean[c]);
    }
  }
  return { sum1, sum2 };
}

// ---- ReLU and ReLU6 gradients -----------------------------------------------------------------------

/** dx = dy where 0 < x ≤ upper, else 0. */
function maskedGradient(args: KernelArgs, upper: number): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy: dyInfo, x: xInfo } = args.inputs as Record<string, TensorInfo>;
  const dxInfo = backend.makeOutput(xInfo.shape, 'float32');
  const simd = simdExports(backend);
  if (simd) {
    simd.mask(byteOffset(backend, dyInfo), byteOffset(backend, xInfo), byteOffset(backend, dxInfo), sizeOf(xInfo), 0, upper);
    return dxInfo;
  }
  const [dy, x, dx] = [dyInfo, xInfo, dxInfo].map((i) => f32(backend, i));
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (Number(v > 0) & Number(v <= upper)); // branch-free: signs are random, mispredictions cost 3×
  }
  return dxInfo;
}

export const relu6Grad = (args: KernelArgs): TensorInfo => maskedGradient(args, 6);
export const reluGrad = (args: KernelArgs): TensorInfo => maskedGradient(args, Infinity);
