/**
 * Procedural geotagged photos: the geolocation app's embedded default. Each photo is a landscape scene
 * taken at a place drawn from real population (see geo-world.ts), and what it shows depends on the
 * place in learnable but ambiguous ways:
 * - climate by latitude, season and hemisphere: sky colour, sun height, vegetation (palms, acacias,
 *   cacti, broadleaf trees with autumn colours and bare winters, conifers), snow;
 * - terrain and style by region (smooth fields over the sphere): mountains with snow caps, hills or
 *   plains, sea or lake, roof shapes and wall colours, window patterns, field patterns, roads;
 * - the country (hashed from its code): road marking colour, a flag in some photos;
 * - the city (hashed from its id): a landmark in some photos near the centre, a shift of wall colours;
 *   the neighbourhood (a ~5 km field): wall brightness, awning colour, tree density;
 * - how urban the spot is: a paved square among towers in a megacity, fields and a farmhouse outside.
 * Nuisance makes it ambiguous: time of day (from a dusky sunrise to night), exposure, clouds, haze and
 * fog, the viewpoint (horizon height, zoom, heading), occluders (people, poles, cars, leaves) and pixel
 * noise; each cue shows in only some photos.
 *
 * Every image is a function of (seed, index) only: the place from one random stream, the nuisance from
 * another. {@link generateGeoDataset} writes PNGs and a `path,lat,lon` CSV that {@link readGeoCsv} reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashSeed, mulberry32, randomInt, uniform, type Random } from '@mobilenets/random';
import type { GeoRecord } from './geo-csv';
import { placeTraits, sampleGeoPlace as placeOf, type GeoPlace, type PlaceTraits, type RoofStyle } from './geo-world';
import { encodeJpeg } from './image-io';
import { addNoise, createCanvas, drawShape, fillEllipse, fillPolygon, fillRect, hsv, starPoints, polygonSdf, type Canvas, type Rgb } from './raster';

export interface GeoImageOptions {
  /** Image side in pixels, 16–4096. Default 128. */
  size?: number;
  /** Dataset seed: the places and the look of the world. Default 0. */
  seed?: number;
}

/** One rendered photo and where it was taken. */
export interface GeneratedGeoImage {
  /** HWC RGB bytes, size × size × 3. */
  pixels: Uint8Array;
  size: number;
  /** Where the photo was taken, in degrees: latitude in [-90, 90], longitude in [-180, 180). */
  lat: number;
  lon: number;
  /** The city it was taken near and its ISO 3166-1 alpha-2 country code. */
  city: string;
  country: string;
}

export interface GenerateGeoDatasetOptions extends GeoImageOptions {
  /** Output folder: `<dir>/images/<index, 6 digits>.jpg` and `<dir>/photos.csv`. Created if missing. */
  dir: string;
  /** How many photos, ≥ 1. */
  images: number;
  /** First photo index (to write a held-out set from the same seed: e.g. 0 for train, 1000000 for val). Default 0. */
  firstIndex?: number;
  /** Called after each PNG is written, with the count so far and the total. */
  onProgress?: (written: number, total: number) => void;
}

export type { GeoPlace } from './geo-world';

/** Name of the manifest {@link generateGeoDataset} writes. */
export const GEO_MANIFEST = 'photos.csv';

/** Salt of the nuisance stream (the place stream is geo-world's). */
const NUISANCE_STREAM = 0x6e1;

/** PNGs being encoded and written at once. */
const MAX_IN_FLIGHT = 8;

function checkImageOptions(what: string, options: GeoImageOptions): Required<GeoImageOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object. Received ${String(options)}.`);
  const { size = 128, seed = 0 } = options;
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new RangeError(`${what}: size must be an integer in [16, 4096] (pixels). Received ${size}.`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what}: seed must be a safe integer. Received ${seed}.`);
  return { size, seed };
}

function checkIndex(what: string, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`${what}: index must be a non-negative integer. Received ${index}.`);
}

/**
 * Where photo `index` of the dataset `seed` was taken, with its city (GeoNames id, population, centre)
 * and distance from the centre — without rendering. Loads the cities on first use (≈ 0.5–1 s).
 */
export function sampleGeoPlace(index: number, options: Pick<GeoImageOptions, 'seed'> = {}): GeoPlace {
  const { seed } = checkImageOptions('sampleGeoPlace', options);
  checkIndex('sampleGeoPlace', index);
  return placeOf(index, seed);
}

// ---------------------------------------------------------------------------------------------------
// Colour and light

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
const smooth = (edge0: number, edge1: number, x: number) => {
  const t = clamp01((x - edge0) / (edge1 - edge0));
  return t * t * (3 - 2 * t);
};
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const hsvOf = (c: readonly [number, number, number]): Rgb => hsv(c[0], clamp01(c[1]), clamp01(c[2]));
const SNOW: Rgb = [238, 242, 248];

/** Clear-sky colours (HSV) at the zenith and the horizon by biome: humid haze, desert dust, cold pale blue. */
const SKIES: Record<PlaceTraits['biome'], { zenith: [number, number, number]; horizon: [number, number, number] }> = {
  tropical: { zenith: [205, 0.5, 0.8], horizon: [190, 0.12, 0.95] },
  savanna: { zenith: [212, 0.62, 0.8], horizon: [45, 0.16, 0.95] },
  arid: { zenith: [216, 0.75, 0.76], horizon: [36, 0.26, 0.93] },
  temperate: { zenith: [214, 0.58, 0.78], horizon: [205, 0.25, 0.94] },
  boreal: { zenith: [208, 0.45, 0.76], horizon: [195, 0.16, 0.93] },
  polar: { zenith: [200, 0.35, 0.8], horizon: [190, 0.08, 0.97] },
};

/** The sun seen from (lat) on day `day` (0–364) at local solar `hour`: elevation and azimuth (0 = north, 90 = east) in degrees. */
export function solarPosition(latDeg: number, day: number, hour: number): { elevationDeg: number; azimuthDeg: number } {
  const r = Math.PI / 180;
  const declination = -23.44 * r * Math.cos((2 * Math.PI * (day + 10)) / 365);
  const hourAngle = 15 * r * (hour - 12);
  const phi = latDeg * r;
  const sinEl = Math.sin(phi) * Math.sin(declination) + Math.cos(phi) * Math.cos(declination) * Math.cos(hourAngle);
  const east = -Math.sin(hourAngle) * Math.cos(declination);
  const north = Math.sin(declination) * Math.cos(phi) - Math.cos(declination) * Math.sin(phi) * Math.cos(hourAngle);
  return { elevationDeg: Math.asin(Math.max(-1, Math.min(1, sinEl))) / r, azimuthDeg: ((Math.atan2(east, north) / r) + 360) % 360 };
}

/** Light of one photo: turns a surface colour into what the camera records. */
interface Light {
  /** Scale of surface colours (sun, sky, overcast, exposure). */
  gain: number;
  /** Warm (low sun) and cool (night) tints per channel. */
  tint: Rgb;
  daylight: number;
}

function lit(light: Light, c: Rgb): Rgb {
  const g = light.gain;
  return [Math.min(255, c[0] * g * light.tint[0]), Math.min(255, c[1] * g * light.tint[1]), Math.min(255, c[2] * g * light.tint[2])];
}

// ---------------------------------------------------------------------------------------------------
// The scene

/** Per-photo conditions drawn from the nuisance stream and the place. */
interface Scene {
  size: number;
  random: Random;
  traits: PlaceTraits;
  /** Row of the horizon (pixels from the top, fractional). */
  horizon: number;
  /** Magnification (1 = a 60° field of view). */
  zoom: number;
  fovDeg: number;
  headingDeg: number;
  light: Light;
  /** Snow cover 0–1 and the temperature now (°C). */
  snow: number;
  temperatureNowC: number;
  /** Deciduous leaves: green, autumn or bare. */
  leaves: 'green' | 'autumn' | 'bare';
  skyHorizon: Rgb;
  /** Rows [horizon, waterBottom) hold water between columns waterLeft…waterRight (none: waterBottom = horizon). */
  waterBottom: number;
  waterLeft: number;
  waterRight: number;
  /** The road's vanishing column, bottom centre column and bottom half width (no road: halfWidth 0). */
  road: { vanishX: number; bottomX: number; halfWidth: number };
  /** Emissive things drawn after everything else is lit (lit windows at night). */
  glows: (() => void)[];
}

/** A thing standing on the ground, drawn back to front by its base row. */
interface Prop {
  baseY: number;
  draw: () => void;
}

function drawSky(canvas: Canvas, scene: Scene, zenith: Rgb): void {
  const { data, width } = canvas;
  const rows = Math.min(canvas.height, Math.ceil(scene.horizon));
  for (let y = 0; y < rows; y++) {
    const t = ((y + 0.5) / Math.max(scene.horizon, 1)) ** 0.8;
    const c = mix(zenith, scene.skyHorizon, t);
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = c[0];
      data[i + 1] = c[1];
      data[i + 2] = c[2];
    }
  }
}

function drawSun(canvas: Canvas, scene: Scene, sun: { elevationDeg: number; azimuthDeg: number }): void {
  const { size } = scene;
  let offset = ((sun.azimuthDeg - scene.headingDeg + 540) % 360) - 180;
  if (Math.abs(offset) > scene.fovDeg / 2 + 5 || sun.elevationDeg < -1) return;
  offset /= scene.fovDeg;
  const cx = size / 2 + offset * size;
  const cy = scene.horizon - (sun.elevationDeg / scene.fovDeg) * size;
  const radius = size * 0.03 * scene.zoom;
  const low = smooth(15, 0, sun.elevationDeg);
  const core: Rgb = mix([255, 252, 235], [255, 170, 80], low);
  drawShape(canvas, (u, v) => Math.hypot(u, v) - 1, core, { cx, cy, radius: radius * 3, angle: 0, alpha: 0.25 });
  drawShape(canvas, (u, v) => Math.hypot(u, v) - 1, core, { cx, cy, radius, angle: 0 });
}

function drawClouds(canvas: Canvas, scene: Scene, cover: number): void {
  const { size, random, light } = scene;
  const count = Math.round(cover * uniform(random, 2, 8));
  const grey = cover > 0.7 ? 0.75 : 0.95;
  for (let k = 0; k < count; k++) {
    const cx = uniform(random, -0.1, 1.1) * size;
    const cy = uniform(random, 0.05, 0.8) * scene.horizon;
    const r = size * uniform(random, 0.03, 0.08) * scene.zoom;
    const colour = lit(light, [255 * grey, 255 * grey, 255 * grey * 1.02]);
    const alpha = uniform(random, 0.5, 0.9);
    for (let b = 0; b < 3; b++) fillEllipse(canvas, cx + (b - 1) * r * 1.1, cy - (b === 1 ? r * 0.4 : 0), r * 1.2, r * 0.8, colour, alpha);
  }
}

/** Mountains (peaks with snow caps above a snow line) or hills on the horizon; nothing on plains. */
function drawTerrain(canvas: Canvas, scene: Scene): void {
  const { size, random, traits, light, horizon } = scene;
  const { data, width } = canvas;
  const profile = new Float32Array(width);
  let colour: Rgb;
  let snowLine = Infinity;
  if (traits.relief > 0.66 && random() < 0.9) {
    const peaks = 3 + randomInt(random, 5);
    const spec = Array.from({ length: peaks }, () => ({ x: uniform(random, -0.2, 1.2) * size, h: size * uniform(random, 0.06, 0.22) * (0.4 + traits.relief) * scene.zoom, slope: uniform(random, 0.5, 1.5) }));
    for (let x = 0; x < width; x++) {
      let h = 0;
      for (const p of spec) h = Math.max(h, p.h - p.slope * Math.abs(x + 0.5 - p.x));
      profile[x] = h;
    }
    const highest = Math.max(...spec.map((p) => p.h));
    snowLine = highest * clamp01(0.45 + scene.temperatureNowC / 30);
    colour = mix(lit(light, hsv(220 + uniform(random, -20, 20), 0.18, 0.45)), scene.skyHorizon, 0.35);
  } else if (traits.relief > 0.48 && random() < 0.8) {
    const waves = Array.from({ length: 3 }, () => ({ f: uniform(random, 2, 9) / size, phase: uniform(random, 0, 2 * Math.PI), a: size * uniform(random, 0.01, 0.04) * scene.zoom }));
    const base = size * uniform(random, 0.02, 0.06) * scene.zoom;
    for (let x = 0; x < width; x++) profile[x] = base + waves.reduce((s, w) => s + w.a * Math.sin(w.f * 2 * Math.PI * x + w.phase), 0);
    colour = mix(lit(light, mix(hsvOf(traits.foliageHsv), SNOW, scene.snow)), scene.skyHorizon, 0.3);
  } else {
    return;
  }
  const snow = mix(lit(light, SNOW), scene.skyHorizon, 0.25);
  for (let x = 0; x < width; x++) {
    const h = profile[x];
    if (h <= 0) continue;
    const top = horizon - h;
    const y0 = Math.max(0, Math.floor(top));
    const y1 = Math.min(canvas.height, Math.ceil(horizon));
    for (let y = y0; y < y1; y++) {
      const cover = Math.min(1, y + 1 - top);
      const c = horizon - (y + 0.5) > snowLine ? snow : colour;
      const i = (y * width + x) * 3;
      data[i] += (c[0] - data[i]) * cover;
      data[i + 1] += (c[1] - data[i + 1]) * cover;
      data[i + 2] += (c[2] - data[i + 2]) * cover;
    }
  }
}

/**
 * Ground below the horizon: paved in town; in the country plain, striped fields, a patchwork or
 * terraces (the region's pattern) in crop colours, all under snow when it is cold; then water and road.
 */
function drawGround(canvas: Canvas, scene: Scene): void {
  const { size, random, traits, light } = scene;
  const { data, width, height } = canvas;
  const paved = random() < traits.urbanness;
  const snowy = (c: Rgb) => mix(c, SNOW, paved ? scene.snow * 0.5 : scene.snow);
  let ground = hsvOf(traits.groundHsv);
  if (scene.leaves === 'bare' && (traits.biome === 'temperate' || traits.biome === 'boreal')) ground = mix(ground, hsv(38, 0.35, 0.45), 0.6);
  // Pavement shows the local soil and verges a little.
  const base = lit(light, snowy(paved ? mix(hsv(traits.wallHsv[0], 0.06, 0.5 + 0.2 * random()), ground, 0.3) : ground));
  // Fields are rare in deserts and on the tundra; crops are greener where it is wetter.
  const fallow = traits.biome === 'arid' || traits.biome === 'polar' ? 0.8 : 0.25;
  const pattern = paved || scene.snow > 0.6 || random() < fallow ? 'plain' : traits.groundPattern;
  const crops = [base, lit(light, snowy(hsv(traits.cropHues[0], 0.25 + 0.45 * traits.moisture, 0.5))), lit(light, snowy(hsv(traits.cropHues[1], 0.5, 0.6)))];
  const cos = Math.cos(traits.fieldAngle);
  const sin = Math.sin(traits.fieldAngle);
  const period = uniform(random, 0.6, 1.6);
  const y0 = Math.max(0, Math.floor(scene.horizon));
  for (let y = y0; y < height; y++) {
    const dy = y + 0.5 - scene.horizon;
    if (dy <= 0) continue;
    const depth = (size * 0.15 * scene.zoom) / dy; // ground distance in arbitrary units, 1/row
    const far = clamp01((depth - 1.5) / 3); // patterns fade into the base colour far away
    for (let x = 0; x < width; x++) {
      let c = base;
      if (pattern !== 'plain' && far < 1) {
        const side = ((x + 0.5 - size / 2) / size) * depth * 2;
        let k = 0;
        if (pattern === 'stripes') k = Math.floor((side * cos + depth * sin * 3) / (period * 0.25)) & 1 ? 1 : 2;
        else if (pattern === 'patchwork') k = (Math.imul(Math.floor(side / period) * 0x9e3779b1 + Math.floor((depth * 2) / period), 0x85ebca6b) >>> 29) % 3;
        else k = Math.floor(depth * 4 / period) % 3 === 0 ? 0 : 1;
        c = far > 0 ? mix(crops[k], base, far) : crops[k];
      }
      const i = (y * width + x) * 3;
      data[i] = c[0];
      data[i + 1] = c[1];
      data[i + 2] = c[2];
    }
  }

  // Water: a band below the horizon (sea, or a lake with a shore on one side), with glints.
  if (scene.waterBottom > scene.horizon) {
    const water = mix(lit(light, hsv(traits.waterHue, 0.55, 0.5)), scene.skyHorizon, 0.35);
    const glint = mix(water, lit(light, [255, 255, 255]), 0.35);
    fillRect(canvas, scene.waterLeft, scene.horizon, scene.waterRight, scene.waterBottom, water);
    const glints = randomInt(random, 6);
    for (let k = 0; k < glints; k++) {
      const gy = uniform(random, scene.horizon, scene.waterBottom);
      const gx = uniform(random, scene.waterLeft, scene.waterRight);
      fillRect(canvas, gx, gy, Math.min(scene.waterRight, gx + size * uniform(random, 0.05, 0.2)), gy + Math.max(1, size / 128), glint, 0.6);
    }
  }

  // Road: a trapezoid to a vanishing point on the horizon, dashed centre line in the country's colour.
  const { vanishX, bottomX, halfWidth } = scene.road;
  if (halfWidth > 0) {
    const dirt = traits.dirtRoads && traits.urbanness < 0.3;
    const surface = lit(light, mix(dirt ? hsv(30, 0.4, 0.5) : hsv(220, 0.05, traits.asphaltValue), SNOW, dirt ? scene.snow * 0.8 : scene.snow * 0.2));
    const marking = lit(light, traits.markingRgb);
    const start = Math.max(scene.waterBottom, scene.horizon);
    for (let y = Math.max(0, Math.floor(start)); y < height; y++) {
      const t = (y + 0.5 - scene.horizon) / (size - scene.horizon);
      if (t <= 0) continue;
      const cx = vanishX + (bottomX - vanishX) * t;
      const w = halfWidth * t;
      fillRect(canvas, cx - w, y, cx + w, y + 1, surface);
      if (!dirt && Math.floor(3 / (t + 0.05)) % 2 === 0) fillRect(canvas, cx - Math.max(0.3, w * 0.03), y, cx + Math.max(0.3, w * 0.03), y + 1, marking);
    }
  }
}

function roofPolygon(style: RoofStyle, x0: number, x1: number, top: number): number[] {
  const w = x1 - x0;
  const cx = (x0 + x1) / 2;
  const over = w * 0.06;
  switch (style) {
    case 'gable':
      return [x0 - over, top, x1 + over, top, cx, top - w * 0.38];
    case 'hip':
      return [x0 - over, top, x1 + over, top, x1 - w * 0.22, top - w * 0.2, x0 + w * 0.22, top - w * 0.2];
    case 'pagoda':
      return [x0 - w * 0.25, top - w * 0.06, x0 + w * 0.08, top - w * 0.12, cx, top - w * 0.3, x1 - w * 0.08, top - w * 0.12, x1 + w * 0.25, top - w * 0.06, x1 + w * 0.1, top + w * 0.02, x0 - w * 0.1, top + w * 0.02];
    default:
      return [];
  }
}

/** A building standing on `baseY`: walls, roof, windows (lit at night) and sometimes awnings. */
function buildingProp(canvas: Canvas, scene: Scene, baseY: number, scale: number, rural: boolean): Prop {
  const { size, random, traits, light } = scene;
  const width = size * uniform(random, 0.07, 0.18) * scale;
  const cx = uniform(random, -0.05, 1.05) * size;
  const floorHeight = size * 0.03 * scale;
  const maxFloors = rural ? 2 : 2 + 35 * traits.citySize * traits.citySize * traits.urbanness;
  const floors = 1 + Math.floor(random() ** 2 * maxFloors);
  const tower = floors >= 8;
  const wallHsv: [number, number, number] = tower
    ? [205 + uniform(random, -15, 15), uniform(random, 0.05, 0.3), uniform(random, 0.45, 0.75)]
    : [traits.wallHsv[0] + uniform(random, -12, 12), traits.wallHsv[1] + uniform(random, -0.1, 0.1), traits.wallHsv[2] + uniform(random, -0.12, 0.08)];
  const roof: RoofStyle = tower ? 'flat' : random() < 0.8 ? traits.roof : (['flat', 'gable', 'hip', 'dome', 'pagoda'] as const)[randomInt(random, 5)];
  const awning = !rural && random() < 0.5 * traits.urbanness;
  const night = light.daylight < 0.3;
  return {
    baseY,
    draw: () => {
      const x0 = cx - width / 2;
      const x1 = cx + width / 2;
      const top = baseY - floors * floorHeight;
      const wall = lit(light, hsvOf(wallHsv));
      const roofColour = lit(light, hsvOf(traits.roofHsv));
      if (roof === 'dome') fillEllipse(canvas, cx, top, width * 0.36, width * 0.36, roofColour);
      fillRect(canvas, x0, top, x1, baseY, wall);
      if (roof === 'flat') fillRect(canvas, x0, top, x1, top + Math.max(1, floorHeight * 0.2), mix(wall, [0, 0, 0], 0.35));
      else if (roof !== 'dome') fillPolygon(canvas, roofPolygon(roof, x0, x1, top), roofColour);
      const glass = lit(light, hsv(215, 0.25, tower ? 0.35 : 0.25));
      const glow: Rgb = [255, 214, 130];
      for (let f = 0; f < floors; f++) {
        const fy = baseY - (f + 1) * floorHeight;
        const windows: [number, number, number, number][] = [];
        if (tower || traits.windowStyle === 2) windows.push([x0 + width * 0.08, fy + floorHeight * 0.3, x1 - width * 0.08, fy + floorHeight * 0.65]);
        else {
          const count = traits.windowStyle === 3 ? 1 + (f % 2) : Math.max(1, Math.round(width / (floorHeight * (traits.windowStyle === 1 ? 0.7 : 1))));
          const ww = traits.windowStyle === 1 ? floorHeight * 0.25 : floorHeight * 0.4;
          const wh = traits.windowStyle === 1 ? floorHeight * 0.65 : floorHeight * 0.4;
          for (let k = 0; k < count; k++) {
            const wx = x0 + (width * (k + 0.5)) / count;
            windows.push([wx - ww / 2, fy + floorHeight * 0.25, wx + ww / 2, fy + floorHeight * 0.25 + wh]);
          }
        }
        for (const [a, b, c, d] of windows) {
          fillRect(canvas, a, b, c, d, glass);
          if (night && random() < 0.6) scene.glows.push(() => fillRect(canvas, a, b, c, d, glow, 0.9));
        }
      }
      if (awning) fillRect(canvas, x0, baseY - floorHeight * 0.75, x1, baseY - floorHeight * 0.5, lit(light, hsv(traits.accentHue, 0.7, 0.75)));
    },
  };
}

/** The city's landmark, standing on `baseY`, `height` pixels tall. */
function landmarkProp(canvas: Canvas, scene: Scene, baseY: number, height: number): Prop {
  const { size, random, traits, light } = scene;
  const cx = uniform(random, 0.15, 0.85) * size;
  const a = lit(light, hsvOf(traits.landmarkHsv));
  const b = lit(light, hsvOf(traits.landmarkSecondHsv));
  const h = height;
  return {
    baseY,
    draw: () => {
      switch (traits.landmark) {
        case 'spire':
          fillRect(canvas, cx - h * 0.07, baseY - h * 0.7, cx + h * 0.07, baseY, a);
          fillPolygon(canvas, [cx - h * 0.09, baseY - h * 0.7, cx + h * 0.09, baseY - h * 0.7, cx, baseY - h], b);
          break;
        case 'dome':
          fillEllipse(canvas, cx, baseY - h * 0.45, h * 0.24, h * 0.26, b);
          fillRect(canvas, cx - h * 0.26, baseY - h * 0.45, cx + h * 0.26, baseY, a);
          fillRect(canvas, cx - h * 0.015, baseY - h, cx + h * 0.015, baseY - h * 0.68, b);
          break;
        case 'arch':
          fillRect(canvas, cx - h * 0.4, baseY - h * 0.75, cx - h * 0.22, baseY, a);
          fillRect(canvas, cx + h * 0.22, baseY - h * 0.75, cx + h * 0.4, baseY, a);
          fillRect(canvas, cx - h * 0.45, baseY - h * 0.95, cx + h * 0.45, baseY - h * 0.72, a);
          fillRect(canvas, cx - h * 0.06, baseY - h * 0.9, cx + h * 0.06, baseY - h * 0.76, b);
          break;
        case 'pyramid':
          for (let k = 0; k < 5; k++) fillRect(canvas, cx - h * (0.5 - k * 0.09), baseY - h * (k + 1) * 0.16, cx + h * (0.5 - k * 0.09), baseY - h * k * 0.16, k % 2 ? b : a);
          break;
        case 'wheel':
          fillPolygon(canvas, [cx - h * 0.25, baseY, cx + h * 0.25, baseY, cx, baseY - h * 0.5], b);
          drawShape(canvas, (u, v) => Math.abs(Math.hypot(u, v) - 0.9) - 0.06, a, { cx, cy: baseY - h * 0.5, radius: h * 0.5, angle: 0 });
          drawShape(canvas, (u, v) => Math.min(Math.abs(u), Math.abs(v), Math.abs(u - v) / Math.SQRT2, Math.abs(u + v) / Math.SQRT2) - 0.02 + Math.max(0, Math.hypot(u, v) - 0.9), a, { cx, cy: baseY - h * 0.5, radius: h * 0.5, angle: 0 });
          break;
        case 'twin':
          for (const side of [-1, 1]) {
            fillRect(canvas, cx + side * h * 0.18 - h * 0.08, baseY - h, cx + side * h * 0.18 + h * 0.08, baseY, a);
            fillRect(canvas, cx + side * h * 0.18 - h * 0.03, baseY - h * 1.1, cx + side * h * 0.18 + h * 0.03, baseY - h, b);
          }
          fillRect(canvas, cx - h * 0.1, baseY - h * 0.55, cx + h * 0.1, baseY - h * 0.5, b);
          break;
        case 'obelisk':
          fillPolygon(canvas, [cx - h * 0.07, baseY, cx + h * 0.07, baseY, cx + h * 0.045, baseY - h * 0.9, cx - h * 0.045, baseY - h * 0.9], a);
          fillPolygon(canvas, [cx - h * 0.045, baseY - h * 0.9, cx + h * 0.045, baseY - h * 0.9, cx, baseY - h], b);
          break;
        default: {
          // statue: a pedestal, a figure with a raised arm
          fillRect(canvas, cx - h * 0.15, baseY - h * 0.35, cx + h * 0.15, baseY, b);
          fillRect(canvas, cx - h * 0.07, baseY - h * 0.8, cx + h * 0.07, baseY - h * 0.35, a);
          fillEllipse(canvas, cx, baseY - h * 0.86, h * 0.06, h * 0.07, a);
          fillPolygon(canvas, [cx + h * 0.05, baseY - h * 0.75, cx + h * 0.09, baseY - h * 0.77, cx + h * 0.2, baseY - h * 1.02, cx + h * 0.16, baseY - h * 1.03], a);
        }
      }
    },
  };
}

/** A tree of the biome's kinds, standing on `baseY`, `height` pixels tall. */
function treeProp(canvas: Canvas, scene: Scene, baseY: number, height: number): Prop {
  const { size, random, traits, light } = scene;
  const cx = uniform(random, 0, 1) * size;
  const pick = random();
  const biome = traits.biome;
  const kind =
    biome === 'tropical' ? (pick < 0.5 ? 'palm' : 'broadleaf')
    : biome === 'savanna' ? (pick < 0.7 ? 'acacia' : 'shrub')
    : biome === 'arid' ? (pick < 0.4 ? 'cactus' : 'shrub')
    : biome === 'temperate' ? (pick < 0.7 ? 'broadleaf' : 'conifer')
    : biome === 'boreal' ? (pick < 0.85 ? 'conifer' : 'birch')
    : 'shrub';
  const foliage = hsvOf([traits.foliageHsv[0] + uniform(random, -10, 10), traits.foliageHsv[1], traits.foliageHsv[2] * uniform(random, 0.8, 1.2)]);
  const seasonal = traits.biome === 'temperate' || traits.biome === 'boreal';
  let crown = foliage;
  if (seasonal && kind !== 'conifer' && scene.leaves === 'autumn') crown = hsv(uniform(random, 15, 45), 0.8, 0.65);
  const bare = seasonal && kind !== 'conifer' && scene.leaves === 'bare';
  const crownColour = lit(light, mix(crown, SNOW, kind === 'conifer' ? scene.snow * 0.5 : 0));
  const trunk = lit(light, kind === 'birch' ? hsv(40, 0.05, 0.85) : hsv(25, 0.5, 0.3));
  const h = height;
  return {
    baseY,
    draw: () => {
      switch (kind) {
        case 'palm': {
          const lean = uniform(random, -0.25, 0.25) * h;
          fillPolygon(canvas, [cx - h * 0.03, baseY, cx + h * 0.03, baseY, cx + lean + h * 0.015, baseY - h * 0.85, cx + lean - h * 0.015, baseY - h * 0.85], trunk);
          drawShape(canvas, polygonSdf(starPoints(7, 1, 0.25)), crownColour, { cx: cx + lean, cy: baseY - h * 0.85, radius: h * 0.3, angle: uniform(random, 0, Math.PI) });
          break;
        }
        case 'conifer':
          fillRect(canvas, cx - h * 0.03, baseY - h * 0.2, cx + h * 0.03, baseY, trunk);
          for (let k = 0; k < 3; k++) {
            const y = baseY - h * (0.15 + k * 0.25);
            const w = h * (0.22 - k * 0.05);
            fillPolygon(canvas, [cx - w, y, cx + w, y, cx, y - h * 0.4], crownColour);
          }
          break;
        case 'acacia':
          fillRect(canvas, cx - h * 0.025, baseY - h * 0.7, cx + h * 0.025, baseY, trunk);
          fillEllipse(canvas, cx, baseY - h * 0.75, h * 0.45, h * 0.1, crownColour);
          break;
        case 'cactus':
          fillRect(canvas, cx - h * 0.06, baseY - h, cx + h * 0.06, baseY, crownColour);
          fillRect(canvas, cx - h * 0.25, baseY - h * 0.55, cx, baseY - h * 0.47, crownColour);
          fillRect(canvas, cx - h * 0.25, baseY - h * 0.8, cx - h * 0.16, baseY - h * 0.5, crownColour);
          break;
        case 'shrub':
          fillEllipse(canvas, cx, baseY - h * 0.15, h * 0.3, h * 0.15, lit(light, mix(foliage, SNOW, scene.snow * 0.7)));
          break;
        default: {
          // broadleaf and birch: a trunk and a round crown, bare branches in winter
          fillRect(canvas, cx - h * 0.035, baseY - h * 0.55, cx + h * 0.035, baseY, trunk);
          if (bare) {
            fillPolygon(canvas, [cx, baseY - h * 0.5, cx - h * 0.3, baseY - h * 0.95, cx - h * 0.26, baseY - h * 0.97], trunk);
            fillPolygon(canvas, [cx, baseY - h * 0.5, cx + h * 0.3, baseY - h * 0.9, cx + h * 0.26, baseY - h * 0.93], trunk);
          } else {
            fillEllipse(canvas, cx, baseY - h * 0.68, h * (kind === 'birch' ? 0.18 : 0.3), h * 0.32, crownColour);
          }
        }
      }
    },
  };
}

/** The country's flag on a pole. */
function flagProp(canvas: Canvas, scene: Scene, baseY: number, height: number): Prop {
  const { size, random, traits, light } = scene;
  const cx = uniform(random, 0.05, 0.9) * size;
  return {
    baseY,
    draw: () => {
      fillRect(canvas, cx - Math.max(0.5, height * 0.015), baseY - height, cx + Math.max(0.5, height * 0.015), baseY, lit(light, hsv(0, 0, 0.6)));
      const w = height * 0.45;
      const fh = height * 0.3;
      const n = traits.flagHues.length;
      traits.flagHues.forEach((hue, k) => {
        const colour = lit(light, hue === 0 && k === 1 ? [240, 240, 240] : hsv(hue, 0.85, 0.8));
        if (traits.flagVertical) fillRect(canvas, cx + (w * k) / n, baseY - height, cx + (w * (k + 1)) / n, baseY - height + fh, colour);
        else fillRect(canvas, cx, baseY - height + (fh * k) / n, cx + w, baseY - height + (fh * (k + 1)) / n, colour);
      });
    },
  };
}

/** Something in the way: a person, a pole, a car or leaves at the edge of the frame. */
function drawOccluder(canvas: Canvas, scene: Scene): void {
  const { size, random, light } = scene;
  const kind = randomInt(random, 4);
  const dark = lit(light, hsv(uniform(random, 0, 360), uniform(random, 0, 0.4), uniform(random, 0.05, 0.3)));
  const x = uniform(random, 0, 1) * size;
  if (kind === 0) {
    const h = size * uniform(random, 0.3, 0.7);
    fillEllipse(canvas, x, size - h, h * 0.09, h * 0.1, dark);
    fillRect(canvas, x - h * 0.14, size - h * 0.88, x + h * 0.14, size, dark);
  } else if (kind === 1) {
    fillRect(canvas, x, 0, x + size * uniform(random, 0.01, 0.04), size, dark);
  } else if (kind === 2) {
    const w = size * uniform(random, 0.3, 0.6);
    const y = size * uniform(random, 0.85, 1.05);
    const body = lit(light, hsv(uniform(random, 0, 360), uniform(random, 0, 0.8), uniform(random, 0.2, 0.9)));
    fillRect(canvas, x - w / 2, y - w * 0.22, x + w / 2, y, body);
    fillRect(canvas, x - w * 0.3, y - w * 0.38, x + w * 0.25, y - w * 0.2, mix(body, [30, 40, 60], 0.6));
    for (const side of [-0.3, 0.3]) fillEllipse(canvas, x + side * w, y, w * 0.09, w * 0.09, [15, 15, 15]);
  } else {
    const leaves = lit(light, hsv(uniform(random, 80, 140), 0.6, uniform(random, 0.1, 0.3)));
    const corner = random() < 0.5 ? 0 : size;
    for (let k = 0; k < 5; k++) fillEllipse(canvas, corner + uniform(random, -0.15, 0.15) * size, uniform(random, -0.1, 0.3) * size, size * 0.1, size * 0.07, leaves);
  }
}

/** Haze (stronger towards the horizon) and fog over the whole image, toward the horizon sky colour. */
function applyHaze(canvas: Canvas, scene: Scene, haze: number, fog: number): void {
  const { data, width, height } = canvas;
  const [hr, hg, hb] = scene.skyHorizon;
  const falloff = 0.2 * scene.size;
  for (let y = 0; y < height; y++) {
    const w = clamp01(fog + haze * Math.exp(-Math.abs(y + 0.5 - scene.horizon) / falloff));
    if (w <= 0) continue;
    for (let i = y * width * 3, end = (y + 1) * width * 3; i < end; i += 3) {
      data[i] += (hr - data[i]) * w;
      data[i + 1] += (hg - data[i + 1]) * w;
      data[i + 2] += (hb - data[i + 2]) * w;
    }
  }
}

function renderScene(traits: PlaceTraits, random: Random, size: number): Uint8Array {
  const canvas = createCanvas(size, size);
  // Viewpoint and time.
  const horizon = size * uniform(random, 0.28, 0.68);
  const zoom = uniform(random, 0.75, 1.5);
  const headingDeg = uniform(random, 0, 360);
  const day = randomInt(random, 365);
  // Local solar time: mostly daytime, one photo in twelve from the early morning to late evening.
  const hour = random() < 1 / 12 ? uniform(random, 5, 22) : uniform(random, 7, 18.5);
  const sun = solarPosition(traits.lat, day, hour);
  const daylight = smooth(-7, 8, sun.elevationDeg);
  const golden = daylight * smooth(22, 2, sun.elevationDeg);

  // Season: the hemisphere's summer is the other's winter.
  const northernDay = traits.lat >= 0 ? day : (day + 182) % 365;
  const warmth = -Math.cos((2 * Math.PI * (northernDay - 20)) / 365); // −1 mid-January (north) … +1 mid-July
  const temperatureNowC = traits.temperatureC + traits.seasonalSwingC * warmth + uniform(random, -3, 3);
  const snow = traits.moisture > 0.12 ? smooth(2, -6, temperatureNowC) : 0;
  const leaves = northernDay >= 258 && northernDay < 320 ? 'autumn' : (northernDay >= 320 || northernDay < 95) && temperatureNowC < 8 ? 'bare' : 'green';

  // Sky and light.
  const cloudCover = clamp01(traits.moisture * 0.9 + uniform(random, -0.5, 0.35));
  const overcast = smooth(0.65, 0.9, cloudCover);
  const exposure = uniform(random, 0.78, 1.2);
  const clear = SKIES[traits.biome];
  const highSun = Math.sin((Math.max(0, sun.elevationDeg) * Math.PI) / 180); // a high sun deepens the blue
  let zenith = mix(hsv(clear.zenith[0], clear.zenith[1] * (0.7 + 0.3 * highSun), clear.zenith[2]), hsv(210, 0.06, 0.7), overcast);
  let skyHorizon = mix(hsvOf(clear.horizon), hsv(210, 0.04, 0.82), overcast);
  skyHorizon = mix(skyHorizon, hsv(25, 0.65, 1), golden * 0.75 * (1 - overcast));
  zenith = mix(zenith, hsv(250, 0.35, 0.55), golden * 0.35);
  zenith = mix(hsv(228, 0.7, 0.08), zenith, daylight);
  skyHorizon = mix(hsv(222, 0.5, 0.2), skyHorizon, daylight);
  const scale = (c: Rgb, k: number): Rgb => [Math.min(255, c[0] * k), Math.min(255, c[1] * k), Math.min(255, c[2] * k)];
  zenith = scale(zenith, exposure);
  skyHorizon = scale(skyHorizon, exposure);
  // Cameras expose for the scene, so a low sun dims it only a little; night stays dark.
  const sunStrength = daylight * (0.8 + 0.2 * Math.sin((Math.max(0, sun.elevationDeg) * Math.PI) / 180));
  const light: Light = {
    gain: exposure * (0.22 + 0.78 * sunStrength) * (1 - 0.15 * overcast),
    tint: [1 + 0.22 * golden, 1 + 0.04 * golden, (1 - 0.3 * golden) * (1 + 0.25 * (1 - daylight))],
    daylight,
  };

  // Water and road geometry (the ground pass draws them).
  let waterBottom = horizon;
  let waterLeft = 0;
  let waterRight = size;
  if (random() < traits.water * 0.9) {
    waterBottom = horizon + size * uniform(random, 0.04, 0.3);
    if (random() < 0.4) {
      if (random() < 0.5) waterLeft = uniform(random, 0.2, 0.7) * size;
      else waterRight = uniform(random, 0.3, 0.8) * size;
    }
  }
  const hasRoad = random() < 0.3 + 0.4 * traits.urbanness;
  const road = { vanishX: uniform(random, 0.25, 0.75) * size, bottomX: uniform(random, 0.15, 0.85) * size, halfWidth: hasRoad ? size * uniform(random, 0.15, 0.4) * zoom : 0 };

  const scene: Scene = { size, random, traits, horizon, zoom, fovDeg: 60 / zoom, headingDeg, light, snow, temperatureNowC, leaves, skyHorizon, waterBottom, waterLeft, waterRight, road, glows: [] };

  drawSky(canvas, scene, zenith);
  if (overcast < 0.8) drawSun(canvas, scene, sun);
  drawClouds(canvas, scene, cloudCover);
  drawTerrain(canvas, scene);
  drawGround(canvas, scene);

  // Things on the ground, back to front.
  const props: Prop[] = [];
  const ground = size - horizon;
  const urban = traits.urbanness > 0.12;
  const buildings = urban ? Math.round(traits.urbanness * uniform(random, 2, 12)) : random() < 0.4 ? 1 + randomInt(random, 2) : 0;
  for (let k = 0; k < buildings; k++) {
    const baseY = horizon + ground * uniform(random, 0, urban ? 0.3 : 0.5);
    if (baseY < waterBottom && baseY >= horizon) continue;
    props.push(buildingProp(canvas, scene, baseY, zoom * uniform(random, 0.7, 1.3) * (1 + (3 * (baseY - horizon)) / size), !urban));
  }
  if (random() < traits.landmarkChance) {
    const baseY = Math.max(waterBottom, horizon + ground * uniform(random, 0, 0.15));
    props.push(landmarkProp(canvas, scene, baseY, size * uniform(random, 0.3, 0.6) * zoom));
  }
  const trees = Math.round(traits.treeDensity * uniform(random, 0, 14));
  for (let k = 0; k < trees; k++) {
    const baseY = horizon + ground * random() ** 1.5;
    if (baseY < waterBottom) continue;
    props.push(treeProp(canvas, scene, baseY, size * (0.05 + (0.9 * (baseY - horizon)) / size) * zoom * uniform(random, 0.6, 1.3)));
  }
  if (random() < 0.1 + 0.2 * traits.urbanness) {
    const baseY = Math.max(waterBottom, horizon + ground * uniform(random, 0.05, 0.6));
    props.push(flagProp(canvas, scene, baseY, size * (0.1 + (0.8 * (baseY - horizon)) / size) * zoom));
  }
  props.sort((a, b) => a.baseY - b.baseY);
  for (const prop of props) prop.draw();
  if (random() < 0.3) drawOccluder(canvas, scene);

  // Atmosphere, then what glows through it, then sensor noise.
  const fog = random() < (traits.moisture > 0.55 ? 0.12 : 0.04) ? uniform(random, 0.2, 0.6) : 0;
  applyHaze(canvas, scene, uniform(random, 0.05, 0.2) + 0.35 * traits.moisture * random(), fog);
  for (const glow of scene.glows) glow();
  addNoise(canvas, uniform(random, 1, 10), random);
  return canvas.data;
}

/**
 * Photo `index` of the dataset `seed`: its pixels (size × size HWC RGB) and where it was taken. A pure
 * function of (seed, index, size); the place does not depend on the size. Loads the cities on first use.
 */
export function renderGeoImage(index: number, options: GeoImageOptions = {}): GeneratedGeoImage {
  const { size, seed } = checkImageOptions('renderGeoImage', options);
  checkIndex('renderGeoImage', index);
  const place = placeOf(index, seed);
  const pixels = renderScene(placeTraits(place, seed), mulberry32(hashSeed(seed, NUISANCE_STREAM, index)), size);
  return { pixels, size, lat: place.lat, lon: place.lon, city: place.city, country: place.country };
}

/** JPEG quality of the written photos: about 5 KB a 128-px photo, against 37 KB as PNG (the pixel noise compresses poorly). */
export const JPEG_QUALITY = 90;

/** Degrees as written to the CSV: 6 decimals (≈ 0.1 m), so the returned records equal what is read back. */
const roundDegrees = (degrees: number) => Number(degrees.toFixed(6));

/**
 * Writes `images` photos as `dir/images/<index>.jpg` (JPEG quality {@link JPEG_QUALITY}, as photos come;
 * index zero-padded to 6 digits) and their places as
 * `dir/photos.csv` (header `path,lat,lon`, paths relative to `dir`, coordinates with 6 decimals), the CSV
 * last and atomically (a temporary file renamed). Returns the records as {@link readGeoCsv} reads them.
 * Rendering runs on this thread; JPEG encoding and writing overlap on sharp's and libuv's threads.
 */
export async function generateGeoDataset(options: GenerateGeoDatasetOptions): Promise<GeoRecord[]> {
  const what = 'generateGeoDataset';
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object with dir and images. Received ${String(options)}.`);
  const { dir, images, firstIndex = 0, onProgress } = options;
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${what}: dir must be a non-empty string (the output folder). Received ${String(dir)}.`);
  if (!Number.isInteger(images) || images < 1) throw new RangeError(`${what}: images must be a positive integer. Received ${images}.`);
  if (!Number.isSafeInteger(firstIndex) || firstIndex < 0) throw new RangeError(`${what}: firstIndex must be a non-negative integer. Received ${firstIndex}.`);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`${what}: onProgress must be a function. Received ${typeof onProgress}.`);
  const { size, seed } = checkImageOptions(what, options);
  const root = path.resolve(dir);
  await fs.promises.mkdir(path.join(root, 'images'), { recursive: true });

  const records: GeoRecord[] = [];
  const lines = ['path,lat,lon'];
  const inFlight: Promise<void>[] = [];
  let written = 0;
  for (let n = 0; n < images; n++) {
    const index = firstIndex + n;
    const image = renderGeoImage(index, { size, seed });
    const relative = `images/${String(index).padStart(6, '0')}.jpg`;
    const lat = roundDegrees(image.lat);
    const lon = roundDegrees(image.lon);
    lines.push(`${relative},${lat.toFixed(6)},${lon.toFixed(6)}`);
    records.push({ path: path.join(root, relative), lat, lon, line: n + 2 });
    const write = encodeJpeg(image.pixels, size, size, 3, JPEG_QUALITY)
      .then((jpeg) => fs.promises.writeFile(path.join(root, relative), jpeg))
      .then(() => onProgress?.(++written, images));
    write.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
    inFlight.push(write);
    if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const manifest = path.join(root, GEO_MANIFEST);
  await fs.promises.writeFile(`${manifest}.tmp`, `${lines.join('\n')}\n`);
  await fs.promises.rename(`${manifest}.tmp`, manifest);
  return records;
}
