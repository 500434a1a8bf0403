import { adjustColor, augmentImage, flipHorizontal, resolveAugmentOptions, sampleAugmentation, sampleCrop } from './augment';
import { encodePng } from './image-io';
import { mulberry32 } from '@mobilenets/random';

/** A 64 × 48 image with a horizontal and a vertical ramp, so crops and flips show. */
async function rampPng(): Promise<Buffer> {
  const w = 64;
  const h = 48;
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([x * 4, y * 5, 128], (y * w + x) * 3);
  return encodePng(px, w, h);
}

describe('sampleCrop', () => {
  it('keeps area fraction in [0.35, 1] and aspect ratio in [3/4, 4/3], inside the image', () => {
    const random = mulberry32(1);
    for (let k = 0; k < 500; k++) {
      const [W, H] = [100 + Math.floor(random() * 100), 100 + Math.floor(random() * 100)];
      const c = sampleCrop(W, H, random);
      expect(c.left).toBeGreaterThanOrEqual(0);
      expect(c.top).toBeGreaterThanOrEqual(0);
      expect(c.left + c.width).toBeLessThanOrEqual(W);
      expect(c.top + c.height).toBeLessThanOrEqual(H);
      const area = (c.width * c.height) / (W * H);
      const ratio = c.width / c.height;
      // Rounding to whole pixels moves both a little.
      expect(area).toBeGreaterThan(0.3);
      expect(area).toBeLessThanOrEqual(1);
      expect(ratio).toBeGreaterThan(0.7);
      expect(ratio).toBeLessThan(1.4);
    }
  });

  it('falls back to a centred crop within the aspect range for a very long image', () => {
    const c = sampleCrop(1000, 10, mulberry32(0));
    expect(c).toEqual({ left: 493, top: 0, width: 13, height: 10 });
  });

  it('rejects impossible options', () => {
    expect(() => resolveAugmentOptions({ minArea: 0 })).toThrow(/0 < minArea ≤ maxArea ≤ 1\. Received minArea 0/);
    expect(() => resolveAugmentOptions({ contrast: [1.2, 0.8] })).toThrow(/contrast must be \[min, max\]/);
    expect(() => resolveAugmentOptions({ brightness: -1 })).toThrow(RangeError);
  });
});

describe('pixel augmentations', () => {
  const img = Float32Array.from({ length: 3 * 2 * 3 }, (_, i) => (i / 17) * 2 - 1);

  it('flipHorizontal mirrors columns and is its own inverse', () => {
    const flipped = flipHorizontal(img, 3, 2);
    expect(Array.from(flipped.subarray(0, 3))).toEqual(Array.from(img.subarray(6, 9)));
    expect(flipHorizontal(flipped, 3, 2)).toEqual(img);
    expect(() => flipHorizontal(img, 4, 2)).toThrow(/4×2×3 = 24 values\. Received 18/);
  });

  it('adjustColor is the identity at neutral settings, and clips', () => {
    const same = adjustColor(img, { brightness: 0, contrast: 1, saturation: 1 });
    same.forEach((v, i) => expect(v).toBeCloseTo(img[i], 6));
    const bright = adjustColor(img, { brightness: 255, contrast: 1, saturation: 1 });
    expect(Math.max(...bright)).toBe(1);
    expect(Math.min(...bright)).toBeGreaterThanOrEqual(1 - 0.0001);
    const gray = adjustColor(Float32Array.from([0.5, -0.5, 0]), { brightness: 0, contrast: 1, saturation: 0 });
    expect(gray[0]).toBeCloseTo(gray[1], 6);
    expect(gray[1]).toBeCloseTo(gray[2], 6);
  });

  it('draws within the documented ranges', () => {
    const random = mulberry32(5);
    for (let k = 0; k < 200; k++) {
      const p = sampleAugmentation(100, 80, random);
      expect(Math.abs(p.brightness)).toBeLessThanOrEqual(0.125 * 255);
      expect(p.contrast).toBeGreaterThanOrEqual(0.8);
      expect(p.contrast).toBeLessThanOrEqual(1.2);
      expect(p.saturation).toBeGreaterThanOrEqual(0.8);
      expect(p.saturation).toBeLessThanOrEqual(1.2);
    }
    const flips = Array.from({ length: 400 }, () => sampleAugmentation(10, 10, random).flip).filter(Boolean).length;
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
    expect(sampleAugmentation(10, 10, random, { flip: false }).flip).toBe(false);
  });
});

describe('augmentImage', () => {
  it('gives identical pixels for the same seed and different pixels for another', async () => {
    const png = await rampPng();
    const a = await augmentImage(png, 32, 42);
    const b = await augmentImage(png, 32, 42);
    const c = await augmentImage(png, 32, 43);
    expect([a.width, a.height, a.pixels.length]).toEqual([32, 32, 32 * 32 * 3]);
    expect(b.pixels).toEqual(a.pixels);
    expect(b.params).toEqual(a.params);
    expect(c.pixels).not.toEqual(a.pixels);
    expect(Math.min(...a.pixels)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...a.pixels)).toBeLessThanOrEqual(1);
  });

  it('with everything off but the crop, matches the crop of the source', async () => {
    const png = await rampPng();
    const off = { flip: false, brightness: 0, contrast: [1, 1] as [number, number], saturation: [1, 1] as [number, number], minArea: 1 };
    const { pixels, params } = await augmentImage(png, 48, 0, { ...off, aspectRatio: [48 / 48, 48 / 48] });
    expect(params.crop).toEqual({ left: 8, top: 0, width: 48, height: 48 });
    // Column 0 of the output is source column 8: red = 8 · 4 = 32.
    expect(pixels[0]).toBeCloseTo(32 / 127.5 - 1, 2);
  });
});
