/**
 * The project's one source of seeded random numbers, identical on every machine: 32-bit integer
 * arithmetic only (Math.imul and shifts), so a seed gives the same sequence in Node, browsers and
 * workers. Data order, augmentation, validation splits, dropout masks, weight initialisation seeds and
 * test data all draw from here.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** Mixes a 32-bit integer (splitmix32's finaliser): nearby inputs give unrelated outputs. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * One 32-bit seed from several integers, order-sensitive: `hashSeed(seed, epoch, index)` names one
 * example of one epoch. Non-integers are rejected so that 0.5 and 0 cannot collide silently.
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) throw new RangeError(`hashSeed: every part must be a safe integer. Received ${part}.`);
    // Fold in the high bits too, so seeds above 2³² still differ.
    h = mix32(h ^ mix32(part >>> 0) ^ Math.imul(Math.floor(part / 0x100000000) | 0, 0x27d4eb2d));
  }
  return h;
}

/** 32-bit FNV-1a over the string's UTF-16 code units: a stable hash of a file name or class name. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a fast generator with a 2³² period, plenty for shuffles and augmentation draws. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform number in [low, high). */
export function uniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random();
}

/** Uniform integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Fisher–Yates shuffle in place; returns the array. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** The permutation of 0…n−1 drawn by `random`. */
export function permutation(n: number, random: Random): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * `length` values uniform in [low, high) from `seed`: reproducible test and benchmark inputs.
 * Default range [-1, 1).
 */
export function uniformArray(length: number, seed: number, low = -1, high = 1): Float32Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`uniformArray: length must be a non-negative integer. Received ${length}.`);
  const random = mulberry32(hashSeed(seed));
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = low + (high - low) * random();
  return values;
}
