/**
 * What a run measures, and each section's budget: the full run (≤ 30 min on a 2-core machine: the
 * budgets add up to 24 min, and a section that spends its budget leaves out what remains) and the
 * --quick smoke run (~1–2 min: one or two small models per section, a few runs each).
 */
import type { InferencePlan } from './inference';
import type { TrainingPlan } from './training';

export interface DetectionPlan {
  /** Built-in detectors (BUILT_IN_DETECTORS of detection-latency.ts); null: all of them. */
  detectors: string[] | null;
  runs: number;
  warmup: number;
  budgetMs: number;
}

export interface RunPlan {
  inference: InferencePlan;
  training: TrainingPlan;
  detection: DetectionPlan;
  /** Per section, in ms. */
  budgetMs: { inference: number; training: number; detection: number };
}

const MINUTE = 60_000;
const SECOND = 1000;
const sizes = (arch: 'v1' | 'v2', alphas: number[]) => alphas.flatMap((alpha) => [224, 128].map((inputSize) => ({ arch, alpha, inputSize })));

export const FULL_PLAN: RunPlan = {
  inference: {
    // The papers' width multipliers at the largest and smallest resolutions.
    models: [...sizes('v1', [1, 0.75, 0.5, 0.25]), ...sizes('v2', [1, 0.5, 0.35])],
    cpuModels: ['V1 0.25-128', 'V2 0.35-128'],
    threads: 2,
    warmup: 5,
    runs: 50,
    budgetMsPerEngine: { 'onnxruntime fp32': 10 * SECOND, 'onnxruntime int8': 10 * SECOND, 'tfjs wasm': 15 * SECOND, 'tfjs cpu': 10 * SECOND },
  },
  training: {
    // The project's two reference configs; tfjs cpu on the small one only (one step of 4 images).
    configs: [
      { alpha: 0.25, inputSize: 128, batch: 32, warmup: 2, steps: 20, cpuBatch: 4 },
      { alpha: 1, inputSize: 224, batch: 16, warmup: 2, steps: 6, cpuBatch: null },
    ],
    workers: 2,
  },
  detection: { detectors: null, runs: 30, warmup: 3, budgetMs: 10 * SECOND },
  budgetMs: { inference: 10 * MINUTE, training: 10 * MINUTE, detection: 4 * MINUTE },
};

export const QUICK_PLAN: RunPlan = {
  inference: {
    models: [{ arch: 'v1', alpha: 0.25, inputSize: 128 }, { arch: 'v2', alpha: 0.35, inputSize: 128 }],
    cpuModels: ['V1 0.25-128'],
    threads: 2,
    warmup: 2,
    runs: 10,
    budgetMsPerEngine: { 'onnxruntime fp32': 2 * SECOND, 'onnxruntime int8': 2 * SECOND, 'tfjs wasm': 2 * SECOND, 'tfjs cpu': 3 * SECOND },
  },
  training: {
    configs: [{ alpha: 0.25, inputSize: 128, batch: 32, warmup: 1, steps: 2, cpuBatch: 2 }],
    workers: 2,
  },
  detection: { detectors: ['SSDLite 320, V1 α 0.5'], runs: 5, warmup: 1, budgetMs: 2 * SECOND },
  budgetMs: { inference: 1 * MINUTE, training: 1.5 * MINUTE, detection: 0.5 * MINUTE },
};
