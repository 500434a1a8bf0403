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
  /** null: the architecture's default. */
  dropout: number | null;
  bnMomentum: number;
  /** The training ImageFolder (absolute). */
  data: string;
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
  warmupSteps: number;
  weightDecay: number;
  labelSmoothing: number;
  ema: number | null;
  augment: boolean;
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
