/** Test helpers: seeded photo locations, clustered like real photos (cities) with a scattered background. */
import type { LatLonDegrees } from './distance';

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Some places photos crowd around, [lat, lon, spread in degrees]. Fiji straddles the antimeridian. */
export const CITIES: readonly [number, number, number][] = [
  [48.8566, 2.3522, 0.3], // Paris
  [51.5074, -0.1278, 0.5], // London
  [40.7128, -74.006, 0.2], // New York
  [35.6762, 139.6503, 1], // Tokyo
  [-33.8688, 151.2093, 0.05], // Sydney
  [-17.7, 179.9, 0.4], // Fiji
  [64.1466, -21.9426, 2], // Reykjavík
  [-54.8, -68.3, 0.01], // Ushuaia
];

/** `count` photo locations: 80 % around {@link CITIES} (uniform in a square of ± spread), 20 % anywhere on earth. */
export function photoLocations(count: number, seed = 1): LatLonDegrees[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    if (random() < 0.2) return { lat: (Math.asin(random() * 2 - 1) * 180) / Math.PI, lon: random() * 360 - 180 };
    const [lat, lon, spread] = CITIES[Math.floor(random() * CITIES.length)];
    let l = lon + (random() * 2 - 1) * spread;
    if (l > 180) l -= 360;
    if (l < -180) l += 360;
    return { lat: Math.max(-90, Math.min(90, lat + (random() * 2 - 1) * spread)), lon: l };
  });
}

/** A copy of `items` in a seeded random order, and where each original went (`order[newIndex] = oldIndex`). */
export function shuffled<T>(items: readonly T[], seed: number): { items: T[]; order: number[] } {
  const random = seededRandom(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { items: order.map((i) => items[i]), order };
}
