/**
 * SSD's training augmentation for detection, as box bookkeeping apart from pixels: every function here
 * works on boxes xyxy normalised to the image ([0, 1] across its width and height, 4 numbers a box), so
 * the pixel side (detection-batches.ts) only has to crop, resize and mirror the same window.
 *
 * The crop is the SSD paper's sampler (Liu et al. 2016, §2.2 "Data augmentation"), with torchvision's
 * encoding of its choices (`RandomIoUCrop`, sampler options [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1]):
 *
 * - one minimum IoU is drawn uniformly from `minIoUs`; 1 (or more) means "use the entire original image"
 *   (no crop can have IoU 1 with an object short of being the object's box), 0 means "randomly sample a
 *   patch", 0.1 … 0.9 mean a patch whose IoU with some object is at least that much;
 * - a patch covers an area fraction uniform in [0.1, 1] of the image and has a width / height ratio (in
 *   normalised units, as the paper's Caffe sampler) in [1/2, 2], placed uniformly inside the image;
 * - a patch is accepted when at least one (not ignored) object has its centre inside it and IoU ≥ the
 *   minimum with it; up to 50 trials, then the whole image (TF's `random_crop_image` and Caffe's
 *   batch sampler also fall back to the original image);
 * - objects whose centre is inside the patch are kept and clipped to it, the others dropped.
 *
 * torchvision draws each side's scale in [0.3, 1] independently (40 trials, then a new case) where this
 * draws the area and ratio as the paper states; the area range, ratios and trials are options.
 *
 * TF's `ssd_random_crop` differs in its constraint (the fraction of an object the crop covers, and an
 * overlap threshold to keep boxes, instead of IoU and centres) and in keeping the image whole with
 * probability 0.15 on top of its cases; the SSD paper's rule is the one implemented here.
 */
import { uniform, type Random } from '@mobilenets/random';

export interface SsdCropOptions {
  /**
   * The cases one is drawn from: a minimum IoU between the patch and some object; ≥ 1 keeps the whole
   * image. Default [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1] (SSD paper: the whole image, a random patch, and
   * patches with IoU 0.1, 0.3, 0.5, 0.7 or 0.9).
   */
  minIoUs?: number[];
  /** Patch area as a fraction of the image, [min, max]. Default [0.1, 1]. */
  area?: [number, number];
  /** Patch width / height in normalised units, [min, max]. Default [0.5, 2]. */
  aspectRatio?: [number, number];
  /** Patches tried before falling back to the whole image. Default 50. */
  trials?: number;
}

/** A window in normalised coordinates, [x1, y1, x2, y2]. */
export type BoxWindow = [number, number, number, number];

/** What {@link sampleSsdCrop} drew. */
export interface SsdCrop {
  /** The patch, normalised xyxy; [0, 0, 1, 1] for the whole image. */
  window: BoxWindow;
  /** The IoU constraint the patch meets; null for the whole image (drawn, or after every trial failed). */
  minIoU: number | null;
}

/** Boxes and their objects after a crop. */
export interface CroppedBoxes {
  /** Kept boxes, normalised xyxy in the window. */
  boxesXyxy: Float32Array;
  labels: Int32Array;
  ignore: Uint8Array;
  /** Index of each kept box in the input. */
  kept: Int32Array;
}

const DEFAULTS: Required<SsdCropOptions> = {
  minIoUs: [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1],
  area: [0.1, 1],
  aspectRatio: [0.5, 2],
  trials: 50,
};

export const WHOLE_IMAGE: Readonly<BoxWindow> = [0, 0, 1, 1];

function checkPair(name: string, pair: [number, number], low: number, high: number): void {
  if (!Array.isArray(pair) || pair.length !== 2 || !(pair[0] > low) || !(pair[1] >= pair[0]) || !(pair[1] <= high)) {
    throw new RangeError(`ssd crop: ${name} must be [min, max] with ${low} < min ≤ max ≤ ${high}. Received ${JSON.stringify(pair)}.`);
  }
}

/** Options with defaults filled in and checked. */
export function resolveSsdCropOptions(options: SsdCropOptions = {}): Required<SsdCropOptions> {
  const o = { ...DEFAULTS, ...options };
  if (!Array.isArray(o.minIoUs) || o.minIoUs.length === 0 || !o.minIoUs.every((v) => typeof v === 'number' && v >= 0 && Number.isFinite(v))) {
    throw new RangeError(`ssd crop: minIoUs must be a non-empty array of numbers ≥ 0 (≥ 1: the whole image). Received ${JSON.stringify(o.minIoUs)}.`);
  }
  checkPair('area', o.area, 0, 1);
  checkPair('aspectRatio', o.aspectRatio, 0, Infinity);
  if (!Number.isInteger(o.trials) || o.trials < 1) throw new RangeError(`ssd crop: trials must be a positive integer. Received ${o.trials}.`);
  return { ...o, minIoUs: [...o.minIoUs], area: [...o.area], aspectRatio: [...o.aspectRatio] };
}

function checkBoxes(what: string, boxes: ArrayLike<number>): number {
  if (boxes == null || typeof boxes.length !== 'number' || boxes.length % 4 !== 0) {
    throw new RangeError(`${what}: boxes must be a flat array of xyxy boxes, 4 numbers a box. Received length ${boxes?.length}.`);
  }
  return boxes.length / 4;
}

/** Boxes mirrored left-right in the image: x1' = 1 − x2, x2' = 1 − x1. Returns a new array. */
export function flipBoxesXyxy(boxes: ArrayLike<number>): Float32Array {
  const n = checkBoxes('flipBoxesXyxy', boxes);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = 1 - boxes[4 * i + 2];
    out[4 * i + 1] = boxes[4 * i + 1];
    out[4 * i + 2] = 1 - boxes[4 * i];
    out[4 * i + 3] = boxes[4 * i + 3];
  }
  return out;
}

/** IoU of box i of `boxes` with the window (0 when either is empty). */
export function windowIoU(boxes: ArrayLike<number>, i: number, window: Readonly<BoxWindow>): number {
  const [bx1, by1, bx2, by2] = [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]];
  const iw = Math.min(bx2, window[2]) - Math.max(bx1, window[0]);
  const ih = Math.min(by2, window[3]) - Math.max(by1, window[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = (bx2 - bx1) * (by2 - by1) + (window[2] - window[0]) * (window[3] - window[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Whether box i's centre lies in the window (edges included). */
export function centreInside(boxes: ArrayLike<number>, i: number, window: Readonly<BoxWindow>): boolean {
  const cx = (boxes[4 * i] + boxes[4 * i + 2]) / 2;
  const cy = (boxes[4 * i + 1] + boxes[4 * i + 3]) / 2;
  return cx >= window[0] && cx <= window[2] && cy >= window[1] && cy <= window[3];
}

/**
 * Draws SSD's crop for an image with these boxes (normalised xyxy). Objects flagged in `ignore` are
 * kept or dropped like the others but never satisfy the IoU constraint; with no other object, every
 * patch fails and the whole image is returned. Draws from `random` only.
 */
export function sampleSsdCrop(boxes: ArrayLike<number>, random: Random, options: SsdCropOptions = {}, ignore?: ArrayLike<number>): SsdCrop {
  const n = checkBoxes('sampleSsdCrop', boxes);
  const { minIoUs, area, aspectRatio, trials } = resolveSsdCropOptions(options);
  const minIoU = minIoUs[Math.min(minIoUs.length - 1, Math.floor(random() * minIoUs.length))];
  if (minIoU >= 1) return { window: [...WHOLE_IMAGE], minIoU: null };
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (!ignore?.[i]) candidates.push(i);
  if (candidates.length === 0) return { window: [...WHOLE_IMAGE], minIoU: null };
  for (let trial = 0; trial < trials; trial++) {
    const a = uniform(random, area[0], area[1]);
    // w = sqrt(a·r) ≤ 1 and h = sqrt(a/r) ≤ 1 need a ≤ r ≤ 1/a; log-uniform ratio within that.
    const low = Math.max(aspectRatio[0], a);
    const high = Math.min(aspectRatio[1], 1 / a);
    const r = Math.exp(uniform(random, Math.log(low), Math.log(Math.max(low, high))));
    const w = Math.min(1, Math.sqrt(a * r));
    const h = Math.min(1, Math.sqrt(a / r));
    const x1 = uniform(random, 0, 1 - w);
    const y1 = uniform(random, 0, 1 - h);
    const window: BoxWindow = [x1, y1, Math.min(1, x1 + w), Math.min(1, y1 + h)];
    if (candidates.some((i) => centreInside(boxes, i, window) && windowIoU(boxes, i, window) >= minIoU)) return { window, minIoU };
  }
  return { window: [...WHOLE_IMAGE], minIoU: null };
}

/**
 * The objects seen through `window` (normalised xyxy of the image): those whose centre is inside it,
 * clipped to it and re-normalised to it ([0, 1] across the window). Objects left with no width or
 * height are dropped too. Labels and ignore flags follow their boxes.
 */
export function cropBoxesXyxy(boxes: ArrayLike<number>, labels: ArrayLike<number>, ignore: ArrayLike<number>, window: Readonly<BoxWindow>): CroppedBoxes {
  const n = checkBoxes('cropBoxesXyxy', boxes);
  if (labels.length !== n || ignore.length !== n) throw new RangeError(`cropBoxesXyxy: expected ${n} labels and ignore flags (one per box). Received ${labels.length} and ${ignore.length}.`);
  const [wx1, wy1, wx2, wy2] = window;
  const ww = wx2 - wx1;
  const wh = wy2 - wy1;
  if (!(ww > 0 && wh > 0)) throw new RangeError(`cropBoxesXyxy: window must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1. Received ${JSON.stringify(window)}.`);
  const kept: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!centreInside(boxes, i, window)) continue;
    const x1 = (Math.max(boxes[4 * i], wx1) - wx1) / ww;
    const y1 = (Math.max(boxes[4 * i + 1], wy1) - wy1) / wh;
    const x2 = (Math.min(boxes[4 * i + 2], wx2) - wx1) / ww;
    const y2 = (Math.min(boxes[4 * i + 3], wy2) - wy1) / wh;
    if (!(x2 > x1 && y2 > y1)) continue;
    kept.push(i);
    out.push(Math.max(0, x1), Math.max(0, y1), Math.min(1, x2), Math.min(1, y2));
  }
  return {
    boxesXyxy: Float32Array.from(out),
    labels: Int32Array.from(kept, (i) => labels[i]),
    ignore: Uint8Array.from(kept, (i) => ignore[i]),
    kept: Int32Array.from(kept),
  };
}

/**
 * SSD's zoom-out — the SSD paper's "expansion" for small objects (Liu et al. 2016, §3.6; torchvision's
 * `RandomZoomOut`): with some probability the training view is shrunk by a factor in [1, maxScale] on
 * each side and placed at a uniform position on a canvas of the input's size filled with the mean
 * colour, so that objects of every size are also seen smaller than the images hold them.
 */
export interface ZoomOutOptions {
  /** Chance a view is zoomed out. Default 0.5 (torchvision's). */
  probability?: number;
  /** Largest shrink of a side, ≥ 1 (torchvision and the SSD paper: 4; 1 never shrinks). Default 2. */
  maxScale?: number;
}

/** Where a zoomed-out view lies on its canvas, normalised xyxy of the canvas (a square of side 1 / scale). */
export type ZoomPlacement = BoxWindow;

export function resolveZoomOutOptions(options: ZoomOutOptions = {}): Required<ZoomOutOptions> {
  const { probability = 0.5, maxScale = 2 } = options;
  if (!(probability >= 0 && probability <= 1)) throw new RangeError(`zoom-out: probability must be in [0, 1]. Received ${probability}.`);
  if (!(maxScale >= 1 && Number.isFinite(maxScale))) throw new RangeError(`zoom-out: maxScale must be a finite number ≥ 1. Received ${maxScale}.`);
  return { probability, maxScale };
}

/**
 * Draws the zoom-out of one view: null (kept as it is) with chance 1 − probability, else its placement —
 * a side of 1 / s for s uniform in [1, maxScale], at a uniform position inside the canvas. Draws from
 * `random` only: one number decides, three more size and place a zoomed view.
 */
export function sampleZoomOut(random: Random, options: ZoomOutOptions = {}): ZoomPlacement | null {
  const { probability, maxScale } = resolveZoomOutOptions(options);
  if (!(random() < probability)) return null;
  const side = 1 / uniform(random, 1, maxScale);
  const x1 = uniform(random, 0, 1 - side);
  const y1 = uniform(random, 0, 1 - side);
  return [x1, y1, x1 + side, y1 + side];
}

/** Boxes (normalised xyxy of the view) moved to where the view lies on the canvas (`placement`). Returns a new array. */
export function zoomOutBoxesXyxy(boxes: ArrayLike<number>, placement: Readonly<ZoomPlacement>): Float32Array {
  const n = checkBoxes('zoomOutBoxesXyxy', boxes);
  const [px1, py1, px2, py2] = placement;
  if (!(px2 > px1 && py2 > py1 && px1 >= 0 && py1 >= 0 && px2 <= 1 && py2 <= 1)) {
    throw new RangeError(`zoomOutBoxesXyxy: placement must be [x1, y1, x2, y2] inside [0, 1] with x2 > x1 and y2 > y1. Received ${JSON.stringify(placement)}.`);
  }
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = px1 + boxes[4 * i] * (px2 - px1);
    out[4 * i + 1] = py1 + boxes[4 * i + 1] * (py2 - py1);
    out[4 * i + 2] = px1 + boxes[4 * i + 2] * (px2 - px1);
    out[4 * i + 3] = py1 + boxes[4 * i + 3] * (py2 - py1);
  }
  return out;
}
