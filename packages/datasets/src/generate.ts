/**
 * Procedural classification data: the classification app's embedded default. Each class is a shape
 * (circle, square, triangle, star, ring, cross, …), some with their own texture (stripes, checker,
 * dots), drawn over clutter — a two-colour gradient background, a few small distractor shapes of any
 * class, position / scale / rotation jitter and pixel noise. Colour is only a weak cue: each class has a
 * preferred hue, jittered by ±60° while neighbouring classes sit 360°/classes apart. A small MobileNet
 * learns it well, but not in one epoch and not perfectly (small, low-contrast, cut-off objects).
 *
 * Every image is a function of (seed, class, index) only, so a seed gives the same dataset on every
 * machine and regardless of write order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodePng } from './image-io';
import { hashSeed, mulberry32, randomInt, uniform, type Random } from '@mobilenets/random';
import { addNoise, boxSdf, circleSdf, createCanvas, drawShape, fillGradient, hsv, polygonSdf, starPoints, subtract, translate, union, type Paint, type Rgb, type Sdf } from './raster';
import { compareStrings } from './split';

export interface ShapeClass {
  name: string;
  sdf: Sdf;
  /** Texture from the two colours and a random draw; none for flat shapes. */
  texture?: (a: Rgb, b: Rgb, random: Random) => Paint;
}

const stripes = (a: Rgb, b: Rgb, random: Random): Paint => {
  const period = uniform(random, 0.35, 0.55);
  return (u) => (Math.floor(u / period) & 1 ? a : b);
};
const checker = (a: Rgb, b: Rgb, random: Random): Paint => {
  const cell = uniform(random, 0.35, 0.5);
  return (u, v) => ((Math.floor(u / cell) + Math.floor(v / cell)) & 1 ? a : b);
};
const dots = (a: Rgb, b: Rgb, random: Random): Paint => {
  const cell = uniform(random, 0.4, 0.55);
  return (u, v) => {
    const fu = u / cell - Math.round(u / cell);
    const fv = v / cell - Math.round(v / cell);
    return fu * fu + fv * fv < 0.09 ? b : a;
  };
};

/** The class catalogue, in generator order (the folder names are these names; the detection generator draws the same shapes). */
export const SHAPES: readonly ShapeClass[] = [
  { name: 'circle', sdf: circleSdf },
  { name: 'square', sdf: boxSdf(0.78, 0.78) },
  { name: 'triangle', sdf: polygonSdf(starPoints(3, 1.05, 1.05)) },
  { name: 'star', sdf: polygonSdf(starPoints(5, 1.05, 0.45)) },
  { name: 'ring', sdf: (u, v) => Math.abs(Math.hypot(u, v) - 0.72) - 0.2 },
  { name: 'cross', sdf: union(boxSdf(0.95, 0.27), boxSdf(0.27, 0.95)) },
  { name: 'stripes', sdf: circleSdf, texture: stripes },
  { name: 'hexagon', sdf: polygonSdf(starPoints(6, 0.95, 0.95)) },
  { name: 'crescent', sdf: subtract((u, v) => Math.hypot(u, v) - 0.95, translate((u, v) => Math.hypot(u, v) - 0.8, 0.5, -0.1)) },
  { name: 'checker', sdf: boxSdf(0.8, 0.8), texture: checker },
  { name: 'arrow', sdf: polygonSdf([-0.95, -0.25, 0.15, -0.25, 0.15, -0.65, 0.95, 0, 0.15, 0.65, 0.15, 0.25, -0.95, 0.25]) },
  { name: 'dots', sdf: boxSdf(0.8, 0.8), texture: dots },
];

/** Most classes the generator can draw. */
export const MAX_GENERATED_CLASSES = SHAPES.length;

/** Names of the first `classes` generator classes, in generator order. */
export function generatedClassNames(classes = 10): string[] {
  if (!Number.isInteger(classes) || classes < 2 || classes > SHAPES.length) {
    throw new RangeError(`generatedClassNames: classes must be an integer in [2, ${SHAPES.length}]. Received ${classes}.`);
  }
  return SHAPES.slice(0, classes).map((s) => s.name);
}

export interface GenerateImageOptions {
  /** Number of classes (the first n of the catalogue), 2–12. Default 10. */
  classes?: number;
  /** Image side in pixels (≥ 16). Default 96. */
  size?: number;
  /** Dataset seed. Default 0. */
  seed?: number;
}

function checkGenerateOptions(what: string, options: GenerateImageOptions): Required<GenerateImageOptions> {
  const { classes = 10, size = 96, seed = 0 } = options;
  generatedClassNames(classes);
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new RangeError(`${what}: size must be an integer in [16, 4096]. Received ${size}.`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what}: seed must be an integer. Received ${seed}.`);
  return { classes, size, seed };
}

/**
 * Image `index` of class `classIndex` (generator order, see {@link generatedClassNames}) as HWC RGB
 * bytes of size × size. A pure function of its arguments.
 */
export function renderClassificationImage(classIndex: number, index: number, options: GenerateImageOptions = {}): Uint8Array {
  const { classes, size, seed } = checkGenerateOptions('renderClassificationImage', options);
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classes) throw new RangeError(`renderClassificationImage: classIndex must be an integer in [0, ${classes}). Received ${classIndex}.`);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`renderClassificationImage: index must be a non-negative integer. Received ${index}.`);
  const random = mulberry32(hashSeed(seed, classIndex, index));
  const canvas = createCanvas(size, size);

  // Background: a gradient between two muted colours.
  const bg = (): Rgb => hsv(uniform(random, 0, 360), uniform(random, 0, 0.5), uniform(random, 0.15, 0.9));
  fillGradient(canvas, bg(), bg(), uniform(random, 0, 2 * Math.PI));

  // Distractors: small shapes of any class, some translucent.
  const distractors = 2 + randomInt(random, 3);
  for (let k = 0; k < distractors; k++) {
    const shape = SHAPES[randomInt(random, classes)];
    const colour = hsv(uniform(random, 0, 360), uniform(random, 0.2, 1), uniform(random, 0.2, 1));
    drawShape(canvas, shape.sdf, colour, { cx: uniform(random, 0, size), cy: uniform(random, 0, size), radius: size * uniform(random, 0.05, 0.11), angle: uniform(random, 0, 2 * Math.PI), alpha: uniform(random, 0.5, 1) });
  }

  // The object: class hue ± 60°, jittered placement (may be cut off at the border a little).
  const shape = SHAPES[classIndex];
  const hue = (360 * classIndex) / classes + uniform(random, -60, 60);
  const main = hsv(hue, uniform(random, 0.45, 1), uniform(random, 0.45, 1));
  const second = hsv(hue + uniform(random, 120, 240), uniform(random, 0.3, 1), uniform(random, 0.2, 1));
  const radius = size * uniform(random, 0.2, 0.36);
  const margin = radius * 0.7;
  const paint = shape.texture ? shape.texture(main, second, random) : main;
  drawShape(canvas, shape.sdf, paint, { cx: uniform(random, margin, size - margin), cy: uniform(random, margin, size - margin), radius, angle: uniform(random, 0, 2 * Math.PI) });

  // Sometimes one more distractor on top, partly occluding the object.
  if (random() < 0.3) {
    const other = SHAPES[randomInt(random, classes)];
    drawShape(canvas, other.sdf, hsv(uniform(random, 0, 360), uniform(random, 0.2, 1), uniform(random, 0.2, 1)), { cx: uniform(random, 0, size), cy: uniform(random, 0, size), radius: size * uniform(random, 0.05, 0.1), angle: uniform(random, 0, 2 * Math.PI) });
  }
  addNoise(canvas, uniform(random, 2, 18), random);
  return canvas.data;
}

/** One generated example in memory. */
export interface GeneratedImage {
  /** HWC RGB bytes, size × size × 3. */
  pixels: Uint8Array;
  /** Index into the sorted class names (the label readImageFolder gives the written folder). */
  label: number;
  /** The class's name. */
  className: string;
  /** Index of the image within its class. */
  index: number;
}

/**
 * The dataset in memory, class by class: `imagesPerClass` images of each of the first `classes`
 * classes, labelled like the folder {@link generateClassificationDataset} writes.
 */
export function* generateClassificationImages(options: GenerateImageOptions & { imagesPerClass: number }): Generator<GeneratedImage> {
  const { classes, size, seed } = checkGenerateOptions('generateClassificationImages', options);
  const { imagesPerClass } = options;
  if (!Number.isInteger(imagesPerClass) || imagesPerClass < 1) throw new RangeError(`generateClassificationImages: imagesPerClass must be a positive integer. Received ${imagesPerClass}.`);
  const names = generatedClassNames(classes);
  const sorted = [...names].sort(compareStrings);
  for (let c = 0; c < classes; c++) {
    for (let n = 0; n < imagesPerClass; n++) {
      yield { pixels: renderClassificationImage(c, n, { classes, size, seed }), label: sorted.indexOf(names[c]), className: names[c], index: n };
    }
  }
}

export interface GenerateDatasetOptions extends GenerateImageOptions {
  /** Images per class, ≥ 1. */
  imagesPerClass: number;
  /** Output folder; created if missing. Files are written as dir/<class>/<n>.png (n zero-padded). */
  dir: string;
  /** Called after each file is written, with the files written so far and the total. */
  onProgress?: (written: number, total: number) => void;
}

/** What {@link generateClassificationDataset} wrote. */
export interface GeneratedDataset {
  /** Class names, sorted: label = index, as readImageFolder will read them. */
  classes: string[];
  /** PNG files written. */
  files: number;
  /** The output folder, resolved. */
  dir: string;
}

/**
 * Writes the dataset as an image folder (`dir/<class>/<n>.png`) for readImageFolder and the
 * classification app. Rendering runs on this thread; PNG encoding and writing overlap on sharp's threads.
 */
export async function generateClassificationDataset(options: GenerateDatasetOptions): Promise<GeneratedDataset> {
  const { dir, imagesPerClass } = options;
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`generateClassificationDataset: dir must be a non-empty string. Received ${String(dir)}.`);
  const { classes, size, seed } = checkGenerateOptions('generateClassificationDataset', options);
  if (!Number.isInteger(imagesPerClass) || imagesPerClass < 1) throw new RangeError(`generateClassificationDataset: imagesPerClass must be a positive integer. Received ${imagesPerClass}.`);
  const root = path.resolve(dir);
  const names = generatedClassNames(classes);
  await Promise.all(names.map((name) => fs.promises.mkdir(path.join(root, name), { recursive: true })));
  const digits = Math.max(4, String(imagesPerClass - 1).length);
  // Rendering runs here; encoding and writing run on sharp's and libuv's threads. Waiting for the oldest
  // write once eight are in flight keeps both busy and the memory bounded.
  const inFlight: Promise<void>[] = [];
  const total = classes * imagesPerClass;
  let written = 0;
  for (let c = 0; c < classes; c++) {
    for (let n = 0; n < imagesPerClass; n++) {
      const pixels = renderClassificationImage(c, n, { classes, size, seed });
      const file = path.join(root, names[c], `${String(n).padStart(digits, '0')}.png`);
      const write = encodePng(pixels, size, size)
        .then((png) => fs.promises.writeFile(file, png))
        .then(() => options.onProgress?.(++written, total));
      write.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
      inFlight.push(write);
      if (inFlight.length >= 8) await inFlight.shift();
    }
  }
  await Promise.all(inFlight);
  return { classes: [...names].sort(compareStrings), files: classes * imagesPerClass, dir: root };
}
