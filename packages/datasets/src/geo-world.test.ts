import { biomeOf, cityScaleKm, citySamplingWeights, destination, greatCircleKm, placeTraits, sampleGeoPlace, sphereField, unitVector, type GeoPlace } from './geo-world';

describe('sampleGeoPlace', () => {
  const SAMPLES = 2000;
  let places: GeoPlace[];
  beforeAll(() => {
    places = Array.from({ length: SAMPLES }, (_, i) => sampleGeoPlace(i, 0));
  });

  it('is a pure function of (seed, index) and gives valid coordinates at the stated distance from the city', () => {
    expect(sampleGeoPlace(17, 0)).toEqual(places[17]);
    expect(sampleGeoPlace(17, 1)).not.toEqual(places[17]);
    for (const p of places) {
      expect(p.lat).toBeGreaterThanOrEqual(-90);
      expect(p.lat).toBeLessThanOrEqual(90);
      expect(p.lon).toBeGreaterThanOrEqual(-180);
      expect(p.lon).toBeLessThan(180);
      expect(p.distanceKm).toBeGreaterThanOrEqual(0);
      expect(p.distanceKm).toBeLessThanOrEqual(60);
      expect(greatCircleKm(p.cityLat, p.cityLon, p.lat, p.lon)).toBeCloseTo(p.distanceKm, 6);
      expect(p.country).toMatch(/^[A-Z]{2}$/);
    }
  });

  it('draws cities in proportion to population^1.2: the 20 largest take their expected share, big cities far more photos than small ones', () => {
    const { cities, probability } = citySamplingWeights();
    const order = cities.map((_, i) => i).sort((a, b) => cities[b].population - cities[a].population);
    const top20 = new Set(order.slice(0, 20).map((i) => cities[i].cityId));
    const expected = order.slice(0, 20).reduce((s, i) => s + probability(i), 0);
    expect(expected).toBeGreaterThan(0.12); // Shanghai, Istanbul, … together ≈ 13.9 %
    const observed = places.filter((p) => top20.has(p.cityId)).length;
    const sd = Math.sqrt(SAMPLES * expected * (1 - expected));
    expect(Math.abs(observed - SAMPLES * expected)).toBeLessThan(4 * sd);

    // Photos per city: cities of a million or more against towns under 10 000.
    const big = cities.filter((c) => c.population >= 1e6).length;
    const small = cities.filter((c) => c.population < 1e4).length;
    const perBig = places.filter((p) => p.cityPopulation >= 1e6).length / big;
    const perSmall = places.filter((p) => p.cityPopulation < 1e4).length / small;
    expect(perBig / perSmall).toBeGreaterThan(200);
    expect(places.filter((p) => p.cityPopulation < 1e4).length).toBeGreaterThan(0.02 * SAMPLES); // but towns are not empty (4 % measured)
  });

  it('places photos a few km from the centre, farther in bigger cities, so street and city scales mean something', () => {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const bigDistances = places.filter((p) => p.cityPopulation >= 1e6).map((p) => p.distanceKm);
    const smallDistances = places.filter((p) => p.cityPopulation < 3e4).map((p) => p.distanceKm);
    expect(median(bigDistances)).toBeGreaterThan(2);
    expect(median(bigDistances)).toBeLessThan(12);
    expect(median(smallDistances)).toBeLessThan(1.5);
    const within1 = places.filter((p) => p.distanceKm <= 1).length / SAMPLES;
    const within25 = places.filter((p) => p.distanceKm <= 25).length / SAMPLES;
    expect(within1).toBeGreaterThan(0.1);
    expect(within1).toBeLessThan(0.5);
    expect(within25).toBeGreaterThan(0.85);
    expect(within25).toBeLessThan(1);
  });
});

describe('geometry', () => {
  it('destination goes the given distance and bearing, across the date line too', () => {
    const east = destination(0, 0, 111.19492664455873, Math.PI / 2); // one degree of the equator
    expect(east.lat).toBeCloseTo(0, 9);
    expect(east.lon).toBeCloseTo(1, 9);
    const wrapped = destination(10, 179.9, 50, Math.PI / 2);
    expect(wrapped.lon).toBeLessThan(-179);
    expect(greatCircleKm(10, 179.9, wrapped.lat, wrapped.lon)).toBeCloseTo(50, 6);
    expect(destination(89.99, 0, 10, 0).lat).toBeLessThanOrEqual(90);
  });

  it('cityScaleKm grows with population within [0.3, 20] km', () => {
    expect(cityScaleKm(1e4)).toBeCloseTo(1, 9);
    expect(cityScaleKm(1e6)).toBeCloseTo(5.01, 2);
    expect(cityScaleKm(10)).toBe(0.3);
    expect(cityScaleKm(1e10)).toBe(20);
  });
});

describe('sphereField', () => {
  it('is roughly uniform on [0, 1], smooth at scales below its own and unrelated far away', () => {
    const values: number[] = [];
    const pairs: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const lat = Math.asin(2 * (((i * 0.618034) % 1) - 0.5)) * (180 / Math.PI);
      const lon = ((i * 137.508) % 360) - 180;
      const v = sphereField(0, 7, unitVector(lat, lon), 700);
      values.push(v);
      const near = destination(lat, lon, 5, 1);
      pairs.push([v, sphereField(0, 7, unitVector(near.lat, near.lon), 700)]);
    }
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    for (const q of [0.1, 0.5, 0.9]) {
      const share = values.filter((v) => v < q).length / values.length;
      expect(Math.abs(share - q)).toBeLessThan(0.06);
    }
    // 5 km apart on a 700 km field: nearly equal. Neighbours in the list (thousands of km apart): not.
    expect(Math.max(...pairs.map(([a, b]) => Math.abs(a - b)))).toBeLessThan(0.05);
    const farDiff = values.slice(1).reduce((s, v, i) => s + Math.abs(v - values[i]), 0) / (values.length - 1);
    expect(farDiff).toBeGreaterThan(0.25); // independent uniforms differ by 1/3 on average
    expect(sphereField(1, 7, unitVector(10, 10), 700)).not.toBe(sphereField(0, 7, unitVector(10, 10), 700));
  });
});

describe('placeTraits', () => {
  it('follows latitude: tropics warm and wet, subtropics often dry, high latitudes cold', () => {
    const traits = Array.from({ length: 600 }, (_, i) => placeTraits(sampleGeoPlace(i, 0), 0));
    const band = (lo: number, hi: number) => traits.filter((t) => Math.abs(t.lat) >= lo && Math.abs(t.lat) < hi);
    const mean = (ts: { temperatureC: number }[]) => ts.reduce((s, t) => s + t.temperatureC, 0) / ts.length;
    expect(mean(band(0, 15))).toBeGreaterThan(mean(band(30, 45)) + 5);
    expect(mean(band(30, 45))).toBeGreaterThan(mean(band(50, 90)) + 5);
    expect(band(0, 15).filter((t) => t.biome === 'tropical').length / band(0, 15).length).toBeGreaterThan(0.6);
    expect(band(15, 30).filter((t) => t.biome === 'arid').length / band(15, 30).length).toBeGreaterThan(0.3);
    expect(band(50, 90).filter((t) => t.biome === 'boreal' || t.biome === 'polar').length / band(50, 90).length).toBeGreaterThan(0.6);
  });

  it('gives photos of one city the same landmark and colours, and urbanness falling with distance', () => {
    const place = sampleGeoPlace(3, 0);
    const far = { ...place, distanceKm: place.distanceKm + 40 };
    const a = placeTraits(place, 0);
    const b = placeTraits(far, 0);
    expect(b.landmark).toBe(a.landmark);
    expect(b.landmarkHsv).toEqual(a.landmarkHsv);
    expect(b.urbanness).toBeLessThan(a.urbanness);
    expect(b.landmarkChance).toBeLessThan(a.landmarkChance);
    expect(biomeOf(25, 0.8)).toBe('tropical');
    expect(biomeOf(25, 0.1)).toBe('arid');
    expect(biomeOf(-10, 0.5)).toBe('polar');
  });
});
