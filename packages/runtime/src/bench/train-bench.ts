/**
 * Training throughput of a classifier on random data: images per second after warm-up, in this process
 * or spread over data-parallel workers, with a per-kernel time breakdown of one profiled step and the
 * memory it took. The library behind `mobilenet bench train` and tools/bench.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { uniformArray } from '@mobilenets/random';
import { StepBatch, StepRunner, classificationTask, localRunner, paperOptimizer } from '@mobilenets/training';
import { BackendName, setup } from '../backend';
import { dataParallel } from '../parallel/data-parallel';

export interface TrainBenchOptions {
  /** Builds the model to train (called once per backend). Its input is [batch, H, W, C], output [batch, classes]. */
  build: () => tfl.LayersModel;
  batch: number;
  steps: number;
  warmup: number;
  backend?: BackendName;
  /** 1: train in this process; ≥ 2: data-parallel worker threads. */
  workers: number;
  accumulate: number;
  /** Profile one in-process step kernel by kernel. */
  profile: boolean;
  /** Called after each timed step (progress). */
  onStep?: (done: number, total: number) => void;
}

/** The papers' weight decay on conv and FC kernels. */
const WEIGHT_DECAY = 4e-5;

export interface KernelTime {
  kernel: string;
  ms: number;
  percent: number;
}

export interface TrainBenchResult {
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
}

/** A classification batch of seeded random images and cycling labels. */
function randomBatch(shape: number[], batch: number, classes: number): StepBatch {
  const images = uniformArray(batch * shape.reduce((a, b) => a * b, 1), 12345);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % classes);
  return { tensors: { images: { data: images, shape: [batch, ...shape] }, labels: { data: labels, shape: [batch] } }, examples: batch };
}

export async function benchmarkTraining(options: TrainBenchOptions): Promise<TrainBenchResult> {
  const runtime = await setup({ backend: options.backend, log: null });
  const model = options.build();
  const [, ...imageShape] = model.inputs[0].shape as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const batch = randomBatch(imageShape, options.batch, classes);
  const optimizer = paperOptimizer();
  const context = { model, optimizer, task: classificationTask(), weightDecay: WEIGHT_DECAY, accumulate: options.accumulate, seed: 0 };
  const losses: number[] = [];
  let elapsedMs = 0;
  let tensorGrowth: number | null = null;
  let kernels: KernelTime[] = [];
  let rssAfterWarmupMiB = 0;
  let rssAfterStepsMiB = 0;
  let stepIndex = 0;
  const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
  const runner: StepRunner = await (options.workers >= 2 ? dataParallel({ workers: options.workers, backend: runtime.backend }) : localRunner())(context);
  // A worker takes ownership of the arrays it is sent: give each step its own copy.
  const step = async () => (await runner.step({ ...batch, tensors: Object.fromEntries(Object.entries(batch.tensors).map(([k, t]) => [k, { data: t.data.slice(), shape: t.shape }])) }, { lr: 0.045, step: stepIndex++ })).loss;
  try {
    for (let i = 0; i < options.warmup; i++) losses.push(await step());
    const before = tf.memory().numTensors;
    rssAfterWarmupMiB = rssMiB();
    const start = performance.now();
    for (let i = 0; i < options.steps; i++) {
      losses.push(await step());
      options.onStep?.(i + 1, options.steps);
    }
    elapsedMs = performance.now() - start;
    rssAfterStepsMiB = rssMiB();
    if (options.workers < 2) {
      tensorGrowth = tf.memory().numTensors - before;
      if (options.profile) kernels = await profileStep(step);
    }
  } finally {
    await runner.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const imagesPerSecond = (options.steps * options.batch) / (elapsedMs / 1000);
  return {
    backend: runtime.backend,
    workers: options.workers,
    threadsPerWorker: runtime.threads,
    batch: options.batch,
    accumulate: options.accumulate,
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
