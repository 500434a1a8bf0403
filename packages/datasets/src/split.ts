/**
 * The deterministic train/validation split shared by the readers. Within each class, files are ranked
 * by a hash of (seed, the file's path relative to the dataset root) and the first round(n · valFraction)
 * go to validation. The rank depends on names only — not on the machine, the locale, the directory
 * listing order or where the dataset lives — and adding a file moves at most one other file.
 */
import { hashSeed, hashString } from '@mobilenets/random';

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
