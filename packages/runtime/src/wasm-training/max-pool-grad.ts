/**
 * MaxPoolGrad for the wasm backend, on views of the heap: each window's gradient goes to its first
 * largest input (row-major order in the window, as tfjs' cpu kernel and TF pick), summed where windows
 * overlap. Channels run innermost, so every read is contiguous. (tfjs' own wasm MaxPoolGrad took 227 ms
 * of a 1.5 s Faster R-CNN training step, for the 2×2 max-pool of 256 crops of 14×14×288.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { TensorInfo, WasmBackend, f32 } from './heap';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

export function maxPoolGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, input } = args.inputs as Record<string, TensorInfo>;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const out = backend.makeOutput([...input.shape], 'float32');
  // Views after the last allocation: growing the heap detaches earlier ones.
  const dx = f32(backend, out);
  dx.fill(0);
  maxPoolGradInto(f32(backend, input), f32(backend, dy), info, dx);
  return out;
}

/** The loop itself, on host arrays: x [B, H, W, C], dy [B, outH, outW, C] → dx [B, H, W, C] (zeroed by the caller). */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  if (filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 && top === 0 && left === 0) {
    pool2x2GradInto(x, dy, info, dx);
    return;
  }
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        best.fill(-Infinity);
        at.fill(-1);
        for (let fy = 0; fy < filterHeight; fy++) {
          const y = y0 + fy;
          if (y < 0 || y >= inHeight) continue;
          for (let fx = 0; fx < filterWidth; fx++) {
            const xx = x0 + fx;
            if (xx < 0 || xx >= inWidth) continue;
            const base = image + (y * inWidth + xx) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              // Strictly greater: ties keep the first; a NaN window keeps its first position (at < 0).
              if (v > best[k] || at[k] < 0) {
                best[k] = v;
                at[k] = base + k;
              }
            }
          }
        }
        const row = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let k = 0; k < c; k++) if (at[k] >= 0) dx[at[k]] += dy[row + k];
      }
    }
  }
}

/** The 2×2, stride-2 case without padding (Faster R-CNN's crop pool): windows do not overlap, four compares a value. */
function pool2x2GradInto(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const rowStride = inWidth * c;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const p00 = ((b * inHeight + 2 * oy) * inWidth + 2 * ox) * c;
        const p01 = p00 + c;
        const p10 = p00 + rowStride;
        const p11 = p10 + c;
        const row = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let k = 0; k < c; k++) {
          // Row-major first of the largest: (0,0), (0,1), (1,0), (1,1); a NaN first value keeps (0,0).
          let at = p00 + k;
          let best = x[at];
          if (x[p01 + k] > best) {
            at = p01 + k;
            best = x[at];
          }
          if (x[p10 + k] > best) {
            at = p10 + k;
            best = x[at];
          }
          if (x[p11 + k] > best) at = p11 + k;
          dx[at] += dy[row + k];
        }
      }
    }
  }
}
