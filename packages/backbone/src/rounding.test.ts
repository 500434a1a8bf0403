import { makeDivisible, v1Channels } from './rounding';

describe('v1Channels (TF-slim: max(int(c·α), min_depth))', () => {
  it.each([
    [32, 1, 32],
    [32, 0.25, 8],
    [64, 0.1, 8], // min_depth floor
    [1024, 0.75, 768],
    [512, 0.35, 179], // truncation, not rounding to 8
    [32, 0.3, 9],
  ])('%i channels at α=%f → %i', (channels, alpha, expected) => {
    expect(v1Channels(channels, alpha)).toBe(expected);
  });

  it('honours a custom min depth', () => {
    expect(v1Channels(32, 0.25, 16)).toBe(16);
  });
});

describe('makeDivisible (TF-slim _make_divisible, values from the reference Python)', () => {
  it.each([
    [32 * 0.35, 16],
    [16 * 0.35, 8],
    [24 * 0.35, 8],
    [64 * 0.35, 24],
    [96 * 0.35, 32],
    [160 * 0.35, 56],
    [320 * 0.35, 112],
    [1280 * 1.4, 1792],
    [32 * 1.3, 40],
    [3, 8],
    [100, 104],
  ])('%f → %i', (value, expected) => {
    expect(makeDivisible(value)).toBe(expected);
  });

  it('never rounds down by more than 10%', () => {
    for (let v = 1; v < 2000; v += 0.7) expect(makeDivisible(v)).toBeGreaterThanOrEqual(0.9 * v);
  });
});
