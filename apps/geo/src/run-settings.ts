/**
 * What `mobilenet-geo train` records in `<out>/run.json` (runtime's run folder): every setting that
 * decides the run, resolved to values (paths absolute), so that `--resume` and `eval` need nothing but
 * the folder.
 */
import { readRunRecord } from '@mobilenets/runtime';

export const GEO_APP = 'mobilenet-geo';

/** A geotagged photo manifest: a CSV (`path,lat,lon`) and the folder its relative paths start from. */
export interface GeoSource {
  csv: string;
  images: string;
}

/** How a predicted cell becomes a point: the mean of the cell's training photos, or the S2 cell's centre. */
export type LocateMode = 'mean' | 'center';

export interface GeoRunSettings {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** The training photos (absolute paths). */
  data: GeoSource;
  /** True when `data` is the procedural set the run generated into `<run>/data` (no --data). */
  generatedData: boolean;
  /** Validation photos, or null when validation is held out of `data`. */
  val: GeoSource | null;
  valFraction: number;
  seed: number;
  /** The partition file the run was given (absolute), or null when the run built one from its training photos; either way the run's copy is `<run>/partition.json`. */
  partitionFrom: string | null;
  /** Thresholds the run's partition was built with (null when it came from a file); lists, coarse to fine, for a hierarchy (one head per partition). */
  tMax: number | number[] | null;
  tMin: number | number[] | null;
  maxLevel: number | null;
  locate: LocateMode;
  topK: number;
  optimizer: 'momentum' | 'rmsprop' | 'adam';
  batch: number;
  accumulate: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  labelSmoothing: number;
  augment: boolean;
  valEvery: number;
  /** Stopping rules (the only settings `--resume` may change, with --max-minutes). */
  epochs: number | null;
  steps: number | null;
  /** `--max-minutes` of a run started without --epochs or --steps: its length is fitted to that time (cli-kit's cosinePlanner); steps stay null until the first epoch (or 50 steps) has measured the speed. Null otherwise, and for runs recorded before the rule. */
  budgetMinutes: number | null;
  /** A cosine schedule lengthened on --resume: the first entry is the original plan (atStep 0). Empty when never lengthened. */
  cosineExtensions: { atStep: number; totalSteps: number }[];
  /** Weights the run started from (a model directory or 'face-api'), null for fresh weights. */
  init: string | null;
}

/** The settings of the run in `dir`, or null when `dir` holds no run.json. */
export function readGeoRun(dir: string): GeoRunSettings | null {
  const record = readRunRecord<GeoRunSettings>(dir);
  if (record === null) return null;
  if (record.app !== GEO_APP) throw new Error(`${dir}: this run was written by ${record.app}, not ${GEO_APP}.`);
  return { ...record.settings, budgetMinutes: record.settings.budgetMinutes ?? null };
}
