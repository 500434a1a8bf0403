/**
 * Gradients of the depthwise convolution on wasm.
 *
 * Input gradient: at stride 1 with channel multiplier 1 (9 of V1's 13 depthwise layers, 10 of V2's 17)
 * it is itself a depthwise convolution — of dY with the filter turned 180°, padded by (k − 1 − pad) —
 * so XNNPACK computes it. Strided layers scatter dY through the filter, one filter tap at a time.
 * Filter gradient: a correlation of X with dY per channel and filter tap.
 * With channel multiplier 1 both loops run as WebAssembly SIMD kernels once `initWasmSimdKernels()` has
 * resolved (simd/), else (and for other multipliers) as JavaScript loops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DInfo, convInfo } from './conv-geometry';
import { TensorInfo, WasmBackend, byteOffset, dispose, f32, runWasmKernel } from './heap';
import { GridOperand, Scratch, axpyGrid, reduceGrid } from './simd/calls';
import { SimdExports, simdExports } from './simd/module';

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

/**
 * The output positions (oy, ox) whose filter tap (i, j) reads an input pixel inside the image: a
 * rectangle, with the input position of its first corner. Rows: oy·strideH − top + i·dilationH ∈ [0, H).
 */
interface TapWindow {
  oy: number;
  ox: number;
  rows: number;
  cols: number;
  iy: number;
  ix: number;
}

function tapWindow(info: Conv2DInfo, i: number, j: number): TapWindow {
  const range = (offset: number, stride: number, inSize: number, outSize: number) => {
    const first = Math.max(0, Math.ceil(-offset / stride));
    const end = Math.min(outSize, Math.floor((inSize - 1 - offset) / stride) + 1);
    return [first, Math.max(0, end - first), first * stride + offset];
  };
  const [oy, rows, iy] = range(i * info.dilationHeight - info.padInfo.top, info.strideHeight, info.inHeight, info.outHeight);
  const [ox, cols, ix] = range(j * info.dilationWidth - info.padInfo.left, info.strideWidth, info.inWidth, info.outWidth);
  return { oy, ox, rows, cols, iy, ix };
}

/** Grid operands over image n of dY (at the window's output positions) and of X or dX (at the input positions the tap reads). */
function tapOperands(info: Conv2DInfo, n: number, win: TapWindow, dyPtr: number, xPtr: number): { dy: GridOperand; x: GridOperand } {
  const { inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const pixel = channels * 4;
  return {
    dy: { ptr: dyPtr + ((n * outHeight + win.oy) * outWidth + win.ox) * pixel, rowStride: outWidth * pixel, colStride: pixel },
    x: { ptr: xPtr + ((n * inHeight + win.iy) * inWidth + win.ix) * pixel, rowStride: strideHeight * inWidth * pixel, colStride: strideWidth * pixel },
  };
}

function inputGradientByScatter(backend: WasmBackend, dyInfo: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
  const simd = simdExports(backend);
  if (simd && info.outChannels === info.inChannels) return inputGradientByScatterSimd(simd, backend, dyInfo, filter, info);
  return inputGradientByScatterJs(backend, dyInfo, filter, info);
}

/** dX[n, iy, ix, c] += dY[n, oy, ox, c] · W[i, j, c] for each image and tap, over the tap's window. */
function inputGradientByScatterSimd(simd: SimdExports, backend: WasmBackend, dyInfo: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: channels, filterHeight, filterWidth } = info;
  const out = backend.makeOutput([batchSize, inHeight, inWidth, channels], 'float32');
  f32(backend, out).fill(0);
  const [dxPtr, dyPtr, wPtr] = [out, dyInfo, filter].map((t) => byteOffset(backend, t));
  for (let n = 0; n < batchSize; n++) {
    for (let i = 0; i < filterHeight; i++) {
      for (let j = 0; j < filterWidth; j++) {
        const win = tapWindow(info, i, j);
        const { dy, x: dx } = tapOperands(info, n, win, dyPtr, dxPtr);
        axpyGrid(simd, dx, dy, wPtr + (i * filterWidth + j) * channels * 4, win.rows, win.cols, channels);
      }
    }
  }
  return out;
}

function inputGradientByScatterJs(backend: WasmBackend, dyInfo: TensorInfo, filter: TensorInfo, info: Conv2DInfo): TensorInfo {
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
  const simd = simdExports(backend);
  if (simd && multiplier === 1) return filterGradientSimd(simd, backend, xInfo, dyInfo, info, out);
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

/**
 * dW[i, j, c] = Σ over images and the tap's window of X[n, iy, ix, c] · dY[n, oy, ox, c], summed per
 * window row in f32 and across rows in f64 (scratch [kh·kw, C] doubles). Image-major, so one image's X
 * and dY stay in cache while the taps run over them.
 */
function filterGradientSimd(simd: SimdExports, backend: WasmBackend, xInfo: TensorInfo, dyInfo: TensorInfo, info: Conv2DInfo, out: TensorInfo): TensorInfo {
  const { batchSize, inChannels: channels, filterHeight, filterWidth } = info;
  const taps = filterHeight * filterWidth;
  const scratch = new Scratch(backend, [8 * taps * channels]);
  const [sums] = scratch.parts;
  scratch.f64(sums, taps * channels).fill(0);
  const [xPtr, dyPtr] = [xInfo, dyInfo].map((t) => byteOffset(backend, t));
  const windows = Array.from({ length: taps }, (_, k) => tapWindow(info, Math.floor(k / filterWidth), k % filterWidth));
  for (let n = 0; n < batchSize; n++) {
    windows.forEach((win, k) => {
      const { dy, x } = tapOperands(info, n, win, dyPtr, xPtr);
      reduceGrid(simd, 'dot', dy, x, [], [sums + 8 * k * channels], win.rows, win.cols, channels);
    });
  }
  f32(backend, out).set(scratch.f64(sums, taps * channels));
  scratch.dispose();
  return out;
}
