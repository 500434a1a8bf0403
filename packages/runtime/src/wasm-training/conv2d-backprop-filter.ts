/**
 * Conv2DBackpropFilter on wasm: dW = patchesᵀ · dY, one XNNPACK GEMM.
 *
 * A 1×1 stride-1 convolution's patches are its input, so dW[Cin, Cout] = Xᵀ[Cin, NHW] · dY[NHW, Cout]
 * (the paper's point: 95% of MobileNet is such GEMMs). Any other convolution first writes the transposed
 * im2col matrix [kh·kw·Cin, N·Ho·Wo] and multiplies it the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DInfo, convInfo, isPlainPointwise } from './conv-geometry';
import { TensorInfo, WasmBackend, dispose, f32, matMul, transpose2d, withShape } from './heap';

interface Attrs {
  strides: [number, number] | number;
  pad: unknown;
  dataFormat?: string;
  dimRoundingMode?: string;
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as Attrs;
  const info = convInfo('Conv2DBackpropFilter', x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, attrs.dataFormat);
  const [kh, kw, cin, cout] = attrs.filterShape;
  const positions = info.batchSize * info.outHeight * info.outWidth;
  const rows = kh * kw * cin;

  const patchesT = isPlainPointwise(info) ? transpose2d(backend, x, positions, cin) : im2colTransposed(backend, x, info);
  const dw = matMul(backend, patchesT, dy, rows, positions, cout);
  dispose(backend, patchesT);
  return withShape(dw, attrs.filterShape);
}

/** [kh·kw·Cin, N·Ho·Wo]: row (i, j, c) holds input pixel (i, j) of every output position's window, channel c. */
export function im2colTransposed(backend: WasmBackend, x: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const positions = batchSize * outHeight * outWidth;
  const out = backend.makeOutput([filterHeight * filterWidth * inChannels, positions], 'float32');
  const cols = f32(backend, out);
  const input = f32(backend, x);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let i = 0; i < filterHeight; i++) {
    for (let j = 0; j < filterWidth; j++) {
      for (let c = 0; c < inChannels; c++) {
        const rowBase = ((i * filterWidth + j) * inChannels + c) * positions;
        let p = 0;
        for (let n = 0; n < batchSize; n++) {
          const imageBase = n * inHeight * inWidth * inChannels;
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * strideHeight - top + i * dilationHeight;
            const rowInside = iy >= 0 && iy < inHeight;
            const lineBase = imageBase + iy * inWidth * inChannels + c;
            for (let ox = 0; ox < outWidth; ox++, p++) {
              const ix = ox * strideWidth - left + j * dilationWidth;
              cols[rowBase + p] = rowInside && ix >= 0 && ix < inWidth ? input[lineBase + ix * inChannels] : 0;
            }
          }
        }
      }
    }
  }
  return out;
}
