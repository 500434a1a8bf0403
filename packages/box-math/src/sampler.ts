/**
 * Which anchors a detection loss looks at, from the matcher's results (one entry an anchor:
 * ground-truth index ≥ 0 = positive, UNMATCHED −1 = negative, IGNORED −2 or any other negative
 * code = neither; see ./matcher):
 *
 * - `sampleBalancedPositiveNegative`: the random balanced sampler of Faster R-CNN (torchvision's
 *   BalancedPositiveNegativeSampler, TF's BalancedPositiveNegativeSampler with a batch size);
 * - `selectHardNegatives`: SSD's hard-negative mining, the negatives with the highest loss.
 *
 * The package has no random generator: callers pass `random: () => number` in [0, 1).
 */

/** Anchor indices chosen by a sampler, ascending unless a function says otherwise. */
export interface SampledAnchors {
  positiveIndices: Int32Array;
  negativeIndices: Int32Array;
}

/** Options of {@link sampleBalancedPositiveNegative}. */
export interface BalancedSamplerOptions {
  /** Anchors (or proposals) to sample an image: RPN 256, box head 512 in the reference configs. */
  batchSizePerImage: number;
  /** Largest share of positives, in [0, 1]: RPN 0.5, box head 0.25. */
  positiveFraction: number;
  /** Uniform numbers in [0, 1), e.g. a seeded generator from @mobilenets/random. */
  random: () => number;
}

/**
 * Samples up to ⌊batchSizePerImage · positiveFraction⌋ positives at random (all of them if fewer),
 * then fills the rest of the batch with random negatives (all of them if fewer):
 * numPositives = min(#positives, ⌊batch · fraction⌋), numNegatives = min(#negatives, batch − numPositives),
 * as in torchvision and TF (⌊·⌋ of the floating-point product, like Python's int()). Each is a
 * uniform choice without replacement (a partial Fisher–Yates shuffle drawing one `random()` a
 * chosen anchor, positives first). Returns ascending anchor indices.
 */
export function sampleBalancedPositiveNegative(matches: ArrayLike<number>, options: BalancedSamplerOptions): SampledAnchors {
  const { batchSizePerImage, positiveFraction, random } = options;
  if (!(Number.isInteger(batchSizePerImage) && batchSizePerImage >= 0)) {
    throw new RangeError(`batchSizePerImage: expected a non-negative integer, received ${String(batchSizePerImage)}.`);
  }
  if (typeof positiveFraction !== 'number' || !(positiveFraction >= 0 && positiveFraction <= 1)) {
    throw new RangeError(`positiveFraction: expected a number in [0, 1], received ${String(positiveFraction)}.`);
  }
  if (typeof random !== 'function') throw new TypeError(`random: expected a function returning numbers in [0, 1), received ${typeof random}.`);
  const { positives, negatives } = splitByMatch(matches);
  const numPositives = Math.min(positives.length, Math.floor(batchSizePerImage * positiveFraction));
  const numNegatives = Math.min(negatives.length, batchSizePerImage - numPositives);
  return {
    positiveIndices: chooseAtRandom(positives, numPositives, random),
    negativeIndices: chooseAtRandom(negatives, numNegatives, random),
  };
}

/** Positive (match ≥ 0) and negative (match = −1) anchor indices, ascending. */
function splitByMatch(matches: ArrayLike<number>): { positives: number[]; negatives: number[] } {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let a = 0; a < matches.length; a++) {
    if (matches[a] >= 0) positives.push(a);
    else if (matches[a] === -1) negatives.push(a);
  }
  return { positives, negatives };
}

/** `count` distinct items of `pool` (shuffled in place), uniformly at random, returned ascending. */
function chooseAtRandom(pool: number[], count: number, random: () => number): Int32Array {
  for (let i = 0; i < count; i++) {
    const r = random();
    if (!(r >= 0 && r < 1)) throw new RangeError(`random: expected numbers in [0, 1), received ${r}.`);
    const j = i + Math.floor(r * (pool.length - i));
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return Int32Array.from(pool.slice(0, count)).sort();
}

/** Options of {@link selectHardNegatives}. */
export interface HardNegativeOptions {
  /** At most this many negatives a positive (⌊ratio · #positives⌋); default 3 (SSD paper, TF SSD configs, torchvision neg_to_pos_ratio). */
  negativesPerPositive?: number;
  /**
   * At least this many negatives when available, even with few or no positives. Default 0, TF
   * HardExampleMiner's min_negatives_per_image default (some TF SSD configs set 3); torchvision has none.
   */
  minNegatives?: number;
}

/**
 * SSD hard-negative mining: keeps every positive anchor (match ≥ 0) and the negatives (match = −1)
 * with the highest classification loss, at most max(minNegatives, ⌊negativesPerPositive · #positives⌋)
 * of them. Ignored anchors are neither. This is TF's HardExampleMiner in the SSD paper's setting
 * (num_hard_examples None, iou_threshold 1.0: no NMS over the losses) and torchvision's SSD loss.
 *
 * @param lossesPerAnchor one classification loss an anchor (a NaN loss on a negative is a RangeError)
 * @returns positives ascending; negatives by descending loss, equal losses lower index first
 */
export function selectHardNegatives(lossesPerAnchor: ArrayLike<number>, matches: ArrayLike<number>, options: HardNegativeOptions = {}): SampledAnchors {
  const { negativesPerPositive = 3, minNegatives = 0 } = options;
  if (lossesPerAnchor.length !== matches.length) {
    throw new RangeError(`lossesPerAnchor: expected one loss an anchor (${matches.length} match results), received ${lossesPerAnchor.length}.`);
  }
  if (typeof negativesPerPositive !== 'number' || !(negativesPerPositive >= 0 && negativesPerPositive < Infinity)) {
    throw new RangeError(`negativesPerPositive: expected a finite non-negative number, received ${String(negativesPerPositive)}.`);
  }
  if (!(Number.isInteger(minNegatives) && minNegatives >= 0)) {
    throw new RangeError(`minNegatives: expected a non-negative integer, received ${String(minNegatives)}.`);
  }
  const { positives, negatives } = splitByMatch(matches);
  for (const a of negatives) {
    if (Number.isNaN(lossesPerAnchor[a])) throw new RangeError(`lossesPerAnchor[${a}]: expected a number, received NaN.`);
  }
  const count = Math.min(negatives.length, Math.max(minNegatives, Math.floor(negativesPerPositive * positives.length)));
  const byLoss = Int32Array.from(negatives).sort((p, q) => lossesPerAnchor[q] - lossesPerAnchor[p] || p - q);
  return { positiveIndices: Int32Array.from(positives), negativeIndices: byLoss.slice(0, count) };
}
