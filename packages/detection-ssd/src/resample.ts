/**
 * Image resampling for detector inference in plain TypeScript (no tfjs, no sharp), so that a detector
 * preprocesses images the same way whatever runs its network (tfjs or onnxruntime):
 *
 *   lanczos3   what sharp's `resize(w, h, { fit: 'fill' })` (libvips `vips_resize`, default kernel)
 *              does, which is how @mobilenets/datasets resizes training and evaluation images:
 *              shrinking an axis: a Lanczos-3 filter widened by the shrink factor (anti-aliased),
 *              centre-aligned (output pixel i ← input (i + ½)·s − ½), vertical pass first, each pass
 *              rounded to 8 bits; enlarging either axis: Catmull-Rom bicubic on BOTH axes with input
 *              coordinate i·in/out − ½ (libvips' affine upsize; an axis of equal size is then shifted
 *              by half a pixel, as libvips does), edges replicated.
 *              Not bit-exact: libvips box-shrinks large factors first and filters in fixed point.
 *              Measured against sharp 0.35 (libvips 8.18) on face-api's sample photos (detector.test.ts):
 *              shrinking 1920 → 128…512, at most 11 levels (of 255) apart, 0.7 on average;
 *              enlarging or mixed, at most 2 levels, 0.2 on average.
 *   bilinear   tf.image.resizeBilinear with alignCorners false and halfPixelCenters false (input
 *              coordinate i·in/out, no anti-aliasing), unrounded: face-api's preprocessing.
 */

/** An image as bytes, row-major: RGB (3 channels, the default) or RGBA (4). */
export interface PixelImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 3 | 4;
}

export type Interpolation = 'lanczos3' | 'bilinear';

/**
 * The image's RGB bytes (the input itself when it is RGB already). RGBA is composited onto black,
 * round(c · a / 255), as @mobilenets/datasets' decoder does by default. Throws naming `what`.
 */
export function rgbBytes(image: PixelImage, what = 'image'): Uint8Array | Uint8ClampedArray {
  if (image === null || typeof image !== 'object') throw new TypeError(`${what}: expected { data, width, height, channels? }. Received ${String(image)}.`);
  const { data, width, height, channels = 3 } = image;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new TypeError(`${what}: data must be a Uint8Array or Uint8ClampedArray of 8-bit values. Received ${Object.prototype.toString.call(data)}.`);
  }
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`${what}: width and height must be positive integers. Received ${width} × ${height}.`);
  }
  if (channels !== 3 && channels !== 4) throw new RangeError(`${what}: channels must be 3 (RGB) or 4 (RGBA). Received ${String(channels)}.`);
  if (data.length !== width * height * channels) {
    throw new RangeError(`${what}: a ${width} × ${height} image with ${channels} channels has ${width * height * channels} bytes, received ${data.length}.`);
  }
  if (channels === 3) return data;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const alpha = data[4 * p + 3];
    for (let c = 0; c < 3; c++) rgb[3 * p + c] = Math.round((data[4 * p + c] * alpha) / 255);
  }
  return rgb;
}

/** One output index's taps: input indices (edges clamped) and weights, flattened. */
interface Taps {
  start: Int32Array; // outSize + 1 offsets into index / weight
  index: Int32Array;
  weight: Float64Array;
}

function buildTaps(outSize: number, inSize: number, tapsOf: (i: number) => [number, number][]): Taps {
  const all = Array.from({ length: outSize }, (_, i) => tapsOf(i));
  const start = new Int32Array(outSize + 1);
  all.forEach((t, i) => (start[i + 1] = start[i] + t.length));
  const index = new Int32Array(start[outSize]);
  const weight = new Float64Array(start[outSize]);
  all.forEach((t, i) => t.forEach(([j, w], k) => {
    index[start[i] + k] = Math.min(inSize - 1, Math.max(0, j));
    weight[start[i] + k] = w;
  }));
  return { start, index, weight };
}

function lanczos3(x: number): number {
  const a = Math.abs(x);
  if (a >= 3) return 0;
  if (a < 1e-12) return 1;
  const px = Math.PI * a;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** Catmull-Rom (Keys' cubic with a = −½), libvips' bicubic interpolator. */
function catmullRom(x: number): number {
  const a = Math.abs(x);
  if (a < 1) return (1.5 * a - 2.5) * a * a + 1;
  if (a < 2) return ((-0.5 * a + 2.5) * a - 4) * a + 2;
  return 0;
}

/** Anti-aliased Lanczos-3 shrink taps, centre-aligned, normalised to sum 1. */
function shrinkTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const support = 3 * scale;
  return buildTaps(outSize, inSize, (i) => {
    const centre = (i + 0.5) * scale - 0.5;
    const taps: [number, number][] = [];
    let sum = 0;
    for (let j = Math.ceil(centre - support); j <= Math.floor(centre + support); j++) {
      const w = lanczos3((j - centre) / scale);
      if (w === 0) continue;
      taps.push([j, w]);
      sum += w;
    }
    return taps.map(([j, w]) => [j, w / sum]);
  });
}

/** Catmull-Rom taps at input coordinate i·in/out − ½ (libvips' upsize). */
function enlargeTaps(inSize: number, outSize: number): Taps {
  const step = inSize / outSize;
  return buildTaps(outSize, inSize, (i) => {
    const x = i * step - 0.5;
    const x0 = Math.floor(x);
    const taps: [number, number][] = [];
    for (let j = x0 - 1; j <= x0 + 2; j++) {
      const w = catmullRom(j - x);
      if (w !== 0) taps.push([j, w]);
    }
    return taps;
  });
}

type Plane = Uint8Array | Uint8ClampedArray | Float64Array;

/** Filters the rows (vertical) of a width × height × 3 image: out row y = Σ weight · in row index. */
function vertical(src: Plane, width: number, taps: Taps, outHeight: number, out: Float64Array): void {
  const rowLength = width * 3;
  const acc = new Float64Array(rowLength);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(0);
    for (let t = taps.start[y]; t < taps.start[y + 1]; t++) {
      const w = taps.weight[t];
      const row = taps.index[t] * rowLength;
      for (let k = 0; k < rowLength; k++) acc[k] += w * src[row + k];
    }
    out.set(acc, y * rowLength);
  }
}

/** Filters the columns (horizontal) of a width × height × 3 image. */
function horizontal(src: Plane, width: number, height: number, taps: Taps, outWidth: number, out: Float64Array): void {
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    const outRow = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = taps.start[x]; t < taps.start[x + 1]; t++) {
        const w = taps.weight[t];
        const p = row + taps.index[t] * 3;
        r += w * src[p];
        g += w * src[p + 1];
        b += w * src[p + 2];
      }
      out[outRow + 3 * x] = r;
      out[outRow + 3 * x + 1] = g;
      out[outRow + 3 * x + 2] = b;
    }
  }
}

/** Rounds to the nearest integer (halves up) and clamps to [0, 255]. */
function round8(values: Float64Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.floor(values[i] + 0.5);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

function checkSize(what: string, outWidth: number, outHeight: number): void {
  if (!(Number.isInteger(outWidth) && outWidth > 0 && Number.isInteger(outHeight) && outHeight > 0)) {
    throw new RangeError(`${what}: the output size must be positive integers. Received ${outWidth} × ${outHeight}.`);
  }
}

/**
 * RGB bytes resized to outWidth × outHeight as sharp's `resize(outWidth, outHeight, { fit: 'fill' })`
 * does (see the file comment for how closely): 8-bit RGB, row-major.
 */
export function resizeLanczos3(rgb: Uint8Array | Uint8ClampedArray, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  checkSize('resizeLanczos3', outWidth, outHeight);
  rgbBytes({ data: rgb, width, height }, 'resizeLanczos3');
  let image: Uint8Array | Uint8ClampedArray = rgb;
  let w = width;
  let h = height;
  // Shrinking first (libvips: reducev, then reduceh), each pass rounded to 8 bits.
  if (outHeight < h) {
    const out = new Float64Array(w * outHeight * 3);
    vertical(image, w, shrinkTaps(h, outHeight), outHeight, out);
    image = round8(out);
    h = outHeight;
  }
  if (outWidth < w) {
    const out = new Float64Array(outWidth * h * 3);
    horizontal(image, w, h, shrinkTaps(w, outWidth), outWidth, out);
    image = round8(out);
    w = outWidth;
  }
  // Then any enlarging: one bicubic pass over both axes.
  if (outWidth > w || outHeight > h) {
    const columns = new Float64Array(outWidth * h * 3);
    horizontal(image, w, h, enlargeTaps(w, outWidth), outWidth, columns);
    const out = new Float64Array(outWidth * outHeight * 3);
    vertical(columns, outWidth, enlargeTaps(h, outHeight), outHeight, out);
    return round8(out);
  }
  return image === rgb ? Uint8Array.from(rgb) : (image as Uint8Array);
}

/**
 * RGB bytes resized to outWidth × outHeight as tf.image.resizeBilinear(images, size, false, false)
 * does: input coordinate i·in/out, the two nearest pixels on each axis (the last one repeated at the
 * edge), unrounded values in [0, 255].
 */
export function resizeBilinear(rgb: Uint8Array | Uint8ClampedArray, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  checkSize('resizeBilinear', outWidth, outHeight);
  rgbBytes({ data: rgb, width, height }, 'resizeBilinear');
  const out = new Float32Array(outWidth * outHeight * 3);
  const xScale = width / outWidth;
  const yScale = height / outHeight;
  for (let y = 0; y < outHeight; y++) {
    const sy = y * yScale;
    const y0 = Math.floor(sy);
    const y1 = Math.min(height - 1, Math.ceil(sy));
    const dy = sy - y0;
    for (let x = 0; x < outWidth; x++) {
      const sx = x * xScale;
      const x0 = Math.floor(sx);
      const x1 = Math.min(width - 1, Math.ceil(sx));
      const dx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const topLeft = rgb[(y0 * width + x0) * 3 + c];
        const topRight = rgb[(y0 * width + x1) * 3 + c];
        const bottomLeft = rgb[(y1 * width + x0) * 3 + c];
        const bottomRight = rgb[(y1 * width + x1) * 3 + c];
        const top = topLeft + (topRight - topLeft) * dx;
        const bottom = bottomLeft + (bottomRight - bottomLeft) * dx;
        out[(y * outWidth + x) * 3 + c] = top + (bottom - top) * dy;
      }
    }
  }
  return out;
}

/** The image in the top-left corner of a side × side black square (zeros at the bottom or right). */
export function padToSquare(rgb: Uint8Array | Uint8ClampedArray, width: number, height: number): { rgb: Uint8Array | Uint8ClampedArray; side: number } {
  const side = Math.max(width, height);
  if (side === width && side === height) return { rgb, side };
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < height; y++) out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * side * 3);
  return { rgb: out, side };
}
