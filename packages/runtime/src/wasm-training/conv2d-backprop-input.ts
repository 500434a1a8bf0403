/**
 * Conv2DBackpropInput on wasm as GEMMs (tfjs' own wasm kernel is a direct loop, ~10× slower here).
 * 1×1 stride 1: dX[NHW, Cin] = dY[NHW, Cout] · Wᵀ[Cout, Cin]. Otherwise the patch gradients
 * dY · Wᵀ [N·Ho·Wo, kh·kw·Cin] are scattered back onto the input (col2im).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DInfo, convInfo, isPlainPointwise } from './conv-geometry';
import { TensorInfo, WasmBackend, dispose, f32, matMul, transpose2d, withShape } from './heap';

interface Attrs {
  strides: [number, number] | number;
  pad: unknown;
  dataFormat?: string;
  dimRoundingMode?: string;
  inputShape: [number, number, number, number];
}

export function conv2dBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as Attrs;
  const info = convInfo('Conv2DBackpropInput', attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, attrs.dataFormat);
  const [kh, kw, cin, cout] = filter.shape;
  const rows = kh * kw * cin;
  const positions = info.batchSize * info.outHeight * info.outWidth;
  const filterT = transpose2d(backend, filter, rows, cout);
  const patchGrads = matMul(backend, dy, filterT, positions, cout, rows);
  dispose(backend, filterT);
  if (isPlainPointwise(info)) return withShape(patchGrads, attrs.inputShape);
  const dx = col2im(backend, patchGrads, info);
  dispose(backend, patchGrads);
  return dx;
}

function col2im(backend: WasmBackend, colsInfo: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const out = backend.makeOutput([batchSize, inHeight, inWidth, inChannels], 'float32');
  const dx = f32(backend, out);
  dx.fill(0);
  const cols = f32(backend, colsInfo);
  const rowLength = filterHeight * filterWidth * inChannels;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  let p = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, p++) {
        for (let i = 0; i < filterHeight; i++) {
          const iy = oy * strideHeight - top + i * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const ix = ox * strideWidth - left + j * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const dxBase = ((n * inHeight + iy) * inWidth + ix) * inChannels;
            const colBase = p * rowLength + (i * filterWidth + j) * inChannels;
            for (let c = 0; c < inChannels; c++) dx[dxBase + c] += cols[colBase + c];
          }
        }
      }
    }
  }
  return out;
}
