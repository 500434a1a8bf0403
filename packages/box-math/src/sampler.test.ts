import { selectHardNegatives, sampleBalancedPositiveNegative } from './sampler';

/** A small linear congruential generator (Park–Miller), seeded: numbers in (0, 1). */
function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

const list = (a: ArrayLike<number>) => Array.from(a);

describe('sampleBalancedPositiveNegative', () => {
  // positives (≥ 0) at 0, 3, 5, 8, 11; ignored (−2) at 1, 9; negatives (−1) everywhere else.
  const matches = [0, -2, -1, 2, -1, 1, -1, -1, 0, -2, -1, 3, -1, -1, -1, -1];
  const positives = [0, 3, 5, 8, 11];
  const negatives = [2, 4, 6, 7, 10, 12, 13, 14, 15];

  it('takes ⌊batch · fraction⌋ positives and fills the batch with negatives', () => {
    // batch 8, fraction 0.25 → 2 positives (of 5), 8 − 2 = 6 negatives (of 9)
    const s = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 8, positiveFraction: 0.25, random: seeded(3) });
    expect(s.positiveIndices.length).toBe(2);
    expect(s.negativeIndices.length).toBe(6);
    for (const a of s.positiveIndices) expect(positives).toContain(a);
    for (const a of s.negativeIndices) expect(negatives).toContain(a);
    expect(new Set(s.negativeIndices).size).toBe(6);
    expect(list(s.negativeIndices)).toEqual(list(s.negativeIndices).sort((p, q) => p - q));
  });

  it('few positives: negatives fill the batch; few negatives: all of them', () => {
    // batch 8, fraction 0.5 → room for 4 positives; only [0] → 1 positive, 7 negatives of 9
    const few = sampleBalancedPositiveNegative([0, -1, -1, -1, -1, -1, -1, -1, -1, -1], { batchSizePerImage: 8, positiveFraction: 0.5, random: seeded(5) });
    expect([few.positiveIndices.length, few.negativeIndices.length]).toEqual([1, 7]);
    // batch 100: every positive (5 ≤ 50) and every negative (9 ≤ 95)
    const all = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 100, positiveFraction: 0.5, random: seeded(1) });
    expect(list(all.positiveIndices)).toEqual(positives);
    expect(list(all.negativeIndices)).toEqual(negatives);
  });

  it('hand-worked draws: random() = 0 takes the first candidates, 0.999 takes from the end', () => {
    // random 0: j = i each step → the first ⌊8 · 0.25⌋ = 2 positives [0, 3] and first 6 negatives.
    const first = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 8, positiveFraction: 0.25, random: () => 0 });
    expect(list(first.positiveIndices)).toEqual([0, 3]);
    expect(list(first.negativeIndices)).toEqual([2, 4, 6, 7, 10, 12]);
    // random 0.999 on positives [0, 3, 5, 8, 11], 2 draws:
    //   i = 0: j = 0 + ⌊0.999 · 5⌋ = 4 → swap 0 ↔ 4: [11, 3, 5, 8, 0]
    //   i = 1: j = 1 + ⌊0.999 · 4⌋ = 4 → swap 1 ↔ 4: [11, 0, 5, 8, 3] → chosen {11, 0} → [0, 11]
    const last = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 4, positiveFraction: 0.5, random: () => 0.999 });
    expect(list(last.positiveIndices)).toEqual([0, 11]);
  });

  it('chooses uniformly: each of 9 negatives about 3/9 of 3,000 draws of 3', () => {
    const random = seeded(42);
    const counts = new Map<number, number>();
    for (let t = 0; t < 3000; t++) {
      const s = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 3, positiveFraction: 0, random });
      expect(s.positiveIndices.length).toBe(0);
      for (const a of s.negativeIndices) counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    // expected 1,000 each; binomial sd ≈ √(3000 · 1/3 · 2/3) ≈ 26
    for (const a of negatives) expect(Math.abs((counts.get(a) ?? 0) - 1000)).toBeLessThan(150);
  });

  it('empty matches and a zero batch give nothing', () => {
    const empty = sampleBalancedPositiveNegative([], { batchSizePerImage: 8, positiveFraction: 0.5, random: seeded(1) });
    expect([empty.positiveIndices.length, empty.negativeIndices.length]).toEqual([0, 0]);
    const zero = sampleBalancedPositiveNegative(matches, { batchSizePerImage: 0, positiveFraction: 0.5, random: seeded(1) });
    expect([zero.positiveIndices.length, zero.negativeIndices.length]).toEqual([0, 0]);
  });

  it('errors name the option and the value received', () => {
    const random = seeded(1);
    expect(() => sampleBalancedPositiveNegative(matches, { batchSizePerImage: -1, positiveFraction: 0.5, random })).toThrow('batchSizePerImage: expected a non-negative integer, received -1');
    expect(() => sampleBalancedPositiveNegative(matches, { batchSizePerImage: 8, positiveFraction: 1.5, random })).toThrow('positiveFraction: expected a number in [0, 1], received 1.5');
    expect(() => sampleBalancedPositiveNegative(matches, { batchSizePerImage: 8, positiveFraction: 0.5, random: () => 1 })).toThrow('random: expected numbers in [0, 1), received 1');
    expect(() => sampleBalancedPositiveNegative(matches, { batchSizePerImage: 8, positiveFraction: 0.5, random: 7 as unknown as () => number })).toThrow(TypeError);
  });
});

describe('selectHardNegatives', () => {
  // anchors:    0    1     2     3    4     5    6     7
  const matches = [0, -1, -1, -2, -1, 1, -1, -1];
  const losses = [5, 0.2, 0.9, 10, 0.5, 1, 0.9, 0.1];

  it('keeps every positive and the highest-loss negatives, at most 3 a positive by default', () => {
    // 2 positives (0, 5) → room for 6 negatives; only 5 (1, 2, 4, 6, 7) → all, by loss:
    // 2 (0.9), 6 (0.9, tie → after 2), 4 (0.5), 1 (0.2), 7 (0.1). Ignored anchor 3 (loss 10) never.
    const s = selectHardNegatives(losses, matches);
    expect(list(s.positiveIndices)).toEqual([0, 5]);
    expect(list(s.negativeIndices)).toEqual([2, 6, 4, 1, 7]);
  });

  it('negativesPerPositive caps the negatives (⌊ratio · #positives⌋)', () => {
    // ratio 1 · 2 positives → 2 negatives; ratio 1.75 · 2 = 3.5 → 3
    expect(list(selectHardNegatives(losses, matches, { negativesPerPositive: 1 }).negativeIndices)).toEqual([2, 6]);
    expect(list(selectHardNegatives(losses, matches, { negativesPerPositive: 1.75 }).negativeIndices)).toEqual([2, 6, 4]);
    expect(selectHardNegatives(losses, matches, { negativesPerPositive: 0 }).negativeIndices.length).toBe(0);
  });

  it('no positives: minNegatives (default 0) decides', () => {
    const noPositives = [-1, -1, -2, -1];
    const l = [0.3, 0.7, 9, 0.5];
    expect(selectHardNegatives(l, noPositives).negativeIndices.length).toBe(0);
    expect(list(selectHardNegatives(l, noPositives, { minNegatives: 2 }).negativeIndices)).toEqual([1, 3]);
    // more than are available: all 3 negatives
    expect(list(selectHardNegatives(l, noPositives, { minNegatives: 10 }).negativeIndices)).toEqual([1, 3, 0]);
  });

  it('empty input and errors', () => {
    const e = selectHardNegatives([], []);
    expect([e.positiveIndices.length, e.negativeIndices.length]).toEqual([0, 0]);
    expect(() => selectHardNegatives([1, 2], [0])).toThrow('lossesPerAnchor: expected one loss an anchor (1 match results), received 2');
    expect(() => selectHardNegatives(losses, matches, { negativesPerPositive: -1 })).toThrow(/negativesPerPositive.*received -1/);
    expect(() => selectHardNegatives(losses, matches, { minNegatives: 0.5 })).toThrow('minNegatives: expected a non-negative integer, received 0.5');
    expect(() => selectHardNegatives([0, Number.NaN], [0, -1])).toThrow('lossesPerAnchor[1]: expected a number, received NaN');
  });
});
