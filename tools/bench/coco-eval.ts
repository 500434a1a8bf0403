/**
 * COCO box evaluation speed: a seeded synthetic set of 5,000 images with 100 detections each (10 categories,
 * 1–10 ground-truth boxes an image, detections jittered copies of them plus random boxes), evaluated once;
 * prints the seconds (parsing included) and the 12 stats.
 * Usage: node -r ./tools/ts-register.js tools/bench/coco-eval.ts [--images 5000] [--seed 1]
 */
import { evaluateCocoBoxes, formatCocoStats } from '@mobilenets/box-math';

function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** A tiny linear congruential generator (Numerical Recipes constants): uniform numbers in [0, 1). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A random box inside a 640 × 480 image, sides 4 to ~300 pixels (small, medium and large objects). */
function randomBox(rand: () => number): Box {
  const w = 4 + 300 * rand() ** 2;
  const h = 4 + 300 * rand() ** 2;
  return { x: rand() * (640 - w), y: rand() * (480 - h), w, h };
}

/** `box` moved and resized by up to ±`amount` of its size. */
function jitter(box: Box, amount: number, rand: () => number): Box {
  const j = () => 1 + amount * (2 * rand() - 1);
  return { x: box.x + box.w * amount * (2 * rand() - 1), y: box.y + box.h * amount * (2 * rand() - 1), w: box.w * j(), h: box.h * j() };
}

function synthesize(images: number, seed: number) {
  const rand = lcg(seed);
  const categories = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: `class${i + 1}` }));
  const annotations = [];
  const results = [];
  for (let image = 1; image <= images; image++) {
    const objects = Array.from({ length: 1 + Math.floor(rand() * 10) }, () => ({ box: randomBox(rand), category: 1 + Math.floor(rand() * 10) }));
    for (const o of objects) {
      const iscrowd = rand() < 0.01 ? 1 : 0;
      annotations.push({ id: annotations.length + 1, image_id: image, category_id: o.category, bbox: [o.box.x, o.box.y, o.box.w, o.box.h], area: o.box.w * o.box.h * 0.8, iscrowd });
    }
    for (let d = 0; d < 100; d++) {
      const o = objects[Math.floor(rand() * objects.length)];
      const real = d < 3 * objects.length;
      const box = real ? jitter(o.box, 0.15 * rand(), rand) : randomBox(rand);
      const category = real && rand() < 0.9 ? o.category : 1 + Math.floor(rand() * 10);
      results.push({ image_id: image, category_id: category, bbox: [box.x, box.y, box.w, box.h], score: Math.round((real ? 0.3 + 0.7 * rand() : 0.6 * rand()) * 1000) / 1000 });
    }
  }
  return { groundTruth: { images: Array.from({ length: images }, (_, i) => ({ id: i + 1 })), annotations, categories }, results };
}

function main(): void {
  const images = Number(argument('images', '5000'));
  const seed = Number(argument('seed', '1'));
  const { groundTruth, results } = synthesize(images, seed);
  const started = process.hrtime.bigint();
  const { stats } = evaluateCocoBoxes(groundTruth, results);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${images} images, ${groundTruth.annotations.length} ground-truth boxes, ${results.length} detections, seed ${seed}`);
  console.log(`evaluateCocoBoxes: ${seconds.toFixed(2)} s`);
  console.log(formatCocoStats(stats));
}

main();
