/**
 * Batches of images with their objects for training and evaluating detectors, as plain typed arrays
 * (no tfjs), on the same machinery as classificationData: an epoch's order is a seeded shuffle fixed by
 * (seed, epoch), augmentation draws are fixed by (seed, epoch, example), `skip` jumps whole batches, and
 * images are decoded `prefetch` batches ahead with at most `concurrency` decodes at a time.
 *
 * Each image becomes inputSize × inputSize by a plain resize (aspect ratio not kept, as SSD does), RGB in
 * [-1, 1]; its boxes become xyxy normalised to that batch image. With augmentation (SSD's recipe, see
 * detection-augment.ts): the crop window is drawn on the normalised boxes, rounded to whole pixels of
 * the image, decoded and resized in one pass by sharp (only the crop region is resized), and the boxes
 * are re-normalised to the rounded window — so boxes and pixels agree exactly; then, when asked for, SSD's
 * zoom-out (the view decoded smaller, at whole pixels, onto a mid-grey canvas); then a horizontal flip
 * with probability ½, and colour jitter when asked for. Without augmentation: the whole image, unflipped.
 */
import { adjustColor, flipHorizontal, type AugmentOptions } from './augment';
import { cropBoxesXyxy, flipBoxesXyxy, resolveSsdCropOptions, resolveZoomOutOptions, sampleSsdCrop, sampleZoomOut, zoomOutBoxesXyxy, type BoxWindow, type SsdCropOptions, type ZoomOutOptions, type ZoomPlacement } from './detection-augment';
import type { DetectionRecord } from './detection-readers';
import { decodeRegion, imageSize, type DecodeOptions } from './image-io';
import { batchIndices, checkInteger, defaultOnSkip, epochBatches, loadEach } from './batches';
import { Limiter } from './limiter';
import { hashSeed, mulberry32, uniform } from '@mobilenets/random';
import type { BatchOptions, DetectionBatch as ContractBatch } from '@mobilenets/contracts';

/** A batch of images and their objects; `index` is its position in the epoch, counting the skipped ones. */
export type DetectionBatch = ContractBatch & { index: number };

/** A detection dataset that produces batches. */
export interface DetectionData {
  /** Number of classes (no background class). */
  classes: number;
  /** Class names, label = index. */
  classNames: string[];
  /** Examples per epoch (records, including any that will fail to decode). */
  size: number;
  /** The batches of one epoch, decoded ahead of the consumer. */
  batches(options: BatchOptions): AsyncIterable<DetectionBatch>;
}

export interface DetectionAugmentOptions {
  /** SSD's random crop (true: its defaults; false: none). Default true. */
  crop?: boolean | SsdCropOptions;
  /** Horizontal flip with probability ½. Default true. */
  flip?: boolean;
  /** SSD's zoom-out after the crop (true: its defaults; false: none). Default false. */
  zoomOut?: boolean | ZoomOutOptions;
  /**
   * Colour jitter after crop and flip, as classification's (augment.ts; e.g. MILD_COLOR_JITTER). Default
   * none. (torchvision's SSDlite recipe has no photometric distortion; its SSD300 recipe does.)
   */
  color?: Pick<AugmentOptions, 'brightness' | 'contrast' | 'saturation'>;
}

export interface DetectionDataOptions {
  /** Side of the square network input, in pixels. */
  inputSize: number;
  /** Training augmentation: true for SSD's crop and flip with defaults, options to tune; false (default) for evaluation. */
  augment?: boolean | DetectionAugmentOptions;
  /** Batches decoded ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /** Images decoded at the same time. Default 2. */
  concurrency?: number;
  /**
   * Called once per file that fails to decode (the example is left out of its batch; the file is not
   * tried again in later epochs). Default: a process warning.
   */
  onSkip?: (path: string, error: Error) => void;
  /** Decoding options: pixel limit and alpha background. */
  decode?: Pick<DecodeOptions, 'maxPixels' | 'background'>;
}

/** What one example became: what {@link detectionData} puts in a batch. */
export interface DetectionExample {
  /** inputSize × inputSize × 3, RGB in [-1, 1]. */
  pixels: Float32Array;
  /** Normalised xyxy in the example's image. */
  boxesXyxy: Float32Array;
  labels: Int32Array;
  ignore: Uint8Array;
  /** The image's size on disk (after EXIF orientation), [width, height]. */
  originalSize: [number, number];
  /** The crop, in pixels of the original image, and whether it was mirrored. */
  region: { left: number; top: number; width: number; height: number };
  /** With zoom-out: where the view lies on the input canvas (normalised xyxy, whole pixels); null when not zoomed out. */
  zoomOut: ZoomPlacement | null;
  flip: boolean;
  /** Without augmentation: the objects' areas in pixels of the original image (the record's, scaled to its size on disk). */
  areas?: Float32Array;
}

interface ResolvedAugment {
  crop: Required<SsdCropOptions> | null;
  flip: boolean;
  zoomOut: Required<ZoomOutOptions> | null;
  color: { brightness: number; contrast: [number, number]; saturation: [number, number] } | null;
}

function resolveAugment(augment: boolean | DetectionAugmentOptions): ResolvedAugment | null {
  if (augment === false) return null;
  const o = augment === true ? {} : augment;
  if (typeof o !== 'object' || o === null) throw new TypeError(`detectionData: augment must be a boolean or { crop, flip, zoomOut, color }. Received ${String(augment)}.`);
  const { crop = true, flip = true, zoomOut = false, color } = o;
  let resolvedColor: ResolvedAugment['color'] = null;
  if (color) {
    const { brightness = 0, contrast = [1, 1], saturation = [1, 1] } = color;
    if (!(brightness >= 0 && brightness <= 255)) throw new RangeError(`detectionData: color.brightness must be in [0, 255] (8-bit units). Received ${brightness}.`);
    for (const [name, range] of [['contrast', contrast], ['saturation', saturation]] as const) {
      if (!Array.isArray(range) || range.length !== 2 || !(range[0] >= 0) || !(range[1] >= range[0]) || !Number.isFinite(range[1])) {
        throw new RangeError(`detectionData: color.${name} must be [min, max] with 0 ≤ min ≤ max. Received ${JSON.stringify(range)}.`);
      }
    }
    resolvedColor = { brightness, contrast, saturation };
  }
  return {
    crop: crop === false ? null : resolveSsdCropOptions(crop === true ? {} : crop),
    flip: Boolean(flip),
    zoomOut: zoomOut === false ? null : resolveZoomOutOptions(zoomOut === true ? {} : zoomOut),
    color: resolvedColor,
  };
}

/** Pixel bounds of a normalised [low, high] span of `size` pixels: at least one pixel, inside the image. */
function pixelSpan(low: number, high: number, size: number): [number, number] {
  const start = Math.min(size - 1, Math.max(0, Math.round(low * size)));
  const end = Math.max(start + 1, Math.min(size, Math.round(high * size)));
  return [start, end];
}

/**
 * Batches over `records` (from readCocoDetection or readVocDetection). Throws RangeError for labels
 * outside `classes`, malformed records or bad options; never throws for a bad image file (see `onSkip`).
 */
export function detectionData(records: readonly DetectionRecord[], classes: readonly string[], options: DetectionDataOptions): DetectionData {
  const what = 'detectionData';
  if (!Array.isArray(records)) throw new TypeError(`${what}: records must be an array of DetectionRecords. Received ${typeof records}.`);
  if (!Array.isArray(classes) || classes.length === 0) throw new RangeError(`${what}: classes must be a non-empty array of class names. Received ${JSON.stringify(classes)}.`);
  const { inputSize, augment = false, prefetch = 2, concurrency = 2, onSkip = defaultOnSkip, decode = {} } = options;
  checkInteger(what, 'inputSize', inputSize, 1);
  checkInteger(what, 'prefetch', prefetch, 0);
  checkInteger(what, 'concurrency', concurrency, 1);
  const aug = resolveAugment(augment);
  const common = { maxPixels: decode.maxPixels, background: decode.background };
  // Boxes normalised to the annotated size once, up front.
  const items = records.map((r, i) => {
    const bad = (why: string) => new RangeError(`${what}: record ${i} (${String(r?.path)}): ${why}.`);
    if (typeof r?.path !== 'string' || r.path === '') throw bad('path must be a non-empty string');
    if (!(r.width > 0 && r.height > 0)) throw bad(`width and height must be positive. Received ${r.width}×${r.height}`);
    const n = r.labels?.length;
    if (typeof n !== 'number' || r.boxesXyxy?.length !== 4 * n || r.ignore?.length !== n) {
      throw bad(`expected 4 box numbers, a label and an ignore flag per object. Received ${r.boxesXyxy?.length} box numbers, ${n} labels, ${r.ignore?.length} flags`);
    }
    const boxes = new Float64Array(4 * n);
    for (let k = 0; k < n; k++) {
      if (!Number.isInteger(r.labels[k]) || r.labels[k] < 0 || r.labels[k] >= classes.length) throw bad(`label ${r.labels[k]} of object ${k} is outside [0, ${classes.length})`);
      for (let c = 0; c < 4; c++) {
        const v = r.boxesXyxy[4 * k + c];
        if (!Number.isFinite(v)) throw bad(`box ${k} has a non-finite coordinate`);
        boxes[4 * k + c] = Math.min(1, Math.max(0, v / (c % 2 === 0 ? r.width : r.height)));
      }
    }
    if (r.areas !== undefined && r.areas.length !== n) throw bad(`expected an area per object. Received ${r.areas.length} areas for ${n} objects`);
    return { path: r.path, imageId: r.imageId, width: r.width, height: r.height, boxes, labels: Int32Array.from(r.labels), ignore: Uint8Array.from(r.ignore), areas: r.areas };
  });
  const limiter = new Limiter(concurrency);
  const failed = new Set<string>();
  const sizes = new Map<string, { width: number; height: number }>(); // oriented sizes, from the first epoch's headers
  const perImage = inputSize * inputSize * 3;

  async function example(index: number, seed: number, epoch: number): Promise<DetectionExample> {
    const item = items[index];
    let dims = sizes.get(item.path);
    if (!dims) sizes.set(item.path, (dims = await imageSize(item.path, common)));
    const { width, height } = dims;
    const originalSize: [number, number] = [width, height];
    if (!aug) {
      const image = await decodeRegion(item.path, { left: 0, top: 0, width, height }, inputSize, common);
      // Areas scale with the image when its size on disk is not the annotated one (EXIF rotation, resized copies).
      const scale = (width / item.width) * (height / item.height);
      const areas = Float32Array.from({ length: item.labels.length }, (_, k) => {
        const [x1, y1, x2, y2] = item.boxes.subarray(4 * k, 4 * k + 4);
        return item.areas === undefined ? (x2 - x1) * width * (y2 - y1) * height : item.areas[k] * scale;
      });
      return { pixels: image.pixels, boxesXyxy: Float32Array.from(item.boxes), labels: item.labels.slice(), ignore: item.ignore.slice(), originalSize, region: { left: 0, top: 0, width, height }, zoomOut: null, flip: false, areas };
    }
    const random = mulberry32(hashSeed(seed, epoch, index));
    const sampled = aug.crop ? sampleSsdCrop(item.boxes, random, aug.crop, item.ignore).window : null;
    const flip = aug.flip && random() < 0.5;
    const color = aug.color && {
      brightness: uniform(random, -aug.color.brightness, aug.color.brightness),
      saturation: uniform(random, aug.color.saturation[0], aug.color.saturation[1]),
      contrast: uniform(random, aug.color.contrast[0], aug.color.contrast[1]),
    };
    // Drawn last, so that runs without zoom-out see the same crops, flips and colours as before it existed.
    const zoomDraw = aug.zoomOut ? sampleZoomOut(random, aug.zoomOut) : null;
    let region = { left: 0, top: 0, width, height };
    let boxesXyxy: Float32Array = Float32Array.from(item.boxes);
    let labels: Int32Array = item.labels.slice();
    let ignore: Uint8Array = item.ignore.slice();
    if (sampled) {
      const [left, right] = pixelSpan(sampled[0], sampled[2], width);
      const [top, bottom] = pixelSpan(sampled[1], sampled[3], height);
      if (left > 0 || top > 0 || right < width || bottom < height) {
        region = { left, top, width: right - left, height: bottom - top };
        const window: BoxWindow = [left / width, top / height, right / width, bottom / height];
        ({ boxesXyxy, labels, ignore } = cropBoxesXyxy(item.boxes, item.labels, item.ignore, window));
      }
    }
    let zoomOut: ZoomPlacement | null = null;
    let pixels: Float32Array;
    if (zoomDraw) {
      // The view decoded at its shrunk size and pasted on a mid-grey (0) canvas at whole pixels; the boxes follow the rounded placement.
      const side = Math.max(1, Math.min(inputSize, Math.round((zoomDraw[2] - zoomDraw[0]) * inputSize)));
      const left = Math.min(inputSize - side, Math.round(zoomDraw[0] * inputSize));
      const top = Math.min(inputSize - side, Math.round(zoomDraw[1] * inputSize));
      const view = (await decodeRegion(item.path, region, side, common)).pixels;
      pixels = new Float32Array(perImage);
      for (let y = 0; y < side; y++) pixels.set(view.subarray(y * side * 3, (y + 1) * side * 3), ((top + y) * inputSize + left) * 3);
      zoomOut = [left / inputSize, top / inputSize, (left + side) / inputSize, (top + side) / inputSize];
      boxesXyxy = zoomOutBoxesXyxy(boxesXyxy, zoomOut);
    } else {
      pixels = (await decodeRegion(item.path, region, inputSize, common)).pixels;
    }
    if (flip) {
      pixels = flipHorizontal(pixels, inputSize, inputSize);
      boxesXyxy = flipBoxesXyxy(boxesXyxy);
    }
    if (color) pixels = adjustColor(pixels, color);
    return { pixels, boxesXyxy, labels, ignore, originalSize, region, zoomOut, flip };
  }

  async function loadBatch(order: Int32Array, batch: number, o: BatchOptions): Promise<DetectionBatch> {
    const indices = batchIndices(order, batch, o.batchSize);
    const decoded = await loadEach(indices, (index) => items[index].path, failed, onSkip, (index) => limiter.run(() => example(index, o.seed, o.epoch)));
    const kept: number[] = [];
    const examples: DetectionExample[] = [];
    decoded.forEach((e, k) => {
      if (e) {
        kept.push(indices[k]);
        examples.push(e);
      }
    });
    const images = new Float32Array(examples.length * perImage);
    examples.forEach((e, n) => images.set(e.pixels, n * perImage));
    return {
      images,
      shape: [examples.length, inputSize, inputSize, 3],
      boxesXyxy: examples.map((e) => e.boxesXyxy),
      labels: examples.map((e) => e.labels),
      ignore: examples.map((e) => e.ignore),
      paths: kept.map((i) => items[i].path),
      imageIds: kept.map((i) => items[i].imageId),
      originalSizes: examples.map((e) => e.originalSize),
      ...(aug ? {} : { areas: examples.map((e) => e.areas ?? new Float32Array(0)) }),
      index: batch,
    };
  }

  return { classes: classes.length, classNames: [...classes], size: items.length, batches: (o) => epochBatches(o, items.length, prefetch, loadBatch) };
}
