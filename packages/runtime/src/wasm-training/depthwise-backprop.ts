/**
 * Gradients of the depthwise convolution on wasm.
 *
 * Input gradient: at stride 1 with channel multiplier 1 (9 of V1's 13 depthwise layers, 10 of V2's 17)
 * it is itself a depthwise convolution — of dY with the filter turned 180°, padded by (k − 1 − pad) —
 * so XNNPACK computes it. Strided layers scatter dY through the filter in a loop over channels.
 * Filter gradient: a correlation of X with dY per channel, accumulated in a loop over channels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DInfo, convInfo } from './conv-geometry';
import { TensorInfo, WasmBackend, dispose, f32, runWasmKernel } from './heap';

interface InputAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: unknown;
  dimRoundingMode?: string;
  inputShape: [number, number, number, number];
}

interface FilterAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: unknown;
  dimRoundingMode?: string;
  filterShape: [number, number, number, number];
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

export function depthwiseConv2dBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as InputAttrs;
  const info = convInfo('DepthwiseConv2dNativeBackpropInput', attrs.inputShape, filter.shape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  if (info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 && filter.shape[3] === 1) {
    return inputGradientAsConvolution(backend, dy, filter, info);
  }
  return inputGradientByScatter(backend, dy, filter, info);
}

function inputGradientAsConvolution(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: channels } = info;
  const rotatedInfo = backend.makeOutput(filter.shape, 'float32');
  const rotated = f32(backend, rotatedInfo);
  const w = f32(backend, filter);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = (i * kw + j) * channels;
      const to = ((kh - 1 - i) * kw + (kw - 1 - j)) * channels;
      rotated.set(w.subarray(from, from + channels), to);
    }
  }
  const p = info.padInfo;
  const pad = [[0, 0], [kh - 1 - p.top, kh - 1 - p.bottom], [kw - 1 - p.left, kw - 1 - p.right], [0, 0]];
  const dx = runWasmKernel('DepthwiseConv2dNative', backend, { x: dy, filter: rotatedInfo }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC' });
  dispose(backend, rotatedInfo);
  return dx;
}

function inputGradientByScatter(backend: WasmBackend, dyInfo: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = outChannels / inChannels;
  const out = backend.makeOutput([batchSize, inHeight, inWidth, inChannels], 'float32');
  const dx = f32(backend, out);
  dx.fill(0);
  const dy = f32(backend, dyInfo);
  const w = f32(backend, filter);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((n * outHeight + oy) * outWidth + ox) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const iy = oy * strideHeight - top + i * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const ix = ox * strideWidth - left + j * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const dxBase = ((n * inHeight + iy) * inWidth + ix) * inChannels;
            const wBase = (i * filterWidth + j) * outChannels;
            if (multiplier === 1) {
              for (let c = 0; c < inChannels; c++) dx[dxBase + c] += dy[dyBase + c] * w[wBase + c];
            } else {
              for (let c = 0; c < inChannels; c++) {
                let sum = 0;
                for (let q = 0; q < multiplier; q++) sum += dy[dyBase + c * multiplier + q] * w[wBase + c * multiplier + q];
                dx[dxBase + c] += sum;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

export function depthwiseConv2dBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x: xInfo, dy: dyInfo } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as FilterAttrs;
  const info = convInfo('DepthwiseConv2dNativeBackpropFilter', xInfo.shape, attrs.filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = outChannels / inChannels;
  const out = backend.makeOutput(attrs.filterShape, 'float32');
  const dw = f32(backend, out);
  const x = f32(backend, xInfo);
  const dy = f32(backend, dyInfo);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Accumulate in doubles: a filter tap sums N·Ho·Wo products (200k for V1 at 224, batch 16).
  const acc = new Float64Array(filterHeight * filterWidth * outChannels);
  for (let i = 0; i < filterHeight; i++) {
    for (let j = 0; j < filterWidth; j++) {
      const accBase = (i * filterWidth + j) * outChannels;
      for (let n = 0; n < batchSize; n++) {
        for (let oy = 0; oy < outHeight; oy++) {
          const iy = oy * strideHeight - top + i * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let ox = 0; ox < outWidth; ox++) {
            const ix = ox * strideWidth - left + j * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const xBase = ((n * inHeight + iy) * inWidth + ix) * inChannels;
            const dyBase = ((n * outHeight + oy) * outWidth + ox) * outChannels;
            if (multiplier === 1) {
              for (let c = 0; c < inChannels; c++) acc[accBase + c] += x[xBase + c] * dy[dyBase + c];
            } else {
              for (let c = 0; c < inChannels; c++) {
                const xv = x[xBase + c];
                for (let q = 0; q < multiplier; q++) acc[accBase + c * multiplier + q] += xv * dy[dyBase + c * multiplier + q];
              }
            }
          }
        }
      }
    }
  }
  for (let k = 0; k < acc.length; k++) dw[k] = acc[k];
  return out;
}
