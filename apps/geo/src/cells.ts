/**
 * The cells a geolocation model classifies into: one partition, or a hierarchy of partitions (coarse →
 * fine, GeoEstimation's multi-partition classifier, one head per partition). `--t-max` and `--t-min` take
 * one value (a partition) or a comma-separated list (a hierarchy); this module parses them, builds the
 * cells from photos, and reads and writes them as partition.json.
 */
import * as fs from 'node:fs';
import { UsageError, rangeErrorsAsUsage } from '@mobilenets/cli-kit';
import { type LatLonDegrees, S2Hierarchy, S2Partition, defaultThresholds } from '@mobilenets/geo';

/** What --t-max / --t-min parse to: one value, or a list of two or more (coarse → fine). */
export type Thresholds = number | number[];

/** The cells: the finest partition (the classes; the only one without a hierarchy), and the hierarchy when there is one. */
export interface GeoCells {
  partition: S2Partition;
  hierarchy: S2Hierarchy | null;
}

export interface PartitionSettings {
  tMax: number;
  tMin: number;
  maxLevel: number;
}

/** Commander parser: an integer ≥ 1, or a comma-separated list of them (`400,200,100`). */
export function parseThresholdsOption(flag: string) {
  return (raw: string): Thresholds => {
    const parts = raw.split(',').map((s) => s.trim());
    const values = parts.map(Number);
    if (parts.some((s) => s === '') || values.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new UsageError(`${flag} expects an integer ≥ 1, or a comma-separated list of them, coarse to fine (e.g. 400,200,100). Received '${raw}'.`);
    }
    return values.length === 1 ? values[0] : values;
  };
}

const list = (t: Thresholds | undefined): number[] | undefined => (t === undefined ? undefined : Array.isArray(t) ? t : [t]);

/**
 * Checks --t-max and --t-min before any photo is read: a --t-max list strictly decreasing (coarse → fine),
 * a --t-min list as long as --t-max (or one value for every partition), no --t-min above its --t-max.
 */
export function checkThresholdFlags(tMax: Thresholds | undefined, tMin: Thresholds | undefined): void {
  const maxes = list(tMax);
  const mins = list(tMin);
  if (maxes !== undefined && maxes.some((v, i) => i > 0 && !(v < maxes[i - 1]))) {
    throw new UsageError(`--t-max ${maxes.join(',')}: a list gives the partitions coarse to fine, so it must strictly decrease (e.g. 400,200,100).`);
  }
  if (mins !== undefined && mins.length > 1 && mins.length !== (maxes?.length ?? 1)) {
    throw new UsageError(`--t-min ${mins.join(',')}: give one value, or one per --t-max value (${maxes?.length ?? 1}).`);
  }
  if (maxes !== undefined && mins !== undefined) {
    maxes.forEach((max, i) => {
      const min = mins.length === 1 ? mins[0] : mins[i];
      if (min > max) throw new UsageError(maxes.length === 1 ? `--t-min (${min}) must not exceed --t-max (${max}).` : `--t-min ${min} must not exceed --t-max ${max} (partition ${i + 1} of ${maxes.length}).`);
    });
  }
}

/** The settings of each partition to build, coarse → fine: the defaults for `photos` photos where a flag is not given. */
export function partitionSettings(photos: number, tMax: Thresholds | undefined, tMin: Thresholds | undefined, maxLevel: number): PartitionSettings[] {
  const maxes = list(tMax);
  const mins = list(tMin);
  const defaults = defaultThresholds(photos);
  const count = Math.max(maxes?.length ?? 1, mins?.length ?? 1);
  return Array.from({ length: count }, (_, i) => {
    const max = maxes?.[i];
    const min = mins === undefined ? undefined : mins.length === 1 ? mins[0] : mins[i];
    return { tMax: max ?? Math.max(defaults.tMax, min ?? 0), tMin: min ?? Math.min(defaults.tMin, max ?? Infinity), maxLevel };
  });
}

/** Partitions `photos` with each of `settings`; two or more make a hierarchy (coarse → fine). */
export function buildCells(photos: readonly LatLonDegrees[], settings: readonly PartitionSettings[]): GeoCells {
  const partitions = settings.map((s) => rangeErrorsAsUsage(() => S2Partition.build(photos, s).partition, '--t-max, --t-min, --max-level'));
  return partitions.length === 1 ? { partition: partitions[0], hierarchy: null } : cellsOfHierarchy(new S2Hierarchy(partitions));
}

const cellsOfHierarchy = (hierarchy: S2Hierarchy): GeoCells => ({ partition: hierarchy.fine, hierarchy });

/** The JSON partition.json holds: the partition, or `{ partitions: [...] }` for a hierarchy. */
export function cellsJson(cells: GeoCells): unknown {
  return cells.hierarchy === null ? cells.partition.toJson() : cells.hierarchy.toJson();
}

/** The settings the single-partition --t-max/--t-min record (numbers), or lists for a hierarchy. */
export function recordedThresholds(settings: readonly PartitionSettings[]): { tMax: Thresholds; tMin: Thresholds; maxLevel: number } {
  if (settings.length === 1) return settings[0];
  return { tMax: settings.map((s) => s.tMax), tMin: settings.map((s) => s.tMin), maxLevel: settings[0].maxLevel };
}

/** "12 cells" or "3, 7, 12 cells (coarse → fine)". */
export function describeCells(cells: GeoCells): string {
  return cells.hierarchy === null ? `${cells.partition.cells.length} S2 cells` : `a hierarchy of ${cells.hierarchy.partitions.length} partitions of ${cells.hierarchy.partitions.map((p) => p.cells.length).join(', ')} S2 cells (coarse → fine)`;
}

/** Reads a partition or hierarchy file (from 'mobilenet-geo partition'); errors name the option and the file. */
export function readCellsFile(file: string, option: string): GeoCells {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${option} ${file}: no such file. Expected a partition written by 'mobilenet-geo partition --out FILE'.`);
    throw new Error(`${option} ${file}: cannot read it (${(error as Error).message}).`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} ${file}: not valid JSON (${(error as Error).message}). Expected a partition written by 'mobilenet-geo partition'.`);
  }
  try {
    if (typeof json === 'object' && json !== null && 'partitions' in json) {
      const hierarchy = S2Hierarchy.fromJson(json, file);
      return hierarchy.partitions.length === 1 ? { partition: hierarchy.fine, hierarchy: null } : cellsOfHierarchy(hierarchy);
    }
    return { partition: S2Partition.fromJson(json, file), hierarchy: null };
  } catch (error) {
    throw new Error(`${option} ${(error as Error).message}`);
  }
}
