import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateGeoDataset, renderGeoImage, sampleGeoPlace, solarPosition } from './generate-geo';
import { readGeoCsv } from './geo-csv';
import { greatCircleKm } from './geo-world';
import { decodeImage } from './image-io';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-generate-geo-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Pearson correlation. */
function correlation(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((v, i) => {
    ab += (v - ma) * (b[i] - mb);
    aa += (v - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  });
  return ab / Math.sqrt(aa * bb);
}

/** Welch's t statistic of mean(a) − mean(b). */
function welchT(a: number[], b: number[]): number {
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const variance = (x: number[]) => x.reduce((s, v) => s + (v - mean(x)) ** 2, 0) / (x.length - 1);
  return (mean(a) - mean(b)) / Math.sqrt(variance(a) / a.length + variance(b) / b.length);
}

/** Mean of (red − blue) and of (green − (red + blue) / 2) over the lower half of an image: how warm and how green the ground is. */
function groundColour(pixels: Uint8Array): { warm: number; green: number } {
  let warm = 0;
  let green = 0;
  const start = (pixels.length / 6) * 3;
  for (let k = start; k < pixels.length; k += 3) {
    warm += pixels[k] - pixels[k + 2];
    green += pixels[k + 1] - (pixels[k] + pixels[k + 2]) / 2;
  }
  const n = (pixels.length - start) / 3;
  return { warm: warm / n, green: green / n };
}

/** A hue histogram (18 hues of 20°, and 6 grey levels for unsaturated pixels), normalised. */
function hueHistogram(pixels: Uint8Array): Float64Array {
  const bins = new Float64Array(24);
  for (let k = 0; k < pixels.length; k += 3) {
    const r = pixels[k];
    const g = pixels[k + 1];
    const b = pixels[k + 2];
    const max = Math.max(r, g, b);
    const range = max - Math.min(r, g, b);
    if (range < 12) {
      bins[18 + Math.min(5, max >> 6)]++;
      continue;
    }
    const hue = ((max === r ? (g - b) / range : max === g ? 2 + (b - r) / range : 4 + (r - g) / range) + 6) % 6;
    bins[Math.floor(hue * 3)]++;
  }
  return bins.map((v) => v / (pixels.length / 3));
}

const l1 = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0);

describe('renderGeoImage', () => {
  it('is a pure function of (seed, index): same pixels and place; another index or seed, another photo; the size does not move it', () => {
    const a = renderGeoImage(11, { size: 48, seed: 1 });
    expect(a.pixels).toHaveLength(48 * 48 * 3);
    expect(a.size).toBe(48);
    expect(renderGeoImage(11, { size: 48, seed: 1 })).toEqual(a);
    const next = renderGeoImage(12, { size: 48, seed: 1 });
    expect(next.pixels).not.toEqual(a.pixels);
    expect(next.lat).not.toBe(a.lat);
    expect(renderGeoImage(11, { size: 48, seed: 2 }).pixels).not.toEqual(a.pixels);
    const big = renderGeoImage(11, { size: 64, seed: 1 });
    expect([big.lat, big.lon, big.city, big.country]).toEqual([a.lat, a.lon, a.city, a.country]);
    const place = sampleGeoPlace(11, { seed: 1 });
    expect([place.lat, place.lon, place.city, place.country]).toEqual([a.lat, a.lon, a.city, a.country]);
    expect(renderGeoImage(0).size).toBe(128);
  });

  it('gives valid coordinates and varied images (no blank frames)', () => {
    for (let i = 0; i < 100; i++) {
      const { lat, lon, pixels, city, country } = renderGeoImage(i, { size: 32 });
      expect(lat).toBeGreaterThanOrEqual(-90);
      expect(lat).toBeLessThanOrEqual(90);
      expect(lon).toBeGreaterThanOrEqual(-180);
      expect(lon).toBeLessThan(180);
      expect(city.length).toBeGreaterThan(0);
      expect(country).toMatch(/^[A-Z]{2}$/);
      let min = 255;
      let max = 0;
      for (const v of pixels) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(max - min).toBeGreaterThan(20);
    }
  });

  it('shows latitude: the ground is greener in the tropics than in the dry subtropics, and less warm-coloured poleward of them', () => {
    const rows = Array.from({ length: 300 }, (_, i) => {
      const image = renderGeoImage(i, { size: 32 });
      return { absLat: Math.abs(image.lat), ...groundColour(image.pixels) };
    });
    const tropics = rows.filter((r) => r.absLat < 15);
    const subtropics = rows.filter((r) => r.absLat >= 15 && r.absLat < 30);
    const poleward = rows.filter((r) => r.absLat >= 15);
    expect(tropics.length).toBeGreaterThan(30);
    expect(subtropics.length).toBeGreaterThan(30);
    expect(welchT(tropics.map((r) => r.green), subtropics.map((r) => r.green))).toBeGreaterThan(3);
    // From the deserts of the horse latitudes to the boreal forest: ≈ −0.3 (no relation: 0 ± 0.065).
    expect(correlation(poleward.map((r) => r.warm), poleward.map((r) => r.absLat))).toBeLessThan(-0.2);
  });

  it('makes photos of one city more alike than photos from cities 5000+ km apart', () => {
    const places = Array.from({ length: 2500 }, (_, i) => sampleGeoPlace(i));
    const byCity = new Map<number, number[]>();
    places.forEach((p, i) => byCity.set(p.cityId, [...(byCity.get(p.cityId) ?? []), i]));
    const same: [number, number][] = [];
    for (const indices of byCity.values()) if (indices.length >= 2 && same.length < 150) same.push([indices[0], indices[1]]);
    const far: [number, number][] = [];
    for (let a = 0; far.length < 150; a++) {
      const b = a + 1 + ((a * 7919) % 500);
      if (greatCircleKm(places[a].lat, places[a].lon, places[b].lat, places[b].lon) > 5000) far.push([a, b]);
    }
    const features = new Map<number, Float64Array>();
    const feature = (i: number) => {
      if (!features.has(i)) features.set(i, hueHistogram(renderGeoImage(i, { size: 32 }).pixels));
      return features.get(i) as Float64Array;
    };
    const distances = (pairs: [number, number][]) => pairs.map(([a, b]) => l1(feature(a), feature(b)));
    const sameCity = distances(same);
    const farApart = distances(far);
    expect(same.length).toBe(150);
    // Same city ≈ 1.03, far apart ≈ 1.27 (standard errors ≈ 0.025).
    expect(welchT(farApart, sameCity)).toBeGreaterThan(4);
  });

  it('rejects bad options and indices with RangeErrors that name them', () => {
    expect(() => renderGeoImage(0, { size: 8 })).toThrow(new RangeError('renderGeoImage: size must be an integer in [16, 4096] (pixels). Received 8.'));
    expect(() => renderGeoImage(0, { size: 32.5 })).toThrow(RangeError);
    expect(() => renderGeoImage(0, { seed: 0.5 })).toThrow('renderGeoImage: seed must be a safe integer. Received 0.5.');
    expect(() => renderGeoImage(-1)).toThrow(new RangeError('renderGeoImage: index must be a non-negative integer. Received -1.'));
    expect(() => renderGeoImage(1.5)).toThrow(RangeError);
    expect(() => sampleGeoPlace(Number.NaN)).toThrow('sampleGeoPlace: index must be a non-negative integer. Received NaN.');
  });
});

describe('solarPosition', () => {
  it('puts the noon sun overhead at the equinox on the equator, low in a northern winter, and in the east in the morning', () => {
    expect(solarPosition(0, 79, 12).elevationDeg).toBeGreaterThan(89);
    const winter = solarPosition(60, 355, 12); // near the December solstice
    expect(winter.elevationDeg).toBeCloseTo(90 - 60 - 23.44, 0);
    expect(winter.azimuthDeg).toBeCloseTo(180, 5);
    expect(solarPosition(-60, 355, 12).elevationDeg).toBeCloseTo(90 - 60 + 23.44, 0); // southern summer
    const morning = solarPosition(45, 172, 8);
    expect(morning.azimuthDeg).toBeGreaterThan(45);
    expect(morning.azimuthDeg).toBeLessThan(135);
    expect(solarPosition(45, 172, 0).elevationDeg).toBeLessThan(0);
  });
});

describe('generateGeoDataset', () => {
  it('writes JPEGs and a path,lat,lon CSV inside dir only, which readGeoCsv reads back without bad rows', async () => {
    const parent = path.join(tmp, 'parent');
    const dir = path.join(parent, 'set');
    const progress: number[] = [];
    const records = await generateGeoDataset({ dir, images: 5, size: 32, seed: 3, firstIndex: 7, onProgress: (written, total) => progress.push(written / total) });
    expect(fs.readdirSync(parent)).toEqual(['set']);
    expect(fs.readdirSync(dir).sort()).toEqual(['images', 'photos.csv']); // no temporary file left
    expect(fs.readdirSync(path.join(dir, 'images')).sort()).toEqual(['000007.jpg', '000008.jpg', '000009.jpg', '000010.jpg', '000011.jpg']);
    expect(progress).toEqual([0.2, 0.4, 0.6, 0.8, 1]);

    const text = fs.readFileSync(path.join(dir, 'photos.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe('path,lat,lon');
    expect(text.split('\n')[1]).toMatch(/^images\/000007\.jpg,-?\d+\.\d{6},-?\d+\.\d{6}$/);
    const { records: read, badRows } = await readGeoCsv(path.join(dir, 'photos.csv'));
    expect(badRows).toEqual([]);
    expect(read).toEqual(records);

    for (const [n, record] of records.entries()) {
      const rendered = renderGeoImage(7 + n, { size: 32, seed: 3 });
      expect(record.lat).toBeCloseTo(rendered.lat, 6);
      expect(record.lon).toBeCloseTo(rendered.lon, 6);
      const decoded = await decodeImage(fs.readFileSync(record.path), {});
      expect([decoded.width, decoded.height]).toEqual([32, 32]);
      // JPEG at quality 90: the decoded photo is the rendered one up to compression noise.
      let error = 0;
      decoded.pixels.forEach((v, i) => (error += Math.abs((v + 1) * 127.5 - rendered.pixels[i])));
      expect(error / rendered.pixels.length).toBeLessThan(10); // about 6 measured at 32 px
    }
  });

  it('rejects bad options before writing anything', async () => {
    const dir = path.join(tmp, 'never');
    await expect(generateGeoDataset({ dir, images: 0 })).rejects.toThrow(new RangeError('generateGeoDataset: images must be a positive integer. Received 0.'));
    await expect(generateGeoDataset({ dir, images: 2, firstIndex: -1 })).rejects.toThrow(RangeError);
    await expect(generateGeoDataset({ dir, images: 2, size: 5000 })).rejects.toThrow('generateGeoDataset: size must be an integer in [16, 4096] (pixels). Received 5000.');
    await expect(generateGeoDataset({ dir, images: 2, seed: -0.5 })).rejects.toThrow(RangeError);
    await expect(generateGeoDataset({ dir: '', images: 2 })).rejects.toThrow(TypeError);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
