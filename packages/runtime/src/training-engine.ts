/**
 * Which engine trains, and how its step is laid out, for every training app: the onnxruntime engine
 * (each step one compiled ONNX graph, ./onnx-training) or the tfjs engine (tfjs autodiff on the tfjs
 * backend, in this thread or over data-parallel worker threads).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackendName } from './backend';
import { planParallelTraining, planTrainingBatch } from './memory/plan';
import { defaultWorkerCount } from './parallel/data-parallel';

export type TrainingEngine = 'onnx' | 'tfjs';

/** The environment variable that overrides the default engine: `ort` (or `onnx`) or `tfjs`. */
export const TRAINING_ENGINE_ENV = 'MOBILENETS_TRAINER';

/**
 * The engine apps train on when the user names none: `MOBILENETS_TRAINER` when set (`ort`/`onnx` or
 * `tfjs`), else onnxruntime — it is one of runtime's own dependencies, so it loads wherever runtime does.
 */
export function defaultTrainingEngine(env: Readonly<Record<string, string | undefined>> = process.env): TrainingEngine {
  const value = env[TRAINING_ENGINE_ENV];
  if (value === undefined || value === '') return 'onnx';
  const name = value.trim().toLowerCase();
  if (name === 'ort' || name === 'onnx' || name === 'onnxruntime') return 'onnx';
  if (name === 'tfjs') return 'tfjs';
  throw new RangeError(`${TRAINING_ENGINE_ENV}=${value}: expected 'ort' (the onnxruntime engine) or 'tfjs'.`);
}

export interface EnginePlanOptions {
  /** The engine asked for; undefined: {@link defaultTrainingEngine}. */
  engine?: TrainingEngine;
  model: tfl.LayersModel;
  /** Images per optimizer step. */
  batchSize: number;
  /** The tfjs backend of this process (the tfjs engine's; the onnx engine's memory is counted as the cpu backend's). */
  backend: BackendName;
  /** Micro-batches per step asked for (the tfjs engine's memory; the onnx engine runs whole batches). */
  accumulate: number;
  /** Worker threads asked for (tfjs engine); undefined: as many as keep batch-norm batches whole. */
  workers?: number;
}

export interface EnginePlan {
  engine: TrainingEngine;
  workers: number;
  accumulate: number;
  /** One line for the user about how the step was laid out, or null. */
  message: string | null;
  /** How the apps' backend line names where training runs, e.g. 'onnxruntime' or 'tfjs wasm × 2'. */
  runsOn: string;
}

/**
 * Lays out the step on the chosen engine. tfjs: as many workers as the batch allows (or as asked) and
 * accumulated micro-batches where a worker's share does not fit its wasm heap. onnx: the whole batch as
 * one graph on onnxruntime's threads, refused before compiling when the machine cannot hold it (the
 * step holds what the cpu backend's would). Throws a RangeError naming what fits.
 */
export function planTrainingEngine(options: EnginePlanOptions): EnginePlan {
  const { model, batchSize, backend, accumulate, workers } = options;
  const engine = options.engine ?? defaultTrainingEngine();
  if (engine === 'onnx') {
    if (workers !== undefined && workers > 1) {
      throw new RangeError(`${workers} workers spread steps over tfjs worker threads (the tfjs engine); the onnx engine runs each step on onnxruntime's own threads.`);
    }
    planTrainingBatch({ model, batchSize, backend: 'cpu', runsOn: 'onnxruntime', workers: 1, accumulate: 1, split: false });
    const message = accumulate > 1 ? `the onnx engine runs each step as one graph of the whole batch (accumulation ${accumulate} is for the tfjs engine's memory)` : null;
    return { engine, workers: 1, accumulate: 1, message, runsOn: 'onnxruntime' };
  }
  const common = { model, batchSize, backend, accumulate };
  const plan = workers === undefined
    ? planParallelTraining({ ...common, maxWorkers: defaultWorkerCount() })
    : planTrainingBatch({ ...common, workers: Math.min(workers, Math.max(1, Math.floor(batchSize / accumulate))) });
  return { engine, workers: plan.workers, accumulate: plan.accumulate, message: plan.message, runsOn: `tfjs ${backend} × ${plan.workers}` };
}
