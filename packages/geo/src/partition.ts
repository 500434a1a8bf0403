/**
 * PlaNet's adaptive partition of the earth into S2 cells, the classes of the geolocation classifier.
 *
 * Build rule (deterministic): start from the six face cells of S2 (level 0); split any cell holding
 * more than `tMax` photos into its four children, recursively, down to `maxLevel` (a cell at `maxLevel`
 * is kept whatever its count); then discard every cell holding fewer than `tMin` photos — its photos
 * leave the training set (PlaNet: oceans and other empty places). PlaNet used tMax 10,000 and tMin 50 on
 * 91 M photos (26,263 cells). GeoEstimation discards cells with tMin photos or fewer (`≤`); here a cell
 * with exactly `tMin` photos is kept, so every kept cell below `maxLevel` holds [tMin, tMax] photos.
 *
 * The kept cells are ordered by S2 cell id, and a cell's class index is its position, so the same
 * photos (in any order) give the same classes. Each cell has two locations a prediction can use:
 * `center`, the S2 cell's centre (where S2 subdivides it, not quite the middle of its corners), and
 * `mean`, the mean location of its photos computed on the sphere — the direction of the sum of their
 * unit vectors, correct across the antimeridian and near the poles (GeoEstimation predicts this one).
 *
 * A partition is JSON (`toJson` / `fromJson`); the app reads and writes the file.
 */
import { S2Cell, S2CellId, S2LatLng, S2Point } from 'nodes2ts';
import type { LatLonDegrees } from './distance';
import { CellLocationMode, checkMode, checkPoint, describe } from './checks';
import { pointOfVector, slerp, unitVector } from './sphere';

/** One cell of a partition. Locations are [lat, lon] in degrees. */
export interface GeoCell {
  /** The S2 cell token (hex id without trailing zeros, e.g. "47a1"); check it at s2.sidewalklabs.com/regioncoverer. */
  token: string;
  /** S2 level: 0 for a cube face, 30 for a leaf (about 1 cm). */
  level: number;
  /** Photos of the build data in the cell. */
  count: number;
  /** The S2 cell's centre. */
  center: [number, number];
  /** The mean location of the cell's photos on the sphere. */
  mean: [number, number];
}

export interface S2PartitionJson {
  tMax: number;
  tMin: number;
  maxLevel: number;
  cells: GeoCell[];
}

export interface PartitionOptions {
  /** A cell with more photos than this is split (PlaNet: 10,000). */
  tMax: number;
  /** A cell with fewer photos than this is discarded with its photos (PlaNet: 50). At least 1 and at most tMax. */
  tMin: number;
  /** The finest S2 level; a cell there is not split whatever its count. Default 30 (leaf cells). */
  maxLevel?: number;
}

/** The deepest S2 level. */
export const S2_MAX_LEVEL = 30;

/**
 * Thresholds for a dataset of `photos` photos, scaled from PlaNet's:
 * - tMax = max(10, round(√photos)). A partition has 2–3 · photos / tMax cells (PlaNet: 26,263 cells for
 *   91 M photos / 10,000 = 2.9; GeoEstimation: 12,893 for 4.7 M / 1,000 = 2.7), so √ makes the number
 *   of classes grow as the square root of the data: √91 M ≈ 9,539 gives back PlaNet's 10,000, 4.7 M
 *   photos get 2,173 (between GeoEstimation's 2,000 and 5,000), 10,000 photos get 100 (a few hundred cells).
 * - tMin = max(2, round(tMax / 20)), GeoEstimation's fine ratio (50 / 1,000). PlaNet's 50 / 10,000 would
 *   keep single-photo cells on any dataset under 40,000 photos; a class needs a few photos to be learnt.
 */
export function defaultThresholds(photos: number): { tMax: number; tMin: number } {
  if (!Number.isInteger(photos) || photos < 1) throw new RangeError(`defaultThresholds: photos must be an integer ≥ 1 (the size of the training set). Received ${photos}.`);
  const tMax = Math.max(10, Math.round(Math.sqrt(photos)));
  return { tMax, tMin: Math.max(2, Math.round(tMax / 20)) };
}

/** The options with their default, or a RangeError whose message starts with `prefix` (e.g. "S2Partition.build: "). */
function checkOptions(options: PartitionOptions, prefix: string): Required<PartitionOptions> {
  const { tMax, tMin, maxLevel = S2_MAX_LEVEL } = options ?? ({} as PartitionOptions);
  if (!Number.isInteger(tMax) || tMax < 1) throw new RangeError(`${prefix}tMax must be an integer ≥ 1 (the most photos a cell may hold before it is split). Received ${describe(tMax)}.`);
  if (!Number.isInteger(tMin) || tMin < 1 || tMin > tMax) {
    throw new RangeError(`${prefix}tMin must be an integer in [1, tMax = ${tMax}] (the fewest photos a kept cell holds). Received ${describe(tMin)}.`);
  }
  if (!Number.isInteger(maxLevel) || maxLevel < 0 || maxLevel > S2_MAX_LEVEL) {
    throw new RangeError(`${prefix}maxLevel must be an integer S2 level in [0, ${S2_MAX_LEVEL}]. Received ${describe(maxLevel)}.`);
  }
  return { tMax, tMin, maxLevel };
}

/** The S2 leaf cell id (level 30) of a point. */
function leafIdOf(point: LatLonDegrees): bigint {
  return S2CellId.fromPoint(S2LatLng.fromDegrees(point.lat, point.lon).toPoint()).id;
}

/** The cell of a canonical token (what `toToken` writes: 1–16 lowercase hex digits, no trailing zero), or null. */
function cellOfToken(token: string): S2CellId | null {
  if (!/^[0-9a-f]{1,16}$/.test(token)) return null;
  const id = S2CellId.fromToken(token);
  return id.isValid() && id.toToken() === token ? id : null;
}

/** The first index in sorted[lo, hi) whose value is > value (hi when none). */
function upperBound(sorted: BigUint64Array, lo: number, hi: number, value: bigint): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function centerOf(id: S2CellId): [number, number] {
  const c = id.toLatLng();
  return [c.latDegrees, c.lngDegrees];
}

/** Longitude difference in degrees, taking the short way round. */
function lonDifference(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}

/** A cell kept by the build: its id and how many photos it holds. */
interface KeptCell {
  id: S2CellId;
  count: number;
}

/** The cells of a partition (class i is cells[i]) and the thresholds that made them; build it or read it from JSON. */
export class S2Partition {
  readonly cells: readonly GeoCell[];
  readonly tMax: number;
  readonly tMin: number;
  readonly maxLevel: number;
  /** Class index by token. */
  private readonly indexOfToken: ReadonlyMap<string, number>;
  /** The cells' id ranges sorted by id (disjoint), and the class of each. */
  private readonly sortedMin: BigUint64Array;
  private readonly sortedMax: BigUint64Array;
  private readonly sortedClass: Int32Array;

  private constructor(cells: GeoCell[], ids: S2CellId[], options: Required<PartitionOptions>) {
    this.cells = Object.freeze(cells);
    this.tMax = options.tMax;
    this.tMin = options.tMin;
    this.maxLevel = options.maxLevel;
    this.indexOfToken = new Map(cells.map((c, i) => [c.token, i]));
    const order = ids.map((_, i) => i).sort((a, b) => (ids[a].id < ids[b].id ? -1 : ids[a].id > ids[b].id ? 1 : 0));
    this.sortedMin = BigUint64Array.from(order, (i) => ids[i].rangeMin().id);
    this.sortedMax = BigUint64Array.from(order, (i) => ids[i].rangeMax().id);
    this.sortedClass = Int32Array.from(order);
  }

  /**
   * Partitions the earth by where `points` (the training photos) are. Returns the partition and each
   * point's class: the index of its cell, or -1 when its cell was discarded (fewer than tMin photos).
   * Each point's leaf cell id is computed once and sorted, and a cell's photos are then a contiguous
   * range of the sorted ids (a cell's descendants span the id range [rangeMin, rangeMax]), so a million
   * photos take 1–2 s (Node 20, one core).
   */
  static build(points: readonly LatLonDegrees[], options: PartitionOptions): { partition: S2Partition; classOfPoint: Int32Array } {
    const where = 'S2Partition.build';
    const settings = checkOptions(options, `${where}: `);
    if (!Array.isArray(points) || points.length === 0) throw new RangeError(`${where}: points must be a non-empty array of { lat, lon } (the photos' locations). Received ${describe(points)}.`);
    const n = points.length;
    const leaves = new BigUint64Array(n);
    for (let i = 0; i < n; i++) {
      checkPoint(points[i], `${where}: points[${i}]`);
      leaves[i] = leafIdOf(points[i]);
    }
    const sorted = leaves.slice().sort();

    const kept: KeptCell[] = [];
    const visit = (cell: S2CellId, lo: number, hi: number): void => {
      const count = hi - lo;
      if (count > settings.tMax && cell.level() < settings.maxLevel) {
        const end = cell.childEnd().id;
        let start = lo;
        for (let child = cell.childBegin(); child.id !== end; child = child.next()) {
          const stop = upperBound(sorted, start, hi, child.rangeMax().id);
          visit(child, start, stop);
          start = stop;
        }
      } else if (count >= settings.tMin) {
        kept.push({ id: cell, count });
      }
    };
    let start = 0;
    for (let face = 0; face < 6; face++) {
      const cell = S2CellId.fromFace(face);
      const stop = upperBound(sorted, start, n, cell.rangeMax().id);
      visit(cell, start, stop);
      start = stop;
    }
    if (kept.length === 0) {
      throw new RangeError(`${where}: every cell held fewer than tMin = ${settings.tMin} photos, so none is kept (${n} photos, tMax ${settings.tMax}); lower tMin or raise tMax.`);
    }

    // Cells come out of the depth-first walk in id order: the class index is that position.
    const mins = BigUint64Array.from(kept, (c) => c.id.rangeMin().id);
    const maxs = BigUint64Array.from(kept, (c) => c.id.rangeMax().id);
    const classOfPoint = new Int32Array(n);
    // Sums of unit vectors in fixed point (integers below 2^53, so exact): the mean does not depend on the
    // order of the photos. The scale 2^bits keeps n · 2^bits ≤ 2^52; a million photos get 2^-32 of the
    // earth's radius (1.5 mm).
    const scale = 2 ** (52 - Math.ceil(Math.log2(n + 1)));
    const sums = new Float64Array(kept.length * 3);
    for (let i = 0; i < n; i++) {
      const k = upperBound(mins, 0, mins.length, leaves[i]) - 1;
      const c = k >= 0 && leaves[i] <= maxs[k] ? k : -1;
      classOfPoint[i] = c;
      if (c < 0) continue;
      const v = unitVector(points[i]);
      for (let d = 0; d < 3; d++) sums[c * 3 + d] += Math.round(v[d] * scale);
    }
    const cells = kept.map(({ id, count }, k): GeoCell => {
      const center = centerOf(id);
      // Photos of one cell lie within a cube face, so their sum never cancels out; the centre is a guard.
      const mean = pointOfVector(sums.subarray(k * 3, k * 3 + 3));
      return { token: id.toToken(), level: id.level(), count, center, mean: mean === null ? center : [mean.lat, mean.lon] };
    });
    return { partition: new S2Partition(cells, kept.map((c) => c.id), settings), classOfPoint };
  }

  /**
   * Reads a partition written by {@link toJson}. Checks every field: thresholds, each cell's token (a
   * valid canonical S2 token), level (the token's), count (an integer ≥ 0), centre (the token's) and mean,
   * and that no token repeats and no cell contains another. `where` names the source in messages (a
   * file path); `fieldPrefix` goes before field names (a hierarchy passes `partitions[1].`). The cells
   * keep their order: class i is cells[i].
   */
  static fromJson(json: unknown, where: string, fieldPrefix = ''): S2Partition {
    const path = fieldPrefix;
    const fail = (message: string): never => {
      throw new RangeError(`${where}: ${path}${message}`);
    };
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TypeError(`${where}: ${path === '' ? 'the partition' : path.slice(0, -1)} must be an object { tMax, tMin, maxLevel, cells } (an S2 partition). Received ${describe(json)}.`);
    }
    const record = json as Record<string, unknown>;
    for (const field of ['tMax', 'tMin', 'maxLevel']) {
      if (typeof record[field] !== 'number') {
        throw new TypeError(`${where}: ${path}${field} must be a number. Received ${describe(record[field])}${field in record ? '' : ' (the field is missing)'}.`);
      }
    }
    const settings = checkOptions({ tMax: record.tMax as number, tMin: record.tMin as number, maxLevel: record.maxLevel as number }, `${where}: ${path}`);
    const list = record.cells;
    if (!Array.isArray(list) || list.length === 0) {
      throw new TypeError(`${where}: ${path}cells must be a non-empty array of cells { token, level, count, center, mean }. Received ${describe(list)}.`);
    }
    const cells: GeoCell[] = [];
    const ids: S2CellId[] = [];
    const seen = new Map<string, number>();
    list.forEach((entry: unknown, i) => {
      const at = `cells[${i}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new TypeError(`${where}: ${path}${at} must be an object { token, level, count, center, mean }. Received ${describe(entry)}.`);
      }
      const c = entry as Record<string, unknown>;
      const token = c.token;
      const id = typeof token === 'string' ? cellOfToken(token) : null;
      if (id === null) {
        fail(`${at}.token must be an S2 cell token (1–16 lowercase hex digits of a valid cell id without trailing zeros, e.g. "47a1"). Received ${describe(token)}.`);
      }
      const cell = id as S2CellId;
      const tokenText = token as string;
      if (seen.has(tokenText)) fail(`${at}.token "${tokenText}" repeats cells[${seen.get(tokenText)}].token; every cell appears once.`);
      seen.set(tokenText, i);
      if (typeof c.level !== 'number') throw new TypeError(`${where}: ${path}${at}.level must be a number. Received ${describe(c.level)}.`);
      if (c.level !== cell.level()) fail(`${at}.level must be the level of token "${tokenText}", ${cell.level()}. Received ${describe(c.level)}.`);
      if (cell.level() > settings.maxLevel) fail(`${at}.level ${cell.level()} is deeper than maxLevel ${settings.maxLevel}.`);
      if (typeof c.count !== 'number') throw new TypeError(`${where}: ${path}${at}.count must be a number. Received ${describe(c.count)}.`);
      if (!Number.isInteger(c.count) || c.count < 0) fail(`${at}.count must be an integer ≥ 0 (photos in the cell). Received ${describe(c.count)}.`);
      const center = parsePair(c.center, `${where}: ${path}${at}.center`);
      const expected = centerOf(cell);
      if (Math.abs(center[0] - expected[0]) > 1e-6 || (Math.abs(expected[0]) < 90 - 1e-9 && lonDifference(center[1], expected[1]) > 1e-6)) {
        fail(`${at}.center must be the centre of cell "${tokenText}", [${expected}]. Received ${describe(c.center)}.`);
      }
      const mean = parsePair(c.mean, `${where}: ${path}${at}.mean`);
      cells.push({ token: tokenText, level: cell.level(), count: c.count as number, center, mean });
      ids.push(cell);
    });
    // Two S2 cells either are disjoint or one contains the other; sorted by id, a cell that overlaps the
    // next one contains it.
    const order = ids.map((_, i) => i).sort((a, b) => (ids[a].rangeMin().id < ids[b].rangeMin().id ? -1 : 1));
    for (let k = 1; k < order.length; k++) {
      const [a, b] = [order[k - 1], order[k]];
      if (ids[b].rangeMin().id <= ids[a].rangeMax().id) {
        const [outer, inner] = ids[a].contains(ids[b]) ? [a, b] : [b, a];
        fail(`cells[${inner}].token "${cells[inner].token}" (level ${cells[inner].level}) lies inside cells[${outer}].token "${cells[outer].token}" (level ${cells[outer].level}); the cells of a partition must not overlap.`);
      }
    }
    return new S2Partition(cells, ids, settings);
  }

  toJson(): S2PartitionJson {
    return {
      tMax: this.tMax,
      tMin: this.tMin,
      maxLevel: this.maxLevel,
      cells: this.cells.map((c) => ({ token: c.token, level: c.level, count: c.count, center: [c.center[0], c.center[1]], mean: [c.mean[0], c.mean[1]] })),
    };
  }

  /** The index of the kept cell that contains `point`, or -1 when no kept cell does. */
  classOf(point: LatLonDegrees): number {
    checkPoint(point, 'S2Partition.classOf: point');
    const leaf = leafIdOf(point);
    const k = upperBound(this.sortedMin, 0, this.sortedMin.length, leaf) - 1;
    return k >= 0 && leaf <= this.sortedMax[k] ? this.sortedClass[k] : -1;
  }

  /** The index of the cell with this token, or -1 when it is not a cell of the partition. */
  classOfToken(token: string): number {
    return this.indexOfToken.get(token) ?? -1;
  }

  /** Where class `index` puts a photo: the mean of its photos or its S2 centre. */
  locationOf(index: number, mode: CellLocationMode): LatLonDegrees {
    const [lat, lon] = this.cellAt(index, 'locationOf')[checkMode(mode, 'S2Partition.locationOf')];
    return { lat, lon };
  }

  /** How many cells each S2 level has, levels ascending (levels without cells left out). */
  levelHistogram(): { level: number; cells: number }[] {
    const counts = new Map<number, number>();
    for (const c of this.cells) counts.set(c.level, (counts.get(c.level) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([level, cells]) => ({ level, cells }));
  }

  /**
   * The outline of cell `index` for a map: its four corners counter-clockwise (seen from outside the
   * sphere), without repeating the first. An S2 cell's edges are great-circle arcs, which a map's straight
   * lines between the corners do not follow on a large cell; `pointsPerEdge` > 1 adds points along each
   * arc (`pointsPerEdge` per edge counting its first corner, evenly spaced by angle). Longitudes are in
   * (-180, 180]: an outline across the antimeridian jumps, which a map has to unwrap.
   */
  cellVerticesDegrees(index: number, pointsPerEdge = 1): LatLonDegrees[] {
    const cell = this.cellAt(index, 'cellVerticesDegrees');
    if (!Number.isInteger(pointsPerEdge) || pointsPerEdge < 1) {
      throw new RangeError(`S2Partition.cellVerticesDegrees: pointsPerEdge must be an integer ≥ 1 (1 gives the 4 corners). Received ${describe(pointsPerEdge)}.`);
    }
    const s2 = new S2Cell(S2CellId.fromToken(cell.token));
    const corners = [0, 1, 2, 3].map((k) => {
      const v = s2.getVertex(k);
      const norm = Math.hypot(v.x, v.y, v.z);
      return [v.x / norm, v.y / norm, v.z / norm];
    });
    const out: LatLonDegrees[] = [];
    for (let k = 0; k < 4; k++) {
      for (let s = 0; s < pointsPerEdge; s++) {
        const p = S2LatLng.fromPoint(new S2Point(...slerp(corners[k], corners[(k + 1) % 4], s / pointsPerEdge)));
        out.push({ lat: p.latDegrees, lon: p.lngDegrees });
      }
    }
    return out;
  }

  private cellAt(index: number, method: string): GeoCell {
    if (!Number.isInteger(index) || index < 0 || index >= this.cells.length) {
      throw new RangeError(`S2Partition.${method}: index must be a class index in [0, ${this.cells.length}) (the partition's cells). Received ${describe(index)}.`);
    }
    return this.cells[index];
  }
}

/** A [lat, lon] pair in degrees, or an error naming `where`. */
function parsePair(value: unknown, where: string): [number, number] {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || typeof value[1] !== 'number') {
    throw new TypeError(`${where} must be [lat, lon], two numbers in degrees. Received ${describe(value)}.`);
  }
  const [lat, lon] = value;
  if (!(lat >= -90 && lat <= 90)) throw new RangeError(`${where}[0] must be a latitude in degrees in [-90, 90]. Received ${describe(lat)}.`);
  if (!(lon >= -180 && lon <= 180)) throw new RangeError(`${where}[1] must be a longitude in degrees in [-180, 180]. Received ${describe(lon)}.`);
  return [lat, lon];
}
