import { hashSeed, hashString, mulberry32, permutation, shuffleInPlace } from './random';

describe('prng', () => {
  it('gives pinned values (a change here changes every split, shuffle and augmentation)', () => {
    const r = mulberry32(hashSeed(0, 1, 2));
    expect([hashSeed(0), hashSeed(0, 1, 2), hashString('cat/1.png')]).toMatchInlineSnapshot(`
[
  1260075827,
  3728046346,
  3077011530,
]
`);
    expect([r(), r()]).toMatchInlineSnapshot(`
[
  0.9020546006504446,
  0.1887169072870165,
]
`);
  });

  it('hashSeed is order-sensitive and separates large seeds', () => {
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1));
    expect(hashSeed(2 ** 32)).not.toBe(hashSeed(0));
    expect(() => hashSeed(0.5)).toThrow(/safe integer\. Received 0\.5/);
  });

  it('mulberry32 is uniform-ish in [0, 1) and permutations are permutations', () => {
    const r = mulberry32(123);
    const xs = Array.from({ length: 10000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
    const p = permutation(100, mulberry32(1));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(shuffleInPlace([1, 2, 3, 4], mulberry32(1)).sort()).toEqual([1, 2, 3, 4]);
  });
});
