import { EARTH_RADIUS_KM, GEO_SCALES, geoScores, haversineKm } from './distance';

describe('haversineKm', () => {
  // Reference distances computed on a sphere of 6371 km (the usual published great-circle figures).
  it.each([
    ['Paris – London', { lat: 48.8566, lon: 2.3522 }, { lat: 51.5074, lon: -0.1278 }, 343.6],
    ['New York – Los Angeles', { lat: 40.7128, lon: -74.006 }, { lat: 34.0522, lon: -118.2437 }, 3935.7],
    ['Sydney – Tokyo', { lat: -33.8688, lon: 151.2093 }, { lat: 35.6762, lon: 139.6503 }, 7823.3],
  ])('%s', (_name, a, b, km) => {
    expect(haversineKm(a, b)).toBeCloseTo(km, -1); // within 5 km of the published figure
    expect(haversineKm(b, a)).toBeCloseTo(haversineKm(a, b), 9);
  });

  it('is zero for the same point, half the circumference for antipodes, and crosses the date line the short way', () => {
    expect(haversineKm({ lat: 10, lon: 20 }, { lat: 10, lon: 20 })).toBe(0);
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
    expect(haversineKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
    // 1° of longitude on the equator, across ±180°.
    expect(haversineKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 })).toBeCloseTo((Math.PI / 180) * EARTH_RADIUS_KM, 6);
  });
});

describe('geoScores', () => {
  it('counts an error equal to the radius as within it, and gives the median and mean', () => {
    const s = geoScores([0.5, 1, 24, 25.01, 3000]);
    expect(s.withinKm).toEqual({ 1: 0.4, 25: 0.6, 200: 0.8, 750: 0.8, 2500: 0.8 });
    expect(s.medianKm).toBe(24);
    expect(s.meanKm).toBeCloseTo((0.5 + 1 + 24 + 25.01 + 3000) / 5, 9);
    expect(s.count).toBe(5);
  });

  it('takes the mean of the middle two for an even count, and custom radii', () => {
    expect(geoScores([4, 1, 3, 2]).medianKm).toBe(2.5);
    expect(geoScores([4, 1, 3, 2], [2]).withinKm).toEqual({ 2: 0.5 });
  });

  it('has the five scales of Table 11', () => {
    expect(GEO_SCALES.map((s) => s.km)).toEqual([1, 25, 200, 750, 2500]);
  });

  it('rejects an empty set and negative or NaN errors', () => {
    expect(() => geoScores([])).toThrow(/no errors/);
    expect(() => geoScores([1, -2])).toThrow(/non-negative/);
    expect(() => geoScores([1, NaN])).toThrow(/non-negative/);
    expect(() => geoScores([5, 3, -2, 4])).toThrow(new RangeError('geoScores: errors must be non-negative km. Received -2 at index 2.'));
  });
});
