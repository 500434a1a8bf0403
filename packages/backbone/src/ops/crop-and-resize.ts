/**
 * The gradient of tfjs' `tf.image.cropAndResize` (kernel CropAndResize) with respect to the image, which
 * tfjs does not provide: Faster R-CNN's second stage crops its proposals from the backbone's features,
 * and training needs the backbone to learn through those crops.
 *
 * Geometry (TF's crop_and_resize, which tfjs follows): a box [y1, x1, y2, x2] in normalised coordinates
 * of an image of H × W samples a crop of ch × cw points, output row i at y = y1·(H − 1) + i·(y2 − y1)·(H − 1)/(ch − 1)
 * (the box's centre when ch = 1), columns likewise; a point outside [0, H − 1] × [0, W − 1] takes the
 * extrapolation value and no gradient; inside, the bilinear blend of its four neighbours
 * (floor, ceil). The gradient sends each output's gradient back to those four pixels with the same
 * weights. Only the bilinear method has one.
 *
 * The math is here, on plain arrays; a backend may register a kernel under CROP_AND_RESIZE_GRAD_IMAGE
 * (`@mobilenets/runtime` does for wasm, on the tensors in its heap). Elsewhere it runs on host copies.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Inputs dy [boxes, ch, cw, C] (float32), boxes [boxes, 4] (float32), boxInd [boxes] (int32); attr imageShape [B, H, W, C]. Output dImage. */
export const CROP_AND_RESIZE_GRAD_IMAGE = 'MobileNetsCropAndResizeGradImage';

/** Sample position along an axis of `size` pixels of output index `i` of `n`, for a box spanning [low, high] (normalised). */
export function cropSamplePosition(low: number, high: number, i: number, n: number, size: number): number {
  return n > 1 ? low * (size - 1) + (i * (high - low) * (size - 1)) / (n - 1) : 0.5 * (low + high) * (size - 1);
}

/**
 * The forward crop-and-resize on plain arrays, as tfjs' cpu kernel computes it (same arithmetic, same
 * order, so the same float32 results): `image` NHWC of `imageShape`, `boxes` [boxes, 4] normalised yxyx,
 * `boxIndex` the image of each box (a box naming no image is left as `out` holds it: tfjs leaves zeros),
 * `out` [boxes, cropHeight, cropWidth, C]. Channels run innermost, so reads are contiguous.
 */
export function cropAndResizeInto(
  image: ArrayLike<number>,
  boxes: ArrayLike<number>,
  boxIndex: ArrayLike<number>,
  imageShape: readonly [number, number, number, number],
  cropSize: readonly [number, number],
  method: 'bilinear' | 'nearest',
  extrapolationValue: number,
  out: Float32Array,
): void {
  const [batch, height, width, channels] = imageShape;
  const [cropHeight, cropWidth] = cropSize;
  const count = boxIndex.length;
  if (boxes.length !== 4 * count) throw new RangeError(`cropAndResize: ${count} box indices need ${4 * count} box numbers, received ${boxes.length}.`);
  if (out.length !== count * cropHeight * cropWidth * channels) throw new RangeError(`cropAndResize: out must hold ${count}×${cropHeight}×${cropWidth}×${channels} values, received ${out.length}.`);
  for (let r = 0; r < count; r++) {
    const b = boxIndex[r];
    if (b >= batch) continue;
    const [y1, x1, y2, x2] = [boxes[4 * r], boxes[4 * r + 1], boxes[4 * r + 2], boxes[4 * r + 3]];
    const heightScale = cropHeight > 1 ? ((y2 - y1) * (height - 1)) / (cropHeight - 1) : 0;
    const widthScale = cropWidth > 1 ? ((x2 - x1) * (width - 1)) / (cropWidth - 1) : 0;
    const imageBase = b * height * width * channels;
    for (let i = 0; i < cropHeight; i++) {
      const y = cropHeight > 1 ? y1 * (height - 1) + i * heightScale : 0.5 * (y1 + y2) * (height - 1);
      const rowOut = (r * cropHeight + i) * cropWidth * channels;
      if (y < 0 || y > height - 1) {
        out.fill(extrapolationValue, rowOut, rowOut + cropWidth * channels);
        continue;
      }
      const top = Math.floor(y);
      const bottom = Math.ceil(y);
      const ly = y - top;
      for (let j = 0; j < cropWidth; j++) {
        const x = cropWidth > 1 ? x1 * (width - 1) + j * widthScale : 0.5 * (x1 + x2) * (width - 1);
        const o = rowOut + j * channels;
        if (x < 0 || x > width - 1) {
          out.fill(extrapolationValue, o, o + channels);
          continue;
        }
        if (method === 'nearest') {
          const from = imageBase + (Math.round(y) * width + Math.round(x)) * channels;
          for (let c = 0; c < channels; c++) out[o + c] = image[from + c];
          continue;
        }
        const left = Math.floor(x);
        const right = Math.ceil(x);
        const lx = x - left;
        const tl = imageBase + (top * width + left) * channels;
        const tr = imageBase + (top * width + right) * channels;
        const bl = imageBase + (bottom * width + left) * channels;
        const br = imageBase + (bottom * width + right) * channels;
        for (let c = 0; c < channels; c++) {
          const t = image[tl + c] + (image[tr + c] - image[tl + c]) * lx;
          const u = image[bl + c] + (image[br + c] - image[bl + c]) * lx;
          out[o + c] = t + (u - t) * ly;
        }
      }
    }
  }
}

/**
 * Adds the image gradient of one crop-and-resize to `out` (NHWC, `imageShape`, usually zeroed first).
 * `dy` is [boxes, cropHeight, cropWidth, C] row-major; `boxes` [boxes, 4] normalised yxyx; `boxIndex` the
 * image of each box.
 */
export function cropAndResizeGradImageInto(
  dy: ArrayLike<number>,
  boxes: ArrayLike<number>,
  boxIndex: ArrayLike<number>,
  imageShape: readonly [number, number, number, number],
  cropSize: readonly [number, number],
  out: Float32Array,
): void {
  const [batch, height, width, channels] = imageShape;
  const [cropHeight, cropWidth] = cropSize;
  const count = boxIndex.length;
  if (boxes.length !== 4 * count) throw new RangeError(`cropAndResizeGradImage: ${count} box indices need ${4 * count} box numbers, received ${boxes.length}.`);
  if (dy.length !== count * cropHeight * cropWidth * channels) {
    throw new RangeError(`cropAndResizeGradImage: dy must hold ${count}×${cropHeight}×${cropWidth}×${channels} values, received ${dy.length}.`);
  }
  if (out.length !== batch * height * width * channels) throw new RangeError(`cropAndResizeGradImage: out must hold ${batch}×${height}×${width}×${channels} values, received ${out.length}.`);
  for (let r = 0; r < count; r++) {
    const b = boxIndex[r];
    if (!(Number.isInteger(b) && b >= 0 && b < batch)) throw new RangeError(`cropAndResizeGradImage: box ${r} names image ${b}; expected an index in [0, ${batch}).`);
    const [y1, x1, y2, x2] = [boxes[4 * r], boxes[4 * r + 1], boxes[4 * r + 2], boxes[4 * r + 3]];
    const imageBase = b * height * width * channels;
    for (let i = 0; i < cropHeight; i++) {
      const y = cropSamplePosition(y1, y2, i, cropHeight, height);
      if (!(y >= 0 && y <= height - 1)) continue;
      const top = Math.floor(y);
      const bottom = Math.ceil(y);
      const ly = y - top;
      for (let j = 0; j < cropWidth; j++) {
        const x = cropSamplePosition(x1, x2, j, cropWidth, width);
        if (!(x >= 0 && x <= width - 1)) continue;
        const left = Math.floor(x);
        const right = Math.ceil(x);
        const lx = x - left;
        const g = ((r * cropHeight + i) * cropWidth + j) * channels;
        const tl = imageBase + (top * width + left) * channels;
        const tr = imageBase + (top * width + right) * channels;
        const bl = imageBase + (bottom * width + left) * channels;
        const br = imageBase + (bottom * width + right) * channels;
        const wtl = (1 - ly) * (1 - lx);
        const wtr = (1 - ly) * lx;
        const wbl = ly * (1 - lx);
        const wbr = ly * lx;
        for (let c = 0; c < channels; c++) {
          const d = dy[g + c];
          out[tl + c] += d * wtl;
          out[tr + c] += d * wtr;
          out[bl + c] += d * wbl;
          out[br + c] += d * wbr;
        }
      }
    }
  }
}

/** The image gradient of a crop-and-resize: the backend's kernel when one is registered, else the host loop. */
export function cropAndResizeGradImage(dy: tf.Tensor4D, boxes: tf.Tensor2D, boxIndex: tf.Tensor1D, imageShape: readonly [number, number, number, number]): tf.Tensor4D {
  if (tf.getKernel(CROP_AND_RESIZE_GRAD_IMAGE, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(CROP_AND_RESIZE_GRAD_IMAGE, { dy, boxes, boxInd: boxIndex }, { imageShape: [...imageShape] }) as tf.Tensor4D;
  }
  const out = new Float32Array(imageShape.reduce((a, b) => a * b, 1));
  cropAndResizeGradImageInto(dy.dataSync(), boxes.dataSync(), boxIndex.dataSync(), imageShape, [dy.shape[1], dy.shape[2]], out);
  return tf.tensor4d(out, [...imageShape]);
}

let registered = false;

/** Registers the gradient of tfjs' CropAndResize (image only: boxes and indices get none). Idempotent. */
export function registerCropAndResizeGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.CropAndResize,
    inputsToSave: ['image', 'boxes', 'boxInd'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [image, boxes, boxIndex] = saved;
      if (attrs.method !== undefined && attrs.method !== 'bilinear') {
        throw new RangeError(`cropAndResize: only the bilinear method has a gradient. Received method '${String(attrs.method)}'.`);
      }
      const g = Array.isArray(dy) ? dy[0] : dy;
      return {
        image: () => cropAndResizeGradImage(g as tf.Tensor4D, boxes as tf.Tensor2D, boxIndex as tf.Tensor1D, image.shape as [number, number, number, number]),
        boxes: () => tf.zerosLike(boxes),
        boxInd: () => tf.zerosLike(boxIndex),
      };
    },
  });
}
