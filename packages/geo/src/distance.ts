/**
 * Great-circle distances and the geolocation scores of PlaNet / Im2GPS: the share of photos located
 * within 1, 25, 200, 750 and 2500 km of where they were taken (street, city, region, country,
 * continent) and the median error. The earth is a sphere of radius {@link EARTH_RADIUS_KM} (6371 km, the
 * mean radius GeoEstimation and most geolocation papers use; S2 libraries' own 6367 km is not used).
 */

/** Mean earth radius in kilometres. */
export const EARTH_RADIUS_KM = 6371;

/** A point on the earth in degrees: latitude in [-90, 90], longitude in [-180, 180]. */
export interface LatLonDegrees {
  lat: number;
  lon: number;
}

/** The scales of MobileNet's Table 11 (from PlaNet and Im2GPS): name and radius in km. */
export const GEO_SCALES = [
  { name: 'street', km: 1 },
  { name: 'city', km: 25 },
  { name: 'region', km: 200 },
  { name: 'country', km: 750 },
  { name: 'continent', km: 2500 },
] as const;

export type GeoScaleName = (typeof GEO_SCALES)[number]['name'];

const RADIANS = Math.PI / 180;

/** Great-circle distance in km between two points (haversine formula, R = 6371 km). */
export function haversineKm(a: LatLonDegrees, b: LatLonDegrees): number {
  const dLat = (b.lat - a.lat) * RADIANS;
  const dLon = (b.lon - a.lon) * RADIANS;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RADIANS) * Math.cos(b.lat * RADIANS) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Geolocation scores of a set of errors. */
export interface GeoScores {
  /** Share of photos whose error is ≤ the radius (km, as a string key: "1", "25", "200", "750", "2500"). */
  withinKm: Record<string, number>;
  /** Median error in km (the mean of the two middle errors for an even count). */
  medianKm: number;
  /** Mean error in km. */
  meanKm: number;
  count: number;
}

/** Scores of great-circle errors (km): the share within each radius of {@link GEO_SCALES} (error ≤ radius counts) and the median. */
export function geoScores(errorsKm: ArrayLike<number>, radiiKm: readonly number[] = GEO_SCALES.map((s) => s.km)): GeoScores {
  const n = errorsKm.length;
  if (n === 0) throw new RangeError('geoScores: no errors to score (an empty set of photos).');
  for (let i = 0; i < n; i++) {
    if (!(errorsKm[i] >= 0)) throw new RangeError(`geoScores: errors must be non-negative km. Received ${errorsKm[i]} at index ${i}.`);
  }
  const sorted = Float64Array.from(errorsKm).sort();
  const withinKm: Record<string, number> = {};
  for (const radius of radiiKm) {
    let count = 0;
    for (let i = 0; i < n; i++) if (sorted[i] <= radius) count += 1;
    withinKm[String(radius)] = count / n;
  }
  const medianKm = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return { withinKm, medianKm, meanKm: sum / n, count: n };
}
