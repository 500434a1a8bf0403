/**
 * Training throughput of a classifier on random data: images per second after warm-up, in this process
 * or spread over data-parallel workers, with a per-kernel time breakdown of one profiled step and the
 * memory it took. The library behind `mobilenet bench train` and tools/bench.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { trainStep } from '@mobilenets/training';
import { BackendName, setup } from '../backend';
import { DataParallelTrainer } from '../parallel/data-parallel';
import type { OptimizerSpec } from '../parallel/protocol';
import { seededUniform } from '../seeded';

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

export const PAPER_RMSPROP: OptimizerSpec = { kind: 'rmsprop', learningRate: 0.045, decay: 0.9, momentum: 0.9, epsilon: 1.0 };
const LOSS = { weightDecay: 4e-5 };

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

function randomBatch(shape: number[], classes: number, batch: number): { x: Float32Array; labels: Float32Array } {
  const x = seededUniform(batch * shape.reduce((a, b) => a * b, 1), 12345);
  const labels = new Float32Array(batch * classes);
  for (let i = 0; i < batch; i++) labels[i * classes + (i % classes)] = 1;
  return { x, labels };
}

export async function benchmarkTraining(options: TrainBenchOptions): Promise<TrainBenchResult> {
  const runtime = await setup({ backend: options.backend, log: null });
  const model = options.build();
  const [, ...imageShape] = model.inputs[0].shape as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const xShape = [options.batch, ...imageShape];
  const labelsShape = [options.batch, classes];
  const data = randomBatch(imageShape, classes, options.batch);
  const losses: number[] = [];
  let elapsedMs = 0;
  let tensorGrowth: number | null = null;
  let kernels: KernelTime[] = [];
  let rssAfterWarmupMiB = 0;
  let rssAfterStepsMiB = 0;
  const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
  try {
    if (options.workers >= 2) {
      const trainer = await DataParallelTrainer.create(model, { workers: options.workers, backend: runtime.backend, optimizer: PAPER_RMSPROP, loss: LOSS });
      try {
        for (let i = 0; i < options.warmup; i++) losses.push((await trainer.step(data.x, xShape, data.labels, labelsShape, options.accumulate)).loss);
        rssAfterWarmupMiB = rssMiB();
        const start = performance.now();
        for (let i = 0; i < options.steps; i++) {
          losses.push((await trainer.step(data.x, xShape, data.labels, labelsShape, options.accumulate)).loss);
          options.onStep?.(i + 1, options.steps);
        }
        elapsedMs = performance.now() - start;
        rssAfterStepsMiB = rssMiB();
      } finally {
        await trainer.dispose();
      }
    } else {
      const optimizer = tf.train.rmsprop(PAPER_RMSPROP.learningRate, PAPER_RMSPROP.decay, PAPER_RMSPROP.momentum, PAPER_RMSPROP.epsilon);
      const x = tf.tensor(data.x, xShape);
      const labels = tf.tensor(data.labels, labelsShape);
      const step = () => trainStep(model, optimizer, x, labels, { ...LOSS, accumulate: options.accumulate });
      try {
        for (let i = 0; i < options.warmup; i++) losses.push(step());
        const before = tf.memory().numTensors;
        rssAfterWarmupMiB = rssMiB();
        const start = performance.now();
        for (let i = 0; i < options.steps; i++) {
          losses.push(step());
          options.onStep?.(i + 1, options.steps);
        }
        elapsedMs = performance.now() - start;
        rssAfterStepsMiB = rssMiB();
        tensorGrowth = tf.memory().numTensors - before;
        if (options.profile) kernels = await profileStep(step);
      } finally {
        tf.dispose([x, labels]);
        optimizer.dispose();
      }
    }
  } finally {
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
async function profileStep(step: () => number): Promise<KernelTime[]> {
  const info = await tf.profile(() => {
    step();
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
