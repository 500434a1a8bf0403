/**
 * The second stage's input: each proposal cropped from the stride-16 features and resized to
 * cropSize × cropSize by bilinear crop-and-resize (TF's `tf.image.crop_and_resize` on normalised
 * boxes, as the TF Object Detection API does before its 2×2 max-pool). Differentiable with respect to
 * the features through the gradient `@mobilenets/backbone` registers, so the backbone learns from the
 * second stage's loss; the boxes themselves get no gradient (proposals are constants, as in TF).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cropAndResizeInto, cropSamplePosition, registerCropAndResizeGradient } from '@mobilenets/backbone';

/** Normalised xyxy boxes as the yxyx crop-and-resize takes. */
function yxyxBoxes(proposalsXyxy: ArrayLike<number>, n: number): Float32Array {
  const yxyx = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    yxyx[4 * i] = proposalsXyxy[4 * i + 1];
    yxyx[4 * i + 1] = proposalsXyxy[4 * i];
    yxyx[4 * i + 2] = proposalsXyxy[4 * i + 3];
    yxyx[4 * i + 3] = proposalsXyxy[4 * i + 2];
  }
  return yxyx;
}

/** Crops [proposals, cropSize, cropSize, C] of `features` [B, h, w, C] at normalised xyxy boxes, box i from image boxIndex[i]. */
export function cropProposals(features: tf.Tensor4D, proposalsXyxy: ArrayLike<number>, boxIndex: ArrayLike<number>, cropSize: number): tf.Tensor4D {
  registerCropAndResizeGradient();
  const n = boxIndex.length;
  if (proposalsXyxy.length !== 4 * n) throw new RangeError(`cropProposals: ${n} box indices need ${4 * n} box numbers, received ${proposalsXyxy.length}.`);
  const yxyx = yxyxBoxes(proposalsXyxy, n);
  return tf.tidy(() => tf.image.cropAndResize(features, tf.tensor2d(yxyx, [n, 4]), tf.tensor1d(Int32Array.from(boxIndex), 'int32'), [cropSize, cropSize], 'bilinear', 0));
}

/** Crops of proposals max-pooled on the host, and where each pooled value came from (for the gradient). */
export interface PooledCrops {
  /** [proposals, cropSize / pool, cropSize / pool, C] (NHWC). */
  pooled: Float32Array;
  /** Per pooled value, the window position of its (first) maximum, row-major in the pool × pool window. */
  argmax: Uint8Array;
  shape: [number, number, number, number];
}

function checkPool(cropSize: number, pool: number, what: string): number {
  if (!(Number.isInteger(cropSize) && Number.isInteger(pool) && pool >= 1 && cropSize % pool === 0)) throw new RangeError(`${what}: cropSize (${cropSize}) must be a whole multiple of pool (${pool}).`);
  return cropSize / pool;
}

/**
 * The second stage's input computed on the host, as {@link cropProposals} followed by the model's
 * `pool` × `pool` max-pool (stride `pool`, 'valid') computes it — the same float32 values: each crop by
 * backbone's cropAndResizeInto (tfjs cpu's arithmetic), then the first maximum of each window, as tfjs'
 * MaxPool and its gradient take it. `features` NHWC [B, h, w, C].
 */
export function cropAndPoolProposals(features: Float32Array, featureShape: readonly [number, number, number, number], proposalsXyxy: ArrayLike<number>, boxIndex: ArrayLike<number>, cropSize: number, pool: number): PooledCrops {
  const side = checkPool(cropSize, pool, 'cropAndPoolProposals');
  const n = boxIndex.length;
  if (proposalsXyxy.length !== 4 * n) throw new RangeError(`cropAndPoolProposals: ${n} box indices need ${4 * n} box numbers, received ${proposalsXyxy.length}.`);
  const channels = featureShape[3];
  const yxyx = yxyxBoxes(proposalsXyxy, n);
  const crop = new Float32Array(cropSize * cropSize * channels);
  const pooled = new Float32Array(n * side * side * channels);
  const argmax = new Uint8Array(pooled.length);
  for (let r = 0; r < n; r++) {
    crop.fill(0);
    cropAndResizeInto(features, yxyx.subarray(4 * r, 4 * r + 4), [boxIndex[r]], featureShape, [cropSize, cropSize], 'bilinear', 0, crop);
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        const o = ((r * side + i) * side + j) * channels;
        if (pool === 2) {
          // The common 2×2 window unrolled: one pass over the four values of each channel.
          const f0 = ((2 * i) * cropSize + 2 * j) * channels;
          const f1 = f0 + channels;
          const f2 = f0 + cropSize * channels;
          const f3 = f2 + channels;
          for (let c = 0; c < channels; c++) {
            let m = crop[f0 + c];
            let k = 0;
            const v1 = crop[f1 + c];
            if (v1 > m) { m = v1; k = 1; }
            const v2 = crop[f2 + c];
            if (v2 > m) { m = v2; k = 2; }
            const v3 = crop[f3 + c];
            if (v3 > m) { m = v3; k = 3; }
            pooled[o + c] = m;
            argmax[o + c] = k;
          }
          continue;
        }
        for (let k = 0; k < pool * pool; k++) {
          const from = ((i * pool + Math.floor(k / pool)) * cropSize + j * pool + (k % pool)) * channels;
          for (let c = 0; c < channels; c++) {
            const v = crop[from + c];
            if (k === 0 || v > pooled[o + c]) {
              pooled[o + c] = v;
              argmax[o + c] = k;
            }
          }
        }
      }
    }
  }
  return { pooled, argmax, shape: [n, side, side, channels] };
}

/**
 * The gradient of {@link cropAndPoolProposals} with respect to the features: each pooled value's gradient
 * goes to its window's maximum, then through crop-and-resize's gradient (the sample's four bilinear
 * neighbours, at backbone's cropSamplePosition, as cropAndResizeGradImageInto spreads it) onto the
 * features — only the maxima's samples, a quarter of a 2×2-pooled crop's. Returns [B, h, w, C] (NHWC) values.
 */
export function cropAndPoolGradient(dPooled: Float32Array, crops: PooledCrops, proposalsXyxy: ArrayLike<number>, boxIndex: ArrayLike<number>, featureShape: readonly [number, number, number, number], cropSize: number, pool: number): Float32Array {
  const side = checkPool(cropSize, pool, 'cropAndPoolGradient');
  const n = boxIndex.length;
  const channels = featureShape[3];
  if (dPooled.length !== crops.pooled.length || crops.shape[0] !== n || crops.shape[1] !== side || crops.shape[3] !== channels) {
    throw new RangeError(`cropAndPoolGradient: ${dPooled.length} gradient values for crops of shape [${crops.shape}]; expected ${n} proposals of ${side}×${side}×${channels}.`);
  }
  const [batch, height, width] = featureShape;
  const out = new Float32Array(featureShape.reduce((a, b) => a * b, 1));
  // Per crop row and column: the sample's two neighbours and weight (as cropAndResizeGradImageInto takes them), −1 outside the map.
  const rows = { low: new Int32Array(cropSize), high: new Int32Array(cropSize), weight: new Float64Array(cropSize) };
  const cols = { low: new Int32Array(cropSize), high: new Int32Array(cropSize), weight: new Float64Array(cropSize) };
  const samples = (lo: number, hi: number, size: number, into: typeof rows) => {
    for (let i = 0; i < cropSize; i++) {
      const p = cropSamplePosition(lo, hi, i, cropSize, size);
      const inside = p >= 0 && p <= size - 1;
      into.low[i] = inside ? Math.floor(p) : -1;
      into.high[i] = inside ? Math.ceil(p) : -1;
      into.weight[i] = inside ? p - Math.floor(p) : 0;
    }
  };
  for (let r = 0; r < n; r++) {
    const b = boxIndex[r];
    if (!(Number.isInteger(b) && b >= 0 && b < batch)) throw new RangeError(`cropAndPoolGradient: box ${r} names image ${b}; expected an index in [0, ${batch}).`);
    // xyxy → the y and x extents.
    samples(proposalsXyxy[4 * r + 1], proposalsXyxy[4 * r + 3], height, rows);
    samples(proposalsXyxy[4 * r], proposalsXyxy[4 * r + 2], width, cols);
    const base = b * height * width * channels;
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        const o = ((r * side + i) * side + j) * channels;
        for (let c = 0; c < channels; c++) {
          const k = crops.argmax[o + c];
          const y = i * pool + Math.floor(k / pool);
          const x = j * pool + (k % pool);
          const top = rows.low[y];
          const left = cols.low[x];
          if (top < 0 || left < 0) continue;
          const d = dPooled[o + c];
          const ly = rows.weight[y];
          const lx = cols.weight[x];
          const bottom = rows.high[y];
          const right = cols.high[x];
          out[base + (top * width + left) * channels + c] += d * (1 - ly) * (1 - lx);
          out[base + (top * width + right) * channels + c] += d * (1 - ly) * lx;
          out[base + (bottom * width + left) * channels + c] += d * ly * (1 - lx);
          out[base + (bottom * width + right) * channels + c] += d * ly * lx;
        }
      }
    }
  }
  return out;
}
