/**
 * Training-time augmentation as the MobileNet paper trains: "less regularization and data augmentation
 * techniques because small models have less trouble with overfitting" (V1 §4) — Inception's recipe,
 * milder. One example gets:
 *
 * 1. a random crop covering a fraction of the image area in [minArea, maxArea] = [0.35, 1] (Inception
 *    samples down to 0.08; "limiting the size of small crops"), aspect ratio in [3/4, 4/3], resized to
 *    inputSize × inputSize by sharp (crop and resize in one pass, on the decoded file);
 * 2. a horizontal flip with probability ½;
 * 3. colour jitter only when asked for ({@link MILD_COLOR_JITTER}: brightness + δ with δ uniform in
 *    ±0.125·255, TF-slim's max_delta 32/255; saturation × s and contrast × c with s, c uniform in
 *    [0.8, 1.2], half of TF-slim's [0.5, 1.5]; no hue shift; applied in that order, clipped to [-1, 1]).
 *    It is off by default: on small folders it slowed fitting without helping validation (issue 8;
 *    README, "Defaults on a small folder"), and crop + flip is torchvision's standard recipe.
 *
 * Every draw comes from the caller's seeded generator, so a seed gives identical pixels on every run.
 */
import { decodeRegion, imageSize, type DecodeOptions, type DecodedImage, type Region } from './image-io';
import { mulberry32, uniform, type Random } from '@mobilenets/random';

export interface AugmentOptions {
  /** Smallest crop area as a fraction of the image. Default 0.35. */
  minArea?: number;
  /** Largest crop area as a fraction of the image. Default 1. */
  maxArea?: number;
  /** Range of the crop's width / height. Default [3/4, 4/3]. */
  aspectRatio?: [number, number];
  /** Flip horizontally with probability ½. Default true. */
  flip?: boolean;
  /** Largest brightness shift, in 8-bit units (0 turns it off). Default 0 (MILD_COLOR_JITTER: 0.125 · 255 ≈ 31.9). */
  brightness?: number;
  /** Contrast factor range ([1, 1] turns it off). Default [1, 1] (MILD_COLOR_JITTER: [0.8, 1.2]). */
  contrast?: [number, number];
  /** Saturation factor range ([1, 1] turns it off). Default [1, 1] (MILD_COLOR_JITTER: [0.8, 1.2]). */
  saturation?: [number, number];
}

/** The draws for one example: what {@link augmentImage} applies. */
export interface AugmentParams {
  /** Crop in the oriented image, in pixels. */
  crop: Region;
  /** Mirror left-right. */
  flip: boolean;
  /** Brightness shift in 8-bit units. */
  brightness: number;
  /** Contrast factor around the image mean. */
  contrast: number;
  /** Saturation factor around each pixel's luma. */
  saturation: number;
}

const DEFAULTS: Required<AugmentOptions> = {
  minArea: 0.35,
  maxArea: 1,
  aspectRatio: [3 / 4, 4 / 3],
  flip: true,
  brightness: 0,
  contrast: [1, 1],
  saturation: [1, 1],
};

/** The colour jitter of the paper's (milder) Inception recipe, to pass with the crop options: `{ ...MILD_COLOR_JITTER }`. */
export const MILD_COLOR_JITTER: Pick<Required<AugmentOptions>, 'brightness' | 'contrast' | 'saturation'> = {
  brightness: 0.125 * 255,
  contrast: [0.8, 1.2],
  saturation: [0.8, 1.2],
};

function checkRange(name: string, range: [number, number], low: number): void {
  if (!Array.isArray(range) || range.length !== 2 || !(range[0] >= low) || !(range[1] >= range[0]) || !Number.isFinite(range[1])) {
    throw new RangeError(`augment: ${name} must be [min, max] with ${low} ≤ min ≤ max. Received ${JSON.stringify(range)}.`);
  }
}

/** Options with defaults filled in and checked. */
export function resolveAugmentOptions(options: AugmentOptions = {}): Required<AugmentOptions> {
  const o = { ...DEFAULTS, ...options };
  if (!(o.minArea > 0 && o.minArea <= o.maxArea && o.maxArea <= 1)) {
    throw new RangeError(`augment: need 0 < minArea ≤ maxArea ≤ 1. Received minArea ${o.minArea}, maxArea ${o.maxArea}.`);
  }
  checkRange('aspectRatio', o.aspectRatio, Number.MIN_VALUE);
  checkRange('contrast', o.contrast, 0);
  checkRange('saturation', o.saturation, 0);
  if (!(o.brightness >= 0 && o.brightness <= 255)) throw new RangeError(`augment: brightness must be in [0, 255] (8-bit units). Received ${o.brightness}.`);
  return o;
}

/**
 * A crop of a width × height image with area fraction in [minArea, maxArea] and aspect ratio
 * (log-uniform) in `aspectRatio`, placed uniformly. Ten attempts, then the largest centred crop whose
 * aspect ratio is within range (as Inception's sampler falls back to the centre).
 */
export function sampleCrop(width: number, height: number, random: Random, options: AugmentOptions = {}): Region {
  const { minArea, maxArea, aspectRatio } = resolveAugmentOptions(options);
  const area = width * height;
  const [logLow, logHigh] = [Math.log(aspectRatio[0]), Math.log(aspectRatio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * uniform(random, minArea, maxArea);
    const ratio = Math.exp(uniform(random, logLow, logHigh));
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w >= 1 && h >= 1 && w <= width && h <= height) {
      return { left: Math.floor(random() * (width - w + 1)), top: Math.floor(random() * (height - h + 1)), width: w, height: h };
    }
  }
  const ratio = Math.min(Math.max(width / height, aspectRatio[0]), aspectRatio[1]);
  const w = Math.max(1, Math.min(width, Math.round(height * ratio)));
  const h = Math.max(1, Math.min(height, Math.round(w / ratio)));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** All draws for one example of a width × height image. */
export function sampleAugmentation(width: number, height: number, random: Random, options: AugmentOptions = {}): AugmentParams {
  const o = resolveAugmentOptions(options);
  const crop = sampleCrop(width, height, random, o);
  const flip = o.flip && random() < 0.5;
  const brightness = uniform(random, -o.brightness, o.brightness);
  const saturation = uniform(random, o.saturation[0], o.saturation[1]);
  const contrast = uniform(random, o.contrast[0], o.contrast[1]);
  return { crop, flip, brightness, contrast, saturation };
}

function checkImage(what: string, pixels: Float32Array, width: number, height: number): void {
  if (!(pixels instanceof Float32Array) || pixels.length !== width * height * 3) {
    throw new RangeError(`${what}: expected an HWC RGB Float32Array of ${width}×${height}×3 = ${width * height * 3} values. Received ${pixels?.length}.`);
  }
}

/** The image mirrored left-right (HWC RGB). Returns a new array. */
export function flipHorizontal(pixels: Float32Array, width: number, height: number): Float32Array {
  checkImage('flipHorizontal', pixels, width, height);
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + x * 3;
      const to = row + (width - 1 - x) * 3;
      out[to] = pixels[from];
      out[to + 1] = pixels[from + 1];
      out[to + 2] = pixels[from + 2];
    }
  }
  return out;
}

/**
 * Brightness, then saturation, then contrast, on [-1, 1] RGB; clipped to [-1, 1]. Brightness is in
 * 8-bit units (δ/127.5 in this scale); saturation blends each pixel with its luma (BT.601 weights);
 * contrast scales around the mean of the whole image. Returns a new array.
 */
export function adjustColor(pixels: Float32Array, params: Pick<AugmentParams, 'brightness' | 'contrast' | 'saturation'>): Float32Array {
  if (!(pixels instanceof Float32Array) || pixels.length % 3 !== 0) throw new RangeError(`adjustColor: expected an RGB Float32Array (length a multiple of 3). Received ${pixels?.length}.`);
  const { brightness, contrast, saturation } = params;
  const shift = brightness / 127.5;
  const out = new Float32Array(pixels.length);
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    const r = pixels[i] + shift;
    const g = pixels[i + 1] + shift;
    const b = pixels[i + 2] + shift;
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    out[i] = luma + saturation * (r - luma);
    out[i + 1] = luma + saturation * (g - luma);
    out[i + 2] = luma + saturation * (b - luma);
    sum += out[i] + out[i + 1] + out[i + 2];
  }
  const mean = pixels.length > 0 ? sum / pixels.length : 0;
  for (let i = 0; i < out.length; i++) {
    const v = mean + contrast * (out[i] - mean);
    out[i] = v < -1 ? -1 : v > 1 ? 1 : v;
  }
  return out;
}

/** Applies the flip and colour parts of `params` to an already cropped and resized image. */
export function applyPixelAugmentation(pixels: Float32Array, width: number, height: number, params: AugmentParams): Float32Array {
  const flipped = params.flip ? flipHorizontal(pixels, width, height) : pixels;
  return adjustColor(flipped, params);
}

/**
 * One augmented example: reads the image's size from its header, draws the augmentation from
 * `seed` (or a generator), crops and resizes with sharp, then flips and jitters colour.
 */
export async function augmentImage(input: string | Buffer | Uint8Array, inputSize: number, seed: number | Random, options: AugmentOptions = {}, decode: Pick<DecodeOptions, 'maxPixels' | 'background' | 'name'> = {}): Promise<DecodedImage & { params: AugmentParams }> {
  const o = resolveAugmentOptions(options);
  const random = typeof seed === 'function' ? seed : mulberry32(seed);
  const { width, height } = await imageSize(input, decode);
  const params = sampleAugmentation(width, height, random, o);
  const image = await decodeRegion(input, params.crop, inputSize, decode);
  return { pixels: applyPixelAugmentation(image.pixels, image.width, image.height, params), width: image.width, height: image.height, params };
}
