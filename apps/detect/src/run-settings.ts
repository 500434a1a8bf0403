/**
 * What `mobilenet-detect train` records in `<out>/run.json` (runtime's run folder): every setting that
 * decides the run, resolved to values (paths absolute), so that `--resume` and `eval` need nothing but
 * the folder.
 */
import { readRunRecord } from '@mobilenets/runtime';
import type { AnchorLayout, DetectorKind } from './detector-io';

export const DETECT_APP = 'mobilenet-detect';

/** Where a run's images come from: a COCO file (+ images folder) or a Pascal VOC folder. */
export type DetectionSource = { kind: 'coco'; annotations: string; images: string } | { kind: 'voc'; dir: string; split: string | null };

export interface DetectRunSettings {
  model: DetectorKind;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** The anchor layout (detector-io's ANCHOR_LAYOUTS). Runs recorded before the flag existed used 'tf'. */
  anchors: AnchorLayout;
  /** FPN's top-down pathway over the backbone taps (detection-ssd's createSsd `fpn`). Runs recorded before the flag existed had none. */
  fpn: boolean;
  /** The training data (absolute paths). */
  data: DetectionSource;
  /** True when `data` is the procedural set the run generated into `<run>/data` (no --data). */
  generatedData: boolean;
  /** Validation data, or null when validation is held out of `data`. */
  val: DetectionSource | null;
  /** Share of `data`'s images held out for validation when `val` is null. */
  valFraction: number;
  seed: number;
  /** Class names (label = index), no background. */
  classes: string[];
  scoreFunction: 'softmax' | 'sigmoid';
  optimizer: 'momentum' | 'rmsprop' | 'adam';
  batch: number;
  accumulate: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  augment: boolean;
  /** Smallest share of the image SSD's random crop keeps (1: no crop). Runs recorded before the flag existed used the SSD paper's 0.1. */
  cropArea: number;
  /** Largest zoom-out (SSD's expansion: a side shrunk by up to this on half the views); 1: none, as runs recorded before the flag existed. */
  zoomOut: number;
  /** Validate every n epochs (and at the end). */
  valEvery: number;
  /** Stopping rules (the only settings `--resume` may change, with --max-minutes). */
  epochs: number | null;
  steps: number | null;
  /**
   * `--max-minutes` of a run started without --epochs or --steps: its length is fitted to that time
   * (cli-kit's cosinePlanner). Epochs and steps stay null until the first epoch (or 50 steps) has measured the
   * speed; then steps holds the planned total. Null for runs with a planned length (and runs recorded
   * before the rule existed).
   */
  budgetMinutes: number | null;
  /** A cosine schedule lengthened on --resume: the first entry is the original plan (atStep 0). Empty when never lengthened. */
  cosineExtensions: { atStep: number; totalSteps: number }[];
  /** Weights the backbone started from ('face-api' or a model directory), null for fresh weights. */
  init: string | null;
}

/** The settings of the run in `dir`, or null when `dir` holds no run.json. */
export function readDetectRun(dir: string): DetectRunSettings | null {
  const record = readRunRecord<DetectRunSettings>(dir);
  if (record === null) return null;
  if (record.app !== DETECT_APP) throw new Error(`${dir}: this run was written by ${record.app}, not ${DETECT_APP}.`);
  return { ...record.settings, anchors: record.settings.anchors ?? 'tf', fpn: record.settings.fpn ?? false, cropArea: record.settings.cropArea ?? 0.1, zoomOut: record.settings.zoomOut ?? 1, budgetMinutes: record.settings.budgetMinutes ?? null };
}
