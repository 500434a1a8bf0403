/**
 * Procedural detection data: the detection app's embedded default. Each image holds 1–5 objects (by
 * default) drawn from the classification generator's shape catalogue — varied size (some tiny), colour,
 * rotation and placement, overlapping each other — over clutter that belongs to no class (a gradient
 * background, thin bars and faint blobs) and pixel noise. Every object's box is the tight box of the
 * pixels it still shows after everything drawn later (occlusion included), so an object partly hidden
 * behind others is labelled with the box of what is visible, and one that shows fewer than
 * {@link MIN_VISIBLE_PIXELS} pixels is not labelled.
 *
 * Every image is a function of (seed, index) only. {@link generateDetectionDataset} writes COCO JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashSeed, mulberry32, randomInt, uniform, type Random } from '@mobilenets/random';
import { encodePng } from './image-io';
import { SHAPES, generatedClassNames } from './generate';
import { addNoise, boxSdf, circleSdf, createCanvas, drawShape, fillGradient, forEachShapePixel, hsv, type Canvas, type Placement, type Rgb, type Sdf } from './raster';

export interface DetectionImageOptions {
  /** Number of classes (the first n of the shape catalogue: circle, square, triangle, …), 1–12. Default 3. */
  classes?: number;
  /** Image side in pixels, 32–4096. Default 320. */
  size?: number;
  /** Fewest and most labelled objects an image (before occlusion drops any). Default 1 and 5. */
  minObjects?: number;
  maxObjects?: number;
  /** Dataset seed. Default 0. */
  seed?: number;
}

/** One labelled object of a generated image. */
export interface GeneratedObject {
  /** Index into the generator's class names ({@link detectionClassNames}). */
  classIndex: number;
  className: string;
  /** Tight box of the visible pixels, [x1, y1, x2, y2] in pixels (x2, y2 exclusive edges). */
  boxXyxy: [number, number, number, number];
  /** Visible pixels (COCO's `area`). */
  areaPixels: number;
}

export interface GeneratedDetectionImage {
  /** HWC RGB bytes, size × size × 3. */
  pixels: Uint8Array;
  size: number;
  objects: GeneratedObject[];
}

/** An object is labelled when at least this many of its pixels show. */
export const MIN_VISIBLE_PIXELS = 4;

function checkOptions(what: string, options: DetectionImageOptions): Required<DetectionImageOptions> {
  const { classes = 3, size = 320, minObjects = 1, maxObjects = 5, seed = 0 } = options;
  if (!Number.isInteger(classes) || classes < 1 || classes > SHAPES.length) throw new RangeError(`${what}: classes must be an integer in [1, ${SHAPES.length}]. Received ${classes}.`);
  if (!Number.isInteger(size) || size < 32 || size > 4096) throw new RangeError(`${what}: size must be an integer in [32, 4096]. Received ${size}.`);
  if (!Number.isInteger(minObjects) || minObjects < 0) throw new RangeError(`${what}: minObjects must be a non-negative integer. Received ${minObjects}.`);
  if (!Number.isInteger(maxObjects) || maxObjects < Math.max(1, minObjects) || maxObjects > 50) {
    throw new RangeError(`${what}: maxObjects must be an integer in [max(1, minObjects), 50]. Received ${maxObjects} (minObjects ${minObjects}).`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what}: seed must be an integer. Received ${seed}.`);
  return { classes, size, minObjects, maxObjects, seed };
}

/** Class names of the detection generator with `classes` classes, in label order (category id = index + 1 in COCO JSON). */
export function detectionClassNames(classes = 3): string[] {
  if (classes === 1) return [SHAPES[0].name];
  return generatedClassNames(classes);
}

/**
 * Marks, in `owner`, every pixel where the shape covers more than half the pixel (the drawn shape's
 * anti-aliased coverage > 0.5, i.e. its signed distance < 0 at the pixel centre) as belonging to `id`.
 */
function claimPixels(owner: Int32Array, size: number, sdf: Sdf, at: Placement, id: number): void {
  forEachShapePixel(size, size, at, (x, y, u, v) => {
    if (sdf(u, v) < 0) owner[y * size + x] = id;
  });
}

/** Per owner id: the tight box [x1, y1, x2, y2] (exclusive ends) and pixel count of the pixels it owns. */
function ownedRegions(owner: Int32Array, size: number, ids: number): { boxes: [number, number, number, number][]; counts: number[] } {
  const boxes: [number, number, number, number][] = Array.from({ length: ids }, () => [Infinity, Infinity, -Infinity, -Infinity]);
  const counts = new Array<number>(ids).fill(0);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const id = owner[y * size + x];
      if (id < 0) continue;
      const b = boxes[id];
      counts[id] += 1;
      if (x < b[0]) b[0] = x;
      if (y < b[1]) b[1] = y;
      if (x + 1 > b[2]) b[2] = x + 1;
      if (y + 1 > b[3]) b[3] = y + 1;
    }
  }
  return { boxes, counts };
}

/** Clutter that belongs to no class: thin bars and faint round blobs. */
function drawClutter(canvas: Canvas, size: number, random: Random): void {
  const bars = randomInt(random, 4);
  for (let k = 0; k < bars; k++) {
    const colour = hsv(uniform(random, 0, 360), uniform(random, 0, 0.8), uniform(random, 0.2, 1));
    drawShape(canvas, boxSdf(0.95, 0.04), colour, { cx: uniform(random, 0, size), cy: uniform(random, 0, size), radius: size * uniform(random, 0.1, 0.4), angle: uniform(random, 0, Math.PI), alpha: uniform(random, 0.4, 0.9) });
  }
  const blobs = randomInt(random, 4);
  for (let k = 0; k < blobs; k++) {
    const colour = hsv(uniform(random, 0, 360), uniform(random, 0, 0.5), uniform(random, 0.2, 1));
    drawShape(canvas, circleSdf, colour, { cx: uniform(random, 0, size), cy: uniform(random, 0, size), radius: size * uniform(random, 0.05, 0.2), angle: 0, alpha: uniform(random, 0.1, 0.3) });
  }
}

/**
 * Image `index` of the detection set: pixels and labelled objects. A pure function of its arguments.
 * Object sizes: 15 % tiny (radius 2–4 % of the side), the rest 5–22 %.
 */
export function renderDetectionImage(index: number, options: DetectionImageOptions = {}): GeneratedDetectionImage {
  const { classes, size, minObjects, maxObjects, seed } = checkOptions('renderDetectionImage', options);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`renderDetectionImage: index must be a non-negative integer. Received ${index}.`);
  const names = detectionClassNames(classes);
  const random = mulberry32(hashSeed(seed, 0x0de7, index));
  const canvas = createCanvas(size, size);
  const bg = (): Rgb => hsv(uniform(random, 0, 360), uniform(random, 0, 0.5), uniform(random, 0.15, 0.9));
  fillGradient(canvas, bg(), bg(), uniform(random, 0, 2 * Math.PI));
  drawClutter(canvas, size, random);

  const count = minObjects + randomInt(random, maxObjects - minObjects + 1);
  const owner = new Int32Array(size * size).fill(-1);
  const drawn: number[] = [];
  for (let k = 0; k < count; k++) {
    const classIndex = randomInt(random, classes);
    const shape = SHAPES[classIndex];
    const radius = size * (random() < 0.15 ? uniform(random, 0.02, 0.04) : uniform(random, 0.05, 0.22));
    const at: Placement = { cx: uniform(random, 0, size), cy: uniform(random, 0, size), radius, angle: uniform(random, 0, 2 * Math.PI) };
    const main = hsv(uniform(random, 0, 360), uniform(random, 0.4, 1), uniform(random, 0.4, 1));
    const second = hsv(uniform(random, 0, 360), uniform(random, 0.3, 1), uniform(random, 0.2, 1));
    drawShape(canvas, shape.sdf, shape.texture ? shape.texture(main, second, random) : main, at);
    claimPixels(owner, size, shape.sdf, at, k);
    drawn.push(classIndex);
  }
  addNoise(canvas, uniform(random, 2, 12), random);

  const { boxes, counts } = ownedRegions(owner, size, drawn.length);
  const objects: GeneratedObject[] = [];
  drawn.forEach((classIndex, k) => {
    if (counts[k] >= MIN_VISIBLE_PIXELS) objects.push({ classIndex, className: names[classIndex], boxXyxy: boxes[k], areaPixels: counts[k] });
  });
  return { pixels: canvas.data, size, objects };
}

/** A COCO ground-truth file as {@link generateDetectionDataset} writes it. */
export interface CocoGroundTruth {
  info: { description: string; seed: number };
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: [number, number, number, number]; area: number; iscrowd: 0 }[];
  categories: { id: number; name: string }[];
}

export interface GenerateDetectionDatasetOptions extends DetectionImageOptions {
  /** How many images. */
  images: number;
  /** Output folder: `<dir>/images/<n>.png` and `<dir>/annotations.json`. Created if missing. */
  dir: string;
  /** First image index (to write a held-out set from the same seed: e.g. 0 for train, 100000 for val). Default 0. */
  firstIndex?: number;
  onProgress?: (written: number, total: number) => void;
}

/** An empty COCO ground truth for the generator's classes (category ids 1…classes). */
function emptyGroundTruth(classes: number, seed: number): CocoGroundTruth {
  const categories = detectionClassNames(classes).map((name, i) => ({ id: i + 1, name }));
  return { info: { description: 'MobileNets.ts procedural shapes (detection)', seed }, images: [], annotations: [], categories };
}

/** Adds image `index` (image id index + 1, file images/<index>.png) and its objects to `gt`. */
function addImage(gt: CocoGroundTruth, index: number, image: GeneratedDetectionImage): void {
  gt.images.push({ id: index + 1, file_name: `images/${String(index).padStart(6, '0')}.png`, width: image.size, height: image.size });
  for (const o of image.objects) {
    const [x1, y1, x2, y2] = o.boxXyxy;
    gt.annotations.push({ id: gt.annotations.length + 1, image_id: index + 1, category_id: o.classIndex + 1, bbox: [x1, y1, x2 - x1, y2 - y1], area: o.areaPixels, iscrowd: 0 });
  }
}

/**
 * Writes `images` generated images as PNG and their COCO ground truth (`annotations.json`, boxes in
 * COCO xywh pixels, category ids 1…classes, image ids index + 1) into `dir`. Returns the ground truth.
 */
export async function generateDetectionDataset(options: GenerateDetectionDatasetOptions): Promise<CocoGroundTruth> {
  const { dir, images } = options;
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`generateDetectionDataset: dir must be a non-empty string. Received ${String(dir)}.`);
  if (!Number.isInteger(images) || images < 1) throw new RangeError(`generateDetectionDataset: images must be a positive integer. Received ${images}.`);
  const { classes, seed } = checkOptions('generateDetectionDataset', options);
  const first = options.firstIndex ?? 0;
  if (!Number.isSafeInteger(first) || first < 0) throw new RangeError(`generateDetectionDataset: firstIndex must be a non-negative integer. Received ${first}.`);
  const root = path.resolve(dir);
  await fs.promises.mkdir(path.join(root, 'images'), { recursive: true });
  const gt = emptyGroundTruth(classes, seed);
  // Rendering runs here, encoding and writing on sharp's and libuv's threads; at most eight in flight.
  const inFlight: Promise<void>[] = [];
  let written = 0;
  for (let n = 0; n < images; n++) {
    const index = first + n;
    const image = renderDetectionImage(index, options);
    addImage(gt, index, image);
    const write = encodePng(image.pixels, image.size, image.size)
      .then((png) => fs.promises.writeFile(path.join(root, gt.images[n].file_name), png))
      .then(() => options.onProgress?.(++written, images));
    write.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
    inFlight.push(write);
    if (inFlight.length >= 8) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const json = path.join(root, 'annotations.json');
  await fs.promises.writeFile(`${json}.tmp`, `${JSON.stringify(gt)}\n`);
  await fs.promises.rename(`${json}.tmp`, json);
  return gt;
}
