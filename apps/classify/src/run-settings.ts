/**
 * What `mobilenet-classify train` records in `<out>/run.json` (runtime's run folder): every setting
 * that decides the run, resolved to values (paths absolute), so that `--resume` and `eval --run` need
 * nothing but the folder.
 */
import { readRunRecord } from '@mobilenets/runtime';

export const CLASSIFY_APP = 'mobilenet-classify';

export interface ClassifyRunSettings {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  variant: 'standard' | 'full-conv' | 'shallow';
  activation: 'relu' | 'relu6';
  /** null: the architecture's default. */
  dropout: number | null;
  /** null: the architecture's default. */
  bnMomentum: number | null;
  /** The training ImageFolder (absolute). */
  data: string;
  /** True when `data` is the procedural dataset the run generated into `<run>/data` (no --data). */
  generatedData: boolean;
  /** The validation ImageFolder (absolute), or null when validation is held out of `data`. */
  val: string | null;
  /** Share of each class of `data` held out for validation (when `val` is null). */
  valFraction: number;
  seed: number;
  /** Class names, label = index. */
  classes: string[];
  batch: number;
  accumulate: number;
  lr: number;
  schedule: 'paper' | 'cosine';
  /** A cosine schedule lengthened on --resume: the first entry is the original plan (atStep 0). Empty when never lengthened. */
  cosineExtensions: { atStep: number; totalSteps: number }[];
  warmupSteps: number;
  weightDecay: number;
  labelSmoothing: number;
  ema: number | null;
  augment: boolean;
  /** With augment: brightness, contrast and saturation jitter too. */
  colorJitter: boolean;
  /** Largest image decoded (width × height), null: the default. */
  maxPixels: number | null;
  /** Stopping rules (the only settings `--resume` may change). */
  epochs: number | null;
  steps: number | null;
  /** Weights the run started from ('face-api' or a model directory), null for fresh weights. */
  init: string | null;
  freezeBackbone: boolean;
}

/** The settings of the run in `dir`, or null when `dir` holds no run.json. */
export function readClassifyRun(dir: string): ClassifyRunSettings | null {
  const record = readRunRecord<ClassifyRunSettings>(dir);
  if (record === null) return null;
  if (record.app !== CLASSIFY_APP) throw new Error(`${dir}: this run was written by ${record.app}, not ${CLASSIFY_APP}.`);
  return record.settings;
}
