/**
 * From a classifier's cell probabilities to a place on the earth. The most probable cell gives the
 * location — its photos' mean by default (GeoEstimation found it better than the S2 centre), or its
 * centre. With topK > 1 the location is the probability-weighted mean on the sphere of the k most
 * probable cells' locations: the direction of Σ p_i · v_i over their unit vectors v_i, which stays
 * correct across the antimeridian. Ties rank the lower cell index first.
 */
import { CellLocationMode, checkMode, describe } from './checks';
import type { LatLonDegrees } from './distance';
import { S2Partition } from './partition';
import { meanDirection } from './sphere';

export interface LocateOptions {
  /** Which location a cell stands for: 'mean' of its photos (default) or its S2 'center'. */
  mode?: CellLocationMode;
  /** How many of the most probable cells the location averages. Default 1 (the most probable cell's location). */
  topK?: number;
  /** How many cells `top` lists. Default 5 (fewer when the partition has fewer cells). */
  report?: number;
}

export interface GeoPrediction {
  /** The predicted place. */
  location: LatLonDegrees;
  /** The most probable cell (class index) and its token. */
  cell: number;
  token: string;
  /** The most probable cell's probability. */
  confidence: number;
  /** The most probable cells, most probable first, each with its own location. */
  top: { cell: number; token: string; probability: number; location: LatLonDegrees }[];
}

/** The indices of the `k` largest values, largest first; equal values keep the lower index first. */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (best.length === k) {
      if (!(v > values[best[k - 1]])) continue;
      best.pop();
    }
    let at = best.length;
    while (at > 0 && v > values[best[at - 1]]) at--;
    best.splice(at, 0, i);
  }
  return best;
}

function positiveInteger(value: unknown, fallback: number, name: string, most: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > most) {
    throw new RangeError(`locate: ${name} must be an integer in [1, ${most}] (the partition's cells). Received ${describe(value)}.`);
  }
  return v as number;
}

/** Where one image was taken, from its [cells] probabilities under `partition`. */
export function locate(probabilities: ArrayLike<number>, partition: S2Partition, options: LocateOptions = {}): GeoPrediction {
  if (!(partition instanceof S2Partition)) throw new TypeError(`locate: partition must be an S2Partition. Received ${describe(partition)}.`);
  const cells = partition.cells.length;
  if (probabilities === null || typeof probabilities !== 'object' || probabilities.length !== cells) {
    throw new RangeError(`locate: probabilities must hold one value per cell of the partition (${cells}) for one image. Received ${describe(probabilities?.length ?? probabilities)} values.`);
  }
  for (let i = 0; i < cells; i++) {
    if (!Number.isFinite(probabilities[i])) throw new RangeError(`locate: probabilities[${i}] must be a finite number. Received ${describe(probabilities[i])}.`);
  }
  const mode = checkMode(options.mode ?? 'mean', 'locate');
  const topK = positiveInteger(options.topK, 1, 'topK', cells);
  const report = positiveInteger(options.report, Math.min(5, cells), 'report', cells);
  const ranked = topIndices(probabilities, Math.max(topK, report));
  const cell = ranked[0];
  const at = (c: number) => ({ cell: c, token: partition.cells[c].token, probability: probabilities[c], location: partition.locationOf(c, mode) });
  let location = partition.locationOf(cell, mode);
  if (topK > 1) {
    const chosen = ranked.slice(0, topK);
    // No weight (all zero) or locations that cancel out: the most probable cell's location stands.
    location = meanDirection(chosen.map((c) => partition.locationOf(c, mode)), chosen.map((c) => Math.max(0, probabilities[c]))) ?? location;
  }
  return { location, cell, token: partition.cells[cell].token, confidence: probabilities[cell], top: ranked.slice(0, report).map(at) };
}

/**
 * The "predict the most populous cell" baseline: the cell with the most photos (the lower index on a
 * tie) and its location, the answer a model that learnt nothing but the prior would give every image.
 */
export function mostPopulousCell(partition: S2Partition, mode: CellLocationMode = 'mean'): { cell: number; location: LatLonDegrees } {
  if (!(partition instanceof S2Partition)) throw new TypeError(`mostPopulousCell: partition must be an S2Partition. Received ${describe(partition)}.`);
  checkMode(mode, 'mostPopulousCell');
  const cell = topIndices(partition.cells.map((c) => c.count), 1)[0];
  return { cell, location: partition.locationOf(cell, mode) };
}
