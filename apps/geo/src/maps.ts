/**
 * World maps as SVG strings, rendered to PNG with sharp: the partition (S2 cells coloured by their photo
 * count) and predictions against the truth (great-circle lines coloured by error band), both over an
 * equirectangular base map of Natural Earth's 1:110m land (world-atlas).
 *
 * Rings are drawn in an "unwrapped" plane: longitudes follow the ring continuously (170, 190 rather than
 * 170, -170), so a ring crossing the antimeridian keeps its true width, and it is drawn once more shifted
 * by ±360° with the map frame as clip path. A ring that winds once around a pole (Antarctica, a cell
 * holding the pole) is closed along the map's top or bottom edge.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';
import { feature } from 'topojson-client';
import { GEO_SCALES, haversineKm, type LatLonDegrees } from '@mobilenets/geo';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** An integer with thousands separators: 12,345. */
const fmtInt = (n: number) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const fmtPx = (v: number) => v.toFixed(1);

const RADIANS = Math.PI / 180;
const FONT = 'DejaVu Sans, Arial, sans-serif';
const OCEAN = '#dbe7f1';
const LAND = '#f2efe6';
const COAST = '#b9b1a0';
const GRATICULE = '#8fa3b5';
const FRAME = '#666666';
/** Default width of the map in pixels; the map is half as high. */
export const DEFAULT_MAP_WIDTH = 1600;

// ---------------------------------------------------------------------------------------------------
// Geometry: projection, rings in the unwrapped plane, great circles.

/** A pixel position. */
export interface XY {
  x: number;
  y: number;
}

/**
 * Equirectangular (plate carrée) projection onto a map `widthPx` wide and `widthPx / 2` high, with
 * (lat 90, lon -180) at the top-left corner and (0, 0) at the centre. Longitudes are not wrapped: lon 190
 * lands 10° right of the frame (where the unwrapped drawing of a ring expects it).
 */
export function equirectangular(p: LatLonDegrees, widthPx: number): XY {
  return { x: ((p.lon + 180) / 360) * widthPx, y: ((90 - p.lat) / 180) * (widthPx / 2) };
}

/** `lon` in [-180, 180). */
export function wrapLongitude(lon: number): number {
  return lon - 360 * Math.floor((lon + 180) / 360);
}

/** The change of longitude from `from` to `to` the short way round, in [-180, 180). */
function lonStep(from: number, to: number): number {
  return wrapLongitude(to - from);
}

/** A ring in the unwrapped plane. */
export interface UnwrappedRing {
  /** Continuous longitudes (they may leave [-180, 180]); closed implicitly (the last point joins the first). */
  points: LatLonDegrees[];
  minLon: number;
  maxLon: number;
  /** The pole the ring winds around, closed along that edge of the map; null for a ring that does not. */
  pole: 'north' | 'south' | null;
}

const POLE_EPSILON = 1e-9;
const isPole = (p: LatLonDegrees) => Math.abs(p.lat) >= 90 - POLE_EPSILON;

/**
 * A ring of points (open or closed: a last point equal to the first is dropped) in the unwrapped plane:
 * each longitude is the previous one plus the short-way step, so an edge from lon 170 to -170 is 20° wide
 * (170 → 190), not 340°. A vertex at a pole (where longitude means nothing) becomes the stretch of the
 * pole's edge between its neighbours' longitudes (edges into a pole are meridians). If the steps add up
 * to ±360° the ring winds around a pole (the one on the side of its mean latitude): it is closed along
 * that edge of the map, spanning exactly 360°.
 */
export function unwrapRing(ring: readonly LatLonDegrees[]): UnwrappedRing {
  const open = [...ring];
  if (open.length > 1 && open[0].lat === open[open.length - 1].lat && open[0].lon === open[open.length - 1].lon) open.pop();
  if (open.length < 3) throw new RangeError(`unwrapRing: a ring needs at least 3 distinct points. Received ${open.length}.`);
  for (const p of open) {
    if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon) || Math.abs(p.lat) > 90 + POLE_EPSILON) {
      throw new RangeError(`unwrapRing: a point must have a finite latitude in [-90, 90] and a finite longitude. Received (${p.lat}, ${p.lon}).`);
    }
  }
  const n = open.length;
  const expanded: LatLonDegrees[] = [];
  open.forEach((p, i) => {
    if (!isPole(p)) {
      expanded.push(p);
      return;
    }
    const lat = p.lat > 0 ? 90 : -90;
    expanded.push({ lat, lon: open[(i - 1 + n) % n].lon }, { lat, lon: open[(i + 1) % n].lon });
  });

  const points: LatLonDegrees[] = [{ lat: expanded[0].lat, lon: wrapLongitude(expanded[0].lon) }];
  for (let i = 1; i < expanded.length; i++) {
    points.push({ lat: expanded[i].lat, lon: points[i - 1].lon + lonStep(expanded[i - 1].lon, expanded[i].lon) });
  }
  const winding = points[points.length - 1].lon + lonStep(expanded[expanded.length - 1].lon, expanded[0].lon) - points[0].lon;
  let pole: UnwrappedRing['pole'] = null;
  if (Math.abs(winding) > 180) {
    const meanLat = expanded.reduce((sum, p) => sum + p.lat, 0) / expanded.length;
    pole = meanLat >= 0 ? 'north' : 'south';
    const edgeLat = pole === 'north' ? 90 : -90;
    // Exactly ±360°, so that the ring and its shifted copy tile the map's width without a seam.
    const end = points[0].lon + Math.sign(winding) * 360;
    points.push({ lat: points[0].lat, lon: end }, { lat: edgeLat, lon: end }, { lat: edgeLat, lon: points[0].lon });
  }
  let minLon = Infinity;
  let maxLon = -Infinity;
  for (const p of points) {
    minLon = Math.min(minLon, p.lon);
    maxLon = Math.max(maxLon, p.lon);
  }
  return { points, minLon, maxLon, pole };
}

/**
 * The shifts (multiples of 360°) at which a copy of an unwrapped ring spanning [minLon, maxLon] overlaps
 * the map's [-180, 180]: [0] for most rings, [-360, 0] for one unwrapped to lon 170..190.
 */
export function ringShifts(minLon: number, maxLon: number): number[] {
  const shifts: number[] = [];
  const lowest = Math.floor((-180 - maxLon) / 360) + 1;
  const highest = Math.ceil((180 - minLon) / 360) - 1;
  for (let k = lowest; k <= highest; k++) shifts.push(k * 360);
  return shifts;
}

type Vec3 = [number, number, number];
const toVec = (p: LatLonDegrees): Vec3 => {
  const lat = p.lat * RADIANS;
  const lon = p.lon * RADIANS;
  return [Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)];
};
const toLatLon = ([x, y, z]: Vec3): LatLonDegrees => ({
  lat: Math.asin(Math.max(-1, Math.min(1, z))) / RADIANS,
  lon: Math.atan2(y, x) / RADIANS,
});
const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a: Vec3) => Math.hypot(a[0], a[1], a[2]);

/** The angle between two points seen from the earth's centre, in degrees. */
export function centralAngleDeg(a: LatLonDegrees, b: LatLonDegrees): number {
  const u = toVec(a);
  const v = toVec(b);
  const cross: Vec3 = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  return Math.atan2(norm(cross), dot(u, v)) / RADIANS;
}

/**
 * `segments + 1` points evenly spaced along the great circle from `a` to `b` (both included), longitudes in
 * [-180, 180]. Antipodal points have no single great circle between them: the path leaves `a` due north
 * (from a pole, along the meridians 0 and 180).
 */
export function greatCirclePoints(a: LatLonDegrees, b: LatLonDegrees, segments: number): LatLonDegrees[] {
  if (!Number.isInteger(segments) || segments < 1) throw new RangeError(`greatCirclePoints: segments must be a positive integer. Received ${segments}.`);
  const u = toVec(a);
  const v = toVec(b);
  const angle = centralAngleDeg(a, b) * RADIANS;
  const out: LatLonDegrees[] = [];
  if (angle < 1e-12) {
    for (let i = 0; i <= segments; i++) out.push({ lat: a.lat, lon: a.lon });
    return out;
  }
  // The unit tangent at `a` towards `b`: b's part orthogonal to a (or, for antipodes, towards north).
  const c = dot(u, v);
  let w: Vec3 = [v[0] - c * u[0], v[1] - c * u[1], v[2] - c * u[2]];
  if (norm(w) < 1e-9) w = isPole(a) ? [1, 0, 0] : [-u[2] * u[0], -u[2] * u[1], 1 - u[2] * u[2]];
  const length = norm(w);
  w = [w[0] / length, w[1] / length, w[2] / length];
  for (let i = 0; i <= segments; i++) {
    if (i === 0) out.push({ lat: a.lat, lon: a.lon });
    else if (i === segments) out.push({ lat: b.lat, lon: b.lon });
    else {
      const t = (angle * i) / segments;
      out.push(toLatLon([Math.cos(t) * u[0] + Math.sin(t) * w[0], Math.cos(t) * u[1] + Math.sin(t) * w[1], Math.cos(t) * u[2] + Math.sin(t) * w[2]]));
    }
  }
  return out;
}

/** Points along the great circle from `a` to `b`, at most `maxStepDeg` apart (both ends included). */
function geodesic(a: LatLonDegrees, b: LatLonDegrees, maxStepDeg: number): LatLonDegrees[] {
  return greatCirclePoints(a, b, Math.max(1, Math.ceil(centralAngleDeg(a, b) / maxStepDeg)));
}

/**
 * A line (longitudes in [-180, 180]) cut where a step crosses the antimeridian (a step of more than 180°
 * of longitude): the first piece ends on the frame's edge at the interpolated latitude, the next starts
 * on the opposite edge. Lines that do not cross come back whole, as one piece.
 */
export function splitAtAntimeridian(line: readonly LatLonDegrees[]): LatLonDegrees[][] {
  const pieces: LatLonDegrees[][] = [];
  let piece: LatLonDegrees[] = [];
  line.forEach((p, i) => {
    if (i > 0) {
      const prev = line[i - 1];
      if (Math.abs(p.lon - prev.lon) > 180) {
        const edge = prev.lon > 0 ? 180 : -180;
        const unwrapped = prev.lon + lonStep(prev.lon, p.lon);
        const t = unwrapped === prev.lon ? 0 : (edge - prev.lon) / (unwrapped - prev.lon);
        const lat = prev.lat + t * (p.lat - prev.lat);
        piece.push({ lat, lon: edge });
        pieces.push(piece);
        piece = [{ lat, lon: -edge }];
      }
    }
    piece.push(p);
  });
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

// ---------------------------------------------------------------------------------------------------
// Colours.

/** Viridis (matplotlib's perceptually uniform sequential map), sampled at ten even stops. */
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

/** Viridis at t ∈ [0, 1] (clamped), linearly interpolated between its stops, as #rrggbb. */
export function viridis(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = (hex: string) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const lo = rgb(VIRIDIS[i]);
  const hi = rgb(VIRIDIS[i + 1]);
  return `#${lo.map((c, k) => Math.round(c + f * (hi[k] - c)).toString(16).padStart(2, '0')).join('')}`;
}

/** Green (street) through orange and red to purple (beyond 2500 km): dark enough for thin lines on a pale map. */
const BAND_COLOURS = ['#1a9850', '#66bd63', '#c7a500', '#f46d43', '#d73027', '#7b3294'];

/** The error bands of the prediction map: PlaNet's five scales (error ≤ km) and everything beyond. */
export const ERROR_BANDS: readonly { name: string; maxKm: number; colour: string }[] = [
  ...GEO_SCALES.map((scale, i) => ({ name: scale.name as string, maxKm: scale.km as number, colour: BAND_COLOURS[i] })),
  { name: 'beyond', maxKm: Infinity, colour: BAND_COLOURS[GEO_SCALES.length] },
];

/** The index in {@link ERROR_BANDS} of an error in km (an error equal to a band's radius is in that band). */
export function errorBand(km: number): number {
  const i = ERROR_BANDS.findIndex((band) => km <= band.maxKm);
  return i === -1 ? ERROR_BANDS.length - 1 : i;
}

/** Each band's count and share of the items (shares add up to 1 for a non-empty list), and each item's error in km. */
export function errorBandShares(items: readonly { truth: LatLonDegrees; predicted: LatLonDegrees }[]): { counts: number[]; shares: number[]; errorsKm: number[] } {
  const errorsKm = items.map((item) => haversineKm(item.truth, item.predicted));
  const counts = ERROR_BANDS.map(() => 0);
  for (const km of errorsKm) counts[errorBand(km)] += 1;
  return { counts, shares: counts.map((c) => (items.length === 0 ? 0 : c / items.length)), errorsKm };
}

// ---------------------------------------------------------------------------------------------------
// Drawing.

/** Where things go in a picture `width` pixels wide: the map under a title band and over a legend band. */
interface Layout {
  width: number;
  height: number;
  /** Top of the map (its left edge is x = 0, its size width × width / 2). */
  mapTop: number;
  fontSize: number;
}

const fontSizeFor = (widthPx: number) => Math.max(11, Math.round(widthPx / 100));

function layout(widthPx: number, legendLines: number): Layout {
  const fontSize = fontSizeFor(widthPx);
  const mapTop = Math.round(fontSize * 2.4);
  const legendHeight = Math.round(fontSize * (1.2 + 1.7 * legendLines));
  return { width: widthPx, height: mapTop + widthPx / 2 + legendHeight, mapTop, fontSize };
}

function checkWidth(widthPx: number | undefined): number {
  const width = widthPx ?? DEFAULT_MAP_WIDTH;
  if (!Number.isInteger(width) || width < 100 || width % 2 !== 0) throw new RangeError(`widthPx must be an even integer ≥ 100 (the map is half as high). Received ${widthPx}.`);
  return width;
}

/** SVG path data for unwrapped rings drawn on a map `width` wide at `top`: every ring with its ±360° copies. */
function ringsPath(rings: readonly UnwrappedRing[], width: number, top: number): string {
  const parts: string[] = [];
  for (const ring of rings) {
    for (const shift of ringShifts(ring.minLon, ring.maxLon)) {
      const xy = ring.points.map((p) => equirectangular({ lat: p.lat, lon: p.lon + shift }, width));
      parts.push(`M${xy.map((q) => `${fmtPx(q.x)},${fmtPx(q.y + top)}`).join('L')}Z`);
    }
  }
  return parts.join('');
}

/** Polyline path data (no fill) for lines with longitudes in [-180, 180], already split at the antimeridian. */
function linesPath(lines: readonly LatLonDegrees[][], width: number, top: number): string {
  return lines
    .filter((line) => line.length > 1)
    .map((line) => `M${line.map((p) => equirectangular(p, width)).map((q) => `${fmtPx(q.x)},${fmtPx(q.y + top)}`).join('L')}`)
    .join('');
}

let landCache: UnwrappedRing[][] | null = null;

/** Natural Earth 1:110m land as unwrapped rings, one list a polygon (outer ring, then holes); decoded once a process. */
function landPolygons(): UnwrappedRing[][] {
  if (landCache) return landCache;
  const topology = JSON.parse(fs.readFileSync(require.resolve('world-atlas/land-110m.json'), 'utf8')) as Parameters<typeof feature>[0];
  const land = feature(topology, topology.objects.land);
  const geometries = land.type === 'FeatureCollection' ? land.features.map((f) => f.geometry) : [land.geometry];
  const polygons: number[][][][] = [];
  for (const g of geometries) {
    if (g.type === 'Polygon') polygons.push(g.coordinates);
    else if (g.type === 'MultiPolygon') polygons.push(...g.coordinates);
  }
  landCache = polygons.map((rings) => rings.filter((ring) => ring.length >= 4).map((ring) => unwrapRing(ring.map(([lon, lat]) => ({ lat, lon })))));
  return landCache;
}

/** The map's layers under the data: ocean, land, graticule every 30°; and the clip path `map-frame`. */
function baseLayers(width: number, top: number): { defs: string; under: string; frame: string } {
  const height = width / 2;
  const thin = Math.max(0.5, width / 2400);
  const land = landPolygons();
  const graticule: string[] = [];
  for (let lon = -150; lon <= 150; lon += 30) {
    const x = fmtPx(equirectangular({ lat: 0, lon }, width).x);
    graticule.push(`M${x},${top}V${top + height}`);
  }
  for (let lat = -60; lat <= 60; lat += 30) {
    const y = fmtPx(equirectangular({ lat, lon: 0 }, width).y + top);
    graticule.push(`M0,${y}H${width}`);
  }
  return {
    defs: `<defs><clipPath id="map-frame"><rect x="0" y="${top}" width="${width}" height="${height}"/></clipPath></defs>`,
    under: [
      `<rect x="0" y="${top}" width="${width}" height="${height}" fill="${OCEAN}"/>`,
      `<g clip-path="url(#map-frame)">`,
      `<path class="land" d="${land.map((polygon) => ringsPath(polygon, width, top)).join('')}" fill="${LAND}" fill-rule="evenodd" stroke="${COAST}" stroke-width="${thin}"/>`,
      `<path class="graticule" d="${graticule.join('')}" fill="none" stroke="${GRATICULE}" stroke-width="${thin}" stroke-opacity="0.45"/>`,
      `</g>`,
    ].join('\n'),
    frame: `<rect x="0.5" y="${top + 0.5}" width="${width - 1}" height="${height - 1}" fill="none" stroke="${FRAME}" stroke-width="1"/>`,
  };
}

/** The equirectangular world map alone: ocean, land, graticule every 30° and a frame, `widthPx` × `widthPx / 2`. */
export function baseMapSvg(widthPx?: number): string {
  const width = checkWidth(widthPx);
  const base = baseLayers(width, 0);
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${width / 2}">`, base.defs, base.under, base.frame, '</svg>'].join('\n');
}

function svgOpen(l: Layout, title: string | undefined): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" font-family="${FONT}" font-size="${l.fontSize}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    title ? `<text x="${l.width / 2}" y="${Math.round(l.mapTop * 0.62)}" text-anchor="middle" font-size="${Math.round(l.fontSize * 1.3)}">${escape(title)}</text>` : '',
  ];
}

/** One S2 cell to draw: its corners in order (edges are great-circle arcs) and its photo count. */
export interface MapCell {
  vertices: LatLonDegrees[];
  count: number;
  /** Shown as the cell's SVG tooltip (e.g. its token). */
  label?: string;
}

/** Cell edges are great-circle arcs: drawn through points at most this far apart. */
const CELL_EDGE_STEP_DEG = 2;

/**
 * The partition on the world map: each cell a polygon filled by its photo count on a log scale (viridis,
 * semi-transparent over the land) with a thin outline; under the map, the colour bar from the fewest to
 * the most photos a cell, and the number of cells and photos. The picture is `widthPx` (1600) wide: the
 * map, `widthPx` × `widthPx / 2`, between a title band (kept without a title) and the legend.
 */
export function partitionMapSvg(cells: readonly MapCell[], options: { title?: string; widthPx?: number } = {}): string {
  const width = checkWidth(options.widthPx);
  const l = layout(width, 2);
  const top = l.mapTop;
  const base = baseLayers(width, top);
  cells.forEach((cell, i) => {
    if (!(cell.count >= 0)) throw new RangeError(`partitionMapSvg: cell ${i} has count ${cell.count}; counts must be non-negative numbers.`);
    if (cell.vertices.length < 3) throw new RangeError(`partitionMapSvg: cell ${i} has ${cell.vertices.length} vertices; a cell needs at least 3.`);
  });
  const counts = cells.map((c) => c.count);
  const minCount = cells.length > 0 ? Math.min(...counts) : 0;
  const maxCount = cells.length > 0 ? Math.max(...counts) : 0;
  // Log scale over [max(1, min), max(1, max)]; empty cells take the lowest colour.
  const logLo = Math.log10(Math.max(1, minCount));
  const logHi = Math.log10(Math.max(1, maxCount));
  const scale = (count: number) => (logHi - logLo < 1e-12 ? 0.5 : (Math.log10(Math.max(1, count)) - logLo) / (logHi - logLo));

  const stroke = Math.max(0.3, width / 3200);
  const out = svgOpen(l, options.title);
  out.push(base.defs, base.under, `<g clip-path="url(#map-frame)" stroke="#333333" stroke-opacity="0.4" stroke-width="${stroke}" fill-opacity="0.6">`);
  for (const cell of cells) {
    const densified: LatLonDegrees[] = [];
    cell.vertices.forEach((v, i) => {
      const next = cell.vertices[(i + 1) % cell.vertices.length];
      densified.push(...geodesic(v, next, CELL_EDGE_STEP_DEG).slice(0, -1));
    });
    const d = ringsPath([unwrapRing(densified)], width, top);
    const tip = `${cell.label ? `${cell.label}: ` : ''}${fmtInt(cell.count)} photos`;
    out.push(`<path class="cell" d="${d}" fill="${viridis(scale(cell.count))}"><title>${escape(tip)}</title></path>`);
  }
  out.push('</g>', base.frame);

  // Legend: the colour bar with its end counts and the powers of ten between, then the totals.
  const font = l.fontSize;
  const barX = font;
  const barY = top + width / 2 + Math.round(font * 1.9);
  const barW = Math.round(Math.min(width * 0.4, font * 30));
  const barH = Math.round(font * 0.9);
  out.push(
    `<defs><linearGradient id="count-scale" x1="0" x2="1" y1="0" y2="0">${VIRIDIS.map((c, i) => `<stop offset="${(i / (VIRIDIS.length - 1)).toFixed(3)}" stop-color="${c}"/>`).join('')}</linearGradient></defs>`,
    `<text x="${barX}" y="${barY - Math.round(font * 0.5)}">photos per cell (log scale)</text>`,
  );
  if (cells.length > 0) {
    out.push(`<rect x="${barX}" y="${barY}" width="${barW}" height="${barH}" fill="url(#count-scale)" stroke="#888888" stroke-width="0.5"/>`);
    const ticks: { t: number; text: string; anchor: string; cls: string }[] = [
      { t: 0, text: fmtInt(minCount), anchor: 'start', cls: 'legend-min' },
      { t: 1, text: fmtInt(maxCount), anchor: 'end', cls: 'legend-max' },
    ];
    if (logHi - logLo >= 1e-12) {
      for (let e = Math.ceil(logLo); e <= Math.floor(logHi); e++) {
        const t = (e - logLo) / (logHi - logLo);
        // Far enough from the end labels not to print over them.
        if (t * barW > font * 4 && (1 - t) * barW > font * 4) ticks.push({ t, text: fmtInt(10 ** e), anchor: 'middle', cls: 'legend-tick' });
      }
    }
    for (const tick of ticks) {
      const x = barX + tick.t * barW;
      out.push(`<line x1="${fmtPx(x)}" x2="${fmtPx(x)}" y1="${barY + barH}" y2="${barY + barH + 3}" stroke="#555555"/>`);
      out.push(`<text class="${tick.cls}" x="${fmtPx(x)}" y="${barY + barH + Math.round(font * 1.2)}" text-anchor="${tick.anchor}" font-size="${Math.round(font * 0.85)}">${tick.text}</text>`);
    }
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const summary = `${fmtInt(cells.length)} ${cells.length === 1 ? 'cell' : 'cells'} · ${fmtInt(total)} photos`;
  out.push(`<text class="legend-cells" x="${width - font}" y="${barY + barH}" text-anchor="end">${summary}</text>`);
  out.push('</svg>');
  return out.filter((s) => s !== '').join('\n');
}

/** One prediction to draw: where the photo was taken and where the model put it. */
export interface MapPrediction {
  truth: LatLonDegrees;
  predicted: LatLonDegrees;
}

/** Path data of an × centred on (x, y) with arms reaching `arm` pixels along each axis. */
function cross(x: number, y: number, arm: number): string {
  return `M${fmtPx(x - arm)},${fmtPx(y - arm)}L${fmtPx(x + arm)},${fmtPx(y + arm)}M${fmtPx(x - arm)},${fmtPx(y + arm)}L${fmtPx(x + arm)},${fmtPx(y - arm)}`;
}

/** Up to `limit` indices of `n`, evenly spaced (the same ones every time). */
function evenSample(n: number, limit: number): number[] {
  if (n <= limit) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: limit }, (_, i) => Math.floor((i * n) / limit));
}

/**
 * Predictions against the truth on the world map: the truth a dot, the prediction a cross in its band's
 * colour, joined by the great circle between them in the colour of the error band (longest drawn first,
 * so the short ones stay visible). At most `maxLines` (500) items are drawn, evenly spaced through the
 * list; the legend's shares count every item. Laid out as {@link partitionMapSvg}'s picture.
 */
export function predictionsMapSvg(items: readonly MapPrediction[], options: { title?: string; widthPx?: number; maxLines?: number } = {}): string {
  const width = checkWidth(options.widthPx);
  const maxLines = options.maxLines ?? 500;
  if (!Number.isInteger(maxLines) || maxLines < 0) throw new RangeError(`predictionsMapSvg: maxLines must be a non-negative integer. Received ${options.maxLines}.`);
  items.forEach((item, i) => {
    for (const p of [item.truth, item.predicted]) {
      if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon) || Math.abs(p.lat) > 90) throw new RangeError(`predictionsMapSvg: item ${i} has a point (${p.lat}, ${p.lon}) off the globe.`);
    }
  });
  // The legend: a line for the markers, then the bands in as many columns as fit.
  const font = fontSizeFor(width);
  const columnWidth = Math.max(font * 17, (width - 2 * font) / 3);
  const perRow = Math.max(1, Math.min(ERROR_BANDS.length, Math.floor((width - font) / columnWidth)));
  const l = layout(width, 1 + Math.ceil(ERROR_BANDS.length / perRow));
  const top = l.mapTop;
  const base = baseLayers(width, top);
  const { counts, shares, errorsKm } = errorBandShares(items);
  const drawn = evenSample(items.length, maxLines).sort((a, b) => errorsKm[b] - errorsKm[a]);

  const lineWidth = Math.max(0.6, width / 1600);
  const dot = Math.max(1.5, width / 800);
  const out = svgOpen(l, options.title);
  out.push(base.defs, base.under, `<g clip-path="url(#map-frame)" fill="none" stroke-linecap="round">`);
  for (const i of drawn) {
    const { truth, predicted } = items[i];
    const line = geodesic({ lat: truth.lat, lon: wrapLongitude(truth.lon) }, { lat: predicted.lat, lon: wrapLongitude(predicted.lon) }, 2);
    const band = ERROR_BANDS[errorBand(errorsKm[i])];
    out.push(`<path class="gc" d="${linesPath(splitAtAntimeridian(line), width, top)}" stroke="${band.colour}" stroke-width="${lineWidth}" stroke-opacity="0.65"/>`);
  }
  for (const i of drawn) {
    const { truth, predicted } = items[i];
    const band = ERROR_BANDS[errorBand(errorsKm[i])];
    const t = equirectangular({ lat: truth.lat, lon: wrapLongitude(truth.lon) }, width);
    const p = equirectangular({ lat: predicted.lat, lon: wrapLongitude(predicted.lon) }, width);
    const arm = dot * 1.3;
    out.push(`<circle class="truth" cx="${fmtPx(t.x)}" cy="${fmtPx(t.y + top)}" r="${dot}" fill="#222222" stroke="white" stroke-width="${dot / 3}"/>`);
    out.push(`<path class="predicted" d="${cross(p.x, p.y + top, arm)}" stroke="${band.colour}" stroke-width="${lineWidth * 1.6}"/>`);
  }
  out.push('</g>', base.frame);

  // Legend: the markers, then each band with its radius and share of the items.
  let y = top + width / 2 + Math.round(font * 1.6);
  const shown = drawn.length === items.length ? `all ${fmtInt(items.length)}` : `${fmtInt(drawn.length)} of ${fmtInt(items.length)} (evenly sampled)`;
  out.push(`<circle cx="${font * 1.5}" cy="${y - font * 0.35}" r="${dot * 1.5}" fill="#222222"/>`);
  out.push(`<text x="${font * 2.5}" y="${y}">truth</text>`);
  const cx = font * 7;
  out.push(`<path d="${cross(cx, y - font * 0.35, font * 0.4)}" stroke="#222222" stroke-width="2"/>`);
  out.push(`<text x="${cx + font}" y="${y}">prediction · ${shown} drawn</text>`);
  y += Math.round(font * 1.7);
  ERROR_BANDS.forEach((band, i) => {
    const x = font + (i % perRow) * columnWidth;
    const rowY = y + Math.floor(i / perRow) * Math.round(font * 1.7);
    const radius = Number.isFinite(band.maxKm) ? `≤ ${fmtInt(band.maxKm)} km` : `> ${fmtInt(ERROR_BANDS[i - 1].maxKm)} km`;
    out.push(`<line x1="${x}" x2="${x + font * 1.6}" y1="${rowY - font * 0.35}" y2="${rowY - font * 0.35}" stroke="${band.colour}" stroke-width="${Math.max(3, font / 4)}"/>`);
    out.push(
      `<text class="legend-band" data-band="${band.name}" data-count="${counts[i]}" data-share="${shares[i]}" x="${x + font * 2.1}" y="${rowY}">${escape(`${band.name} ${radius}: ${(shares[i] * 100).toFixed(1)} % (${fmtInt(counts[i])})`)}</text>`,
    );
  });
  out.push('</svg>');
  return out.filter((s) => s !== '').join('\n');
}

/** Renders `svg` to a PNG at `file`, atomically: written to `file.tmp`, then renamed over `file`. */
export async function writeSvgAsPng(svg: string, file: string): Promise<void> {
  const temporary = `${file}.tmp`;
  try {
    await sharp(Buffer.from(svg)).png().toFile(temporary);
    await fs.promises.rename(temporary, file);
  } catch (error) {
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}
