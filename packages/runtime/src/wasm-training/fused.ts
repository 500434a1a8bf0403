/**
 * The fused training kernels of `@mobilenets/backbone` (batch-norm training and its gradient, the ReLU
 * and ReLU6 gradients) for the wasm backend: single passes over channels-last data in the wasm heap,
 * per-channel sums accumulated in doubles.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TensorInfo, WasmBackend, f32 } from './heap';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

const channelsOf = (info: TensorInfo) => info.shape[info.shape.length - 1];

export function batchNormTraining(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { x: xInfo, scale: scaleInfo, offset: offsetInfo } = args.inputs as Record<string, TensorInfo>;
  const { epsilon } = args.attrs as { epsilon: number };
  const channels = channelsOf(xInfo);
  const yInfo = backend.makeOutput(xInfo.shape, 'float32');
  const meanInfo = backend.makeOutput([channels], 'float32');
  const varianceInfo = backend.makeOutput([channels], 'float32');
  const [x, y, scale, offset, mean, variance] = [xInfo, yInfo, scaleInfo, offsetInfo, meanInfo, varianceInfo].map((i) => f32(backend, i));

  const sum = new Float64Array(channels);
  const sumSquares = new Float64Array(channels);
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const v = x[base + c];
      sum[c] += v;
      sumSquares[c] += v * v;
    }
  }
  const count = x.length / channels;
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = sum[c] / count;
    const v = Math.max(sumSquares[c] / count - m * m, 0);
    mean[c] = m;
    variance[c] = v;
    a[c] = scale[c] / Math.sqrt(v + epsilon);
    b[c] = offset[c] - m * a[c];
  }
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) y[base + c] = x[base + c] * a[c] + b[c];
  }
  return [yInfo, meanInfo, varianceInfo];
}

/**
 * With r = 1/√(var + ε) and x̂ = (x − mean)·r: dOffset = Σdy, dScale = Σ dy·x̂, and
 * dx = scale·r/M · (M·dy − dOffset − x̂·dScale), the gradient through the batch statistics too.
 */
export function batchNormTrainingGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { dy: dyInfo, x: xInfo, mean: meanInfo, variance: varianceInfo, scale: scaleInfo } = args.inputs as Record<string, TensorInfo>;
  const { epsilon } = args.attrs as { epsilon: number };
  const channels = channelsOf(xInfo);
  const dxInfo = backend.makeOutput(xInfo.shape, 'float32');
  const dScaleInfo = backend.makeOutput([channels], 'float32');
  const dOffsetInfo = backend.makeOutput([channels], 'float32');
  const [dy, x, mean, variance, scale, dx, dScale, dOffset] = [dyInfo, xInfo, meanInfo, varianceInfo, scaleInfo, dxInfo, dScaleInfo, dOffsetInfo].map((i) => f32(backend, i));

  const sumDy = new Float64Array(channels);
  const sumDyX = new Float64Array(channels);
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[base + c];
      sumDy[c] += g;
      sumDyX[c] += g * x[base + c];
    }
  }
  const count = x.length / channels;
  const k1 = new Float32Array(channels);
  const k2 = new Float32Array(channels);
  const k3 = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const r = 1 / Math.sqrt(variance[c] + epsilon);
    const gradScale = r * (sumDyX[c] - mean[c] * sumDy[c]);
    dScale[c] = gradScale;
    dOffset[c] = sumDy[c];
    // dx = k1·dy + k2·x + k3
    k1[c] = scale[c] * r;
    k2[c] = (-scale[c] * r * r * gradScale) / count;
    k3[c] = (-scale[c] * r * sumDy[c]) / count - k2[c] * mean[c];
  }
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) dx[base + c] = k1[c] * dy[base + c] + k2[c] * x[base + c] + k3[c];
  }
  return [dxInfo, dScaleInfo, dOffsetInfo];
}

function maskedGradient(args: KernelArgs, upper: number): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy: dyInfo, x: xInfo } = args.inputs as Record<string, TensorInfo>;
  const dxInfo = backend.makeOutput(xInfo.shape, 'float32');
  const [dy, x, dx] = [dyInfo, xInfo, dxInfo].map((i) => f32(backend, i));
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (Number(v > 0) & Number(v <= upper)); // branch-free: signs are random, mispredictions cost 3×
  }
  return dxInfo;
}

export const relu6Grad = (args: KernelArgs): TensorInfo => maskedGradient(args, 6);
export const reluGrad = (args: KernelArgs): TensorInfo => maskedGradient(args, Infinity);
