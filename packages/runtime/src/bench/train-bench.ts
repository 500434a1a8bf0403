/**
 * Training throughput of a classifier on random data: images per second after warm-up, in this process
 * or spread over data-parallel workers, with a per-kernel time breakdown of one profiled step and the
 * memory it took. Before training, the step's memory is planned (../memory/plan.ts): a batch that does
 * not fit is split into accumulated micro-batches, or refused. The library behind `mobilenet bench train`
 * and tools/bench.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { uniformArray } from '@mobilenets/random';
import { StepBatch, StepRunner, classificationTask, localRunner, paperOptimizer } from '@mobilenets/training';
import { BackendName, setup } from '../backend';
import { dataParallel } from '../parallel/data-parallel';
import { wasmHeapBytes } from '../memory/heap-size';
import { MemoryLimits, TrainingBatchPlan, planTrainingBatch } from '../memory/plan';
import { classificationLoss } from '../onnx-training/losses';
import { DEFAULT_TRAINING_THREADS, onnxTrainingRunner } from '../onnx-training/runner';

export interface TrainBenchOptions {
  /** Builds the model to train (called once per backend). Its input is [batch, H, W, C], output [batch, classes]. */
  build: () => tfl.LayersModel;
  batch: number;
  steps: number;
  warmup: number;
  backend?: BackendName;
  /** 1: train in this process; ≥ 2: data-parallel worker threads. */
  workers: number;
  /** Micro-batches per step (per worker); default 1. More are used when the batch does not fit in memory. */
  accumulate?: number;
  /** Profile one in-process step kernel by kernel (tfjs engine). */
  profile: boolean;
  /**
   * 'tfjs' (default): tfjs autodiff on the backend, in process or over data-parallel workers;
   * 'onnx': the onnxruntime training engine (one compiled graph per step, native kernels; `workers`,
   * `accumulate` and the memory plan do not apply).
   */
  engine?: 'tfjs' | 'onnx';
  /** onnx engine: let onnxruntime's threads spin while waiting (faster on an idle machine). Default false. */
  spin?: boolean;
  /** onnx engine: split the step around the task's tfjs loss instead of compiling it (measures what the split costs). Default false. */
  splitLoss?: boolean;
  /** Limits for the memory plan; default the wasm heap's 4 GiB and the memory available now. */
  memoryLimits?: Partial<MemoryLimits>;
  /** Called with the memory plan before training starts (its `message` says when it split the batch). */
  onPlan?: (plan: TrainingBatchPlan) => void;
  /** Called as each phase starts (done 0), after each of its steps, and as it ends. */
  onProgress?: (progress: TrainBenchProgress) => void;
}

export interface TrainBenchProgress {
  /** 'workers': starting the data-parallel workers; 'warm-up': untimed steps; 'timed': the measured steps; 'profile': the kernel-by-kernel step. */
  phase: 'workers' | 'warm-up' | 'timed' | 'profile';
  done: number;
  total: number;
  /** Since the phase started. */
  elapsedMs: number;
}

/** The papers' weight decay on conv and FC kernels. */
const WEIGHT_DECAY = 4e-5;

export interface KernelTime {
  kernel: string;
  ms: number;
  percent: number;
}

export interface TrainBenchResult {
  /** 'tfjs' or 'onnx'. */
  engine: string;
  /** The tfjs backend, or 'onnxruntime'. */
  backend: string;
  workers: number;
  threadsPerWorker: number;
  batch: number;
  accumulate: number;
  steps: number;
  imagesPerSecond: number;
  msPerStep: number;
  firstLoss: number;
  lastLoss: number;
  /** Peak resident memory of the process so far (workers are threads of it), MiB. */
  peakRssMiB: number;
  /** Resident memory after the warm-up steps and after the timed steps, MiB: growth means a leak. */
  rssAfterWarmupMiB: number;
  rssAfterStepsMiB: number;
  /** In-process runs: tfjs tensors alive after the timed steps minus before (0: no leak). */
  tensorGrowth: number | null;
  kernels: KernelTime[];
  /** The memory plan: the largest micro-batch, and the estimated peak per replica (its wasm heap on wasm); null on the onnx engine. */
  microBatch: number;
  estimatedPeakMiB: number | null;
  /** In-process wasm runs: the wasm heap's size after the steps (it only grows, ~20 % beyond what is asked), MiB. */
  wasmHeapMiB: number | null;
}

/** A classification batch of seeded random images and cycling labels. */
function randomBatch(shape: number[], batch: number, classes: number): StepBatch {
  const images = uniformArray(batch * shape.reduce((a, b) => a * b, 1), 12345);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
  return { tensors: { images: { data: images, shape: [batch, ...shape] }, labels: { data: labels, shape: [batch] } }, examples: batch };
}

/** Runs `count` steps of a phase, reporting its progress; resolves to its duration. */
async function runPhase(phase: TrainBenchProgress['phase'], count: number, step: () => Promise<number>, losses: number[], onProgress?: (p: TrainBenchProgress) => void): Promise<number> {
  const start = performance.now();
  onProgress?.({ phase, done: 0, total: count, elapsedMs: 0 });
  for (let i = 0; i < count; i++) {
    losses.push(await step());
    onProgress?.({ phase, done: i + 1, total: count, elapsedMs: performance.now() - start });
  }
  return performance.now() - start;
}

export async function benchmarkTraining(options: TrainBenchOptions): Promise<TrainBenchResult> {
  const runtime = await setup({ backend: options.backend, log: null });
  const model = options.build();
  const onnx = options.engine === 'onnx';
  let plan: TrainingBatchPlan | null = null;
  if (!onnx) {
    try {
      plan = planTrainingBatch({ model, batchSize: options.batch, backend: runtime.backend, workers: options.workers, accumulate: options.accumulate ?? 1, limits: options.memoryLimits });
    } catch (error) {
      model.dispose();
      throw error;
    }
    options.onPlan?.(plan);
  }
  const onProgress = options.onProgress;
  const [, ...imageShape] = model.inputs[0].shape as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const batch = randomBatch(imageShape, options.batch, classes);
  const optimizer = paperOptimizer();
  const context = { model, optimizer, task: classificationTask(), weightDecay: WEIGHT_DECAY, accumulate: plan?.accumulate ?? 1, seed: 0 };
  const losses: number[] = [];
  let elapsedMs = 0;
  let tensorGrowth: number | null = null;
  let kernels: KernelTime[] = [];
  let rssAfterWarmupMiB = 0;
  let rssAfterStepsMiB = 0;
  let stepIndex = 0;
  let wasmHeap: number | null = null;
  const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
  let runner: StepRunner;
  try {
    if (onnx) {
      runner = await onnxTrainingRunner({ loss: options.splitLoss === true ? 'split' : classificationLoss(), spin: options.spin })(context);
    } else if (options.workers >= 2) {
      const started = performance.now();
      onProgress?.({ phase: 'workers', done: 0, total: options.workers, elapsedMs: 0 });
      runner = await dataParallel({ workers: options.workers, backend: runtime.backend })(context);
      onProgress?.({ phase: 'workers', done: options.workers, total: options.workers, elapsedMs: performance.now() - started });
    } else {
      runner = await localRunner()(context);
    }
  } catch (error) {
    optimizer.dispose();
    model.dispose();
    throw error;
  }
  // A worker takes ownership of the arrays it is sent: give each step its own copy.
  const step = async () => (await runner.step({ ...batch, tensors: Object.fromEntries(Object.entries(batch.tensors).map(([k, t]) => [k, { data: t.data.slice(), shape: t.shape }])) }, { lr: 0.045, step: stepIndex++ })).loss;
  try {
    await runPhase('warm-up', options.warmup, step, losses, onProgress);
    const before = tf.memory().numTensors;
    rssAfterWarmupMiB = rssMiB();
    elapsedMs = await runPhase('timed', options.steps, step, losses, onProgress);
    rssAfterStepsMiB = rssMiB();
    if (!onnx && options.workers < 2) {
      tensorGrowth = tf.memory().numTensors - before;
      wasmHeap = wasmHeapBytes();
      if (options.profile) {
        const started = performance.now();
        onProgress?.({ phase: 'profile', done: 0, total: 1, elapsedMs: 0 });
        kernels = await profileStep(step);
        onProgress?.({ phase: 'profile', done: 1, total: 1, elapsedMs: performance.now() - started });
      }
    }
  } finally {
    await runner.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const imagesPerSecond = (options.steps * options.batch) / (elapsedMs / 1000);
  return {
    engine: onnx ? 'onnx' : 'tfjs',
    backend: onnx ? 'onnxruntime' : runtime.backend,
    workers: onnx ? 1 : options.workers,
    threadsPerWorker: onnx ? DEFAULT_TRAINING_THREADS : runtime.threads,
    batch: options.batch,
    accumulate: plan?.accumulate ?? 1,
    steps: options.steps,
    imagesPerSecond,
    msPerStep: elapsedMs / options.steps,
    firstLoss: losses[0],
    lastLoss: losses[losses.length - 1],
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssAfterWarmupMiB,
    rssAfterStepsMiB,
    tensorGrowth,
    kernels,
    microBatch: plan?.microBatch ?? options.batch,
    estimatedPeakMiB: plan === null ? null : plan.perReplicaBytes / 2 ** 20,
    wasmHeapMiB: wasmHeap === null ? null : wasmHeap / 2 ** 20,
  };
}

/** Per-kernel wall time of one step. tfjs also reports op-level wrappers (names ending in '__op') that contain kernels: left out. */
async function profileStep(step: () => Promise<number>): Promise<KernelTime[]> {
  const info = await tf.profile(async () => {
    await step();
  });
  const byKernel = new Map<string, number>();
  for (const k of info.kernels) {
    if (k.name.endsWith('__op')) continue;
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  return [...byKernel]
    .map(([kernel, ms]) => ({ kernel, ms, percent: (100 * ms) / total }))
    .sort((a, b) => b.ms - a.ms);
}
