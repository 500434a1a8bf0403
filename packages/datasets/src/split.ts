/**
 * The deterministic train/validation split shared by the readers. Within each class, files are ranked
 * by a hash of (seed, the file's path relative to the dataset root) and the first round(n · valFraction)
 * go to validation. The rank depends on names only — not on the machine, the locale, the directory
 * listing order or where the dataset lives — and adding a file moves at most one other file.
 */
import { hashSeed, hashString, mulberry32 } from '@mobilenets/random';

export interface SplitOptions {
  /** Fraction of each class held out for validation, in [0, 1). Default 0.2. */
  valFraction?: number;
  /** Seed of the split: another seed, another (equally stable) split. Default 0. */
  seed?: number;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function checkSplitOptions(what: string, options: SplitOptions): { valFraction: number; seed: number } {
  const { valFraction = 0.2, seed = 0 } = options;
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`${what}: valFraction must be in [0, 1) (the share of each class held out). Received ${valFraction}.`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what}: seed must be an integer. Received ${seed}.`);
  return { valFraction, seed };
}

/**
 * Splits one class's items: `key(item)` names an item stably (its path relative to the dataset root).
 * Both halves come back in key order.
 */
export function splitClass<T>(items: readonly T[], key: (item: T) => string, valFraction: number, seed: number): { train: T[]; val: T[] } {
  const ranked = items.map((item) => ({ item, k: key(item), h: hashSeed(seed, hashString(key(item))) }));
  ranked.sort((a, b) => a.h - b.h || compareStrings(a.k, b.k));
  const count = Math.round(items.length * valFraction);
  const byKey = (a: { k: string }, b: { k: string }) => compareStrings(a.k, b.k);
  return {
    val: ranked.slice(0, count).sort(byKey).map((r) => r.item),
    train: ranked.slice(count).sort(byKey).map((r) => r.item),
  };
}

/**
 * A seeded split of a list that has no classes (detection images, geotagged photos): a seeded shuffle
 * picks `fraction` of the records (at least one when fraction > 0) for validation; both halves keep the
 * records' order. The same records, fraction and seed give the same split.
 */
export function holdOut<T>(records: readonly T[], fraction: number, seed: number): { train: T[]; val: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`holdOut: fraction must be in [0, 1). Received ${fraction}.`);
  if (fraction === 0 || records.length === 0) return { train: [...records], val: [] };
  const order = records.map((_, i) => i);
  const random = mulberry32(hashSeed(seed, 0x5e7));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Set(order.slice(0, Math.max(1, Math.round(fraction * records.length))));
  return { train: records.filter((_, i) => !held.has(i)), val: records.filter((_, i) => held.has(i)) };
}
