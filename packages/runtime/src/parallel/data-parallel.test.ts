/**
 * Data-parallel training for any task: two workers give the same update as one thread training on the
 * same micro-batches, replicas stay identical, and fit resumes exactly through the runner.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1 } from '@mobilenets/backbone';
import { StepBatch, StepRunnerFactory, Task, classificationTask, fit, localRunner, paperOptimizer } from '@mobilenets/training';
import { MemoryCheckpointStore, classAndBoxTask, memoryData, squaresData, tinyClassAndBox, tinyClassifier } from '@mobilenets/training/testing';
import { DataParallelRunner, dataParallel } from './data-parallel';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

async function firstBatch<B>(data: { batches(o: { epoch: number; batchSize: number; seed: number; skip: number }): AsyncIterable<B> }, size: number): Promise<B> {
  for await (const b of data.batches({ epoch: 0, batchSize: size, seed: 1, skip: 0 })) return b;
  throw new Error('no batch');
}

/** Three steps on the same batch with `runner`; the losses and the trainable weights after. */
async function threeSteps(build: () => tfl.LayersModel, task: Task<unknown>, batch: StepBatch, runner: StepRunnerFactory, accumulate: number) {
  const model = build();
  const optimizer = paperOptimizer();
  const r = await runner({ model, optimizer, task, weightDecay: 4e-5, accumulate, seed: 3 });
  const losses: Record<string, number>[] = [];
  try {
    for (let step = 0; step < 3; step++) {
      const copy = { examples: batch.examples, tensors: Object.fromEntries(Object.entries(batch.tensors).map(([k, t]) => [k, { data: t.data.slice(), shape: t.shape }])) };
      losses.push((await r.step(copy, { lr: 0.02, step })).losses);
    }
    await r.sync({ optimizer: true });
    const weights = model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    const slots = (await optimizer.getWeights()).slice(1).map((w) => Array.from(w.tensor.dataSync()));
    return { losses, weights, slots };
  } finally {
    await r.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

function expectClose(a: number[], b: number[], tolerance: number, what: string): void {
  let worst = 0;
  a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i])))));
  if (worst > tolerance) throw new Error(`${what}: differs by ${worst} (tolerance ${tolerance})`);
}

describe('data-parallel steps for any task', () => {
  const cases: [string, () => tfl.LayersModel, () => Task<unknown>, () => Promise<StepBatch>][] = [
    ['classification (tiny classifier with batch norm)', () => tinyClassifier(3, 4), () => classificationTask() as Task<unknown>, async () => classificationTask().prepare(await firstBatch(memoryData(12), 10))],
    ['a class and a box (two outputs)', () => tinyClassAndBox(2), () => classAndBoxTask() as Task<unknown>, async () => classAndBoxTask().prepare(await firstBatch(squaresData(12), 11))],
  ];
  it.each(cases)('%s: 2 workers give the update of 1 worker and of this thread on the same micro-batches', async (_name, build, task, batch) => {
    const b = await batch();
    const local = await threeSteps(build, task(), b, localRunner(), 2);
    const two = await threeSteps(build, task(), b, dataParallel({ workers: 2, backend: 'cpu' }), 1);
    const one = await threeSteps(build, task(), b, dataParallel({ workers: 1, backend: 'cpu' }), 2);
    for (const other of [two, one]) {
      other.losses.forEach((l, i) => expect(Object.keys(l)).toEqual(Object.keys(local.losses[i])));
      expectClose(other.losses.flatMap(Object.values), local.losses.flatMap(Object.values), 1e-5, 'losses');
      other.weights.forEach((w, i) => expectClose(w, local.weights[i], 1e-5, `weight ${i}`));
      other.slots.forEach((s, i) => expectClose(s, local.slots[i], 1e-5, `optimizer slot ${i}`));
    }
  });

  it('keeps MobileNet replicas identical, batch-norm moving statistics included, and uses fewer workers for a small last batch', async () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const optimizer = paperOptimizer();
    const runner = await DataParallelRunner.create({ model, optimizer, task: classificationTask() as Task<unknown>, weightDecay: 0, accumulate: 1, seed: 0 }, { workers: 2, backend: 'cpu' });
    const images = Float32Array.from({ length: 4 * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.61));
    const batch = (n: number) => ({ tensors: { images: { data: images.slice(0, n * 32 * 32 * 3), shape: [n, 32, 32, 3] }, labels: { data: Int32Array.from({ length: n }, (_, i) => i % 3), shape: [n] } }, examples: n });
    try {
      expect(Number.isFinite((await runner.step(batch(4), { lr: 0.01, step: 0 })).loss)).toBe(true);
      expect((await runner.step(batch(1), { lr: 0.01, step: 1 })).examples).toBe(1); // one worker idle
      const handles = (runner as unknown as { handles: { request: (m: unknown, t: string) => Promise<{ weights: Float32Array[] }> }[] }).handles;
      const [a, b] = await Promise.all(handles.map((h) => h.request({ type: 'weights' }, 'weights')));
      expect(a.weights.length).toBe(model.weights.length);
      a.weights.forEach((w, i) => expect(Array.from(b.weights[i])).toEqual(Array.from(w)));
      const movingMean = model.weights.findIndex((w) => w.originalName === 'Conv2d_0_BatchNorm/moving_mean');
      expect(a.weights[movingMean].some((v) => v !== 0)).toBe(true); // the statistics moved
    } finally {
      await runner.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });

  it('fit trains through the runner and resumes exactly (weights and optimizer state come back from the workers)', async () => {
    const options = { batchSize: 8, seed: 2, epochs: 3, runner: dataParallel({ workers: 2, backend: 'cpu' }), task: classAndBoxTask(), validation: squaresData(8, 9) };
    const full: number[] = [];
    const a = tinyClassAndBox();
    await fit(a, squaresData(24), { ...options, callbacks: [{ onStepEnd: (s) => void full.push(s.loss) }] });
    const expected = a.getWeights().map((w) => Array.from(w.dataSync()));
    a.dispose();
    const store = new MemoryCheckpointStore();
    const parts: number[] = [];
    const b = tinyClassAndBox();
    await fit(b, squaresData(24), { ...options, steps: 4, checkpoints: { store }, callbacks: [{ onStepEnd: (s) => void parts.push(s.loss) }] });
    b.dispose();
    const c = tinyClassAndBox(7);
    const r = await fit(c, squaresData(24), { ...options, resume: true, checkpoints: { store }, callbacks: [{ onStepEnd: (s) => void parts.push(s.loss) }] });
    expect(r.resumedFrom).toBe(4);
    expect(parts).toEqual(full);
    c.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(expected[i]));
    store.dispose();
    c.dispose();
  });

  it('reports a task workers cannot load and a worker error clearly', async () => {
    const model = tinyClassifier();
    const optimizer = paperOptimizer();
    const local = { ...classificationTask(), worker: undefined } as Task<unknown>;
    await expect(DataParallelRunner.create({ model, optimizer, task: local, weightDecay: 0, accumulate: 1, seed: 0 }, { workers: 2, backend: 'cpu' })).rejects.toThrow(/does not say how workers load it/);
    const missing = { ...classificationTask(), worker: { module: '/nonexistent/task.js', factory: 'x' } } as Task<unknown>;
    await expect(DataParallelRunner.create({ model, optimizer, task: missing, weightDecay: 0, accumulate: 1, seed: 0 }, { workers: 1, backend: 'cpu' })).rejects.toThrow(/training worker: cannot load the task module \/nonexistent\/task.js/);
    const runner = await DataParallelRunner.create({ model, optimizer, task: classificationTask() as Task<unknown>, weightDecay: 0, accumulate: 1, seed: 0 }, { workers: 2, backend: 'cpu' });
    try {
      const wrong = { tensors: { images: { data: new Float32Array(2 * 8 * 8 * 2), shape: [2, 8, 8, 2] }, labels: { data: Int32Array.from([0, 1]), shape: [2] } }, examples: 2 };
      await expect(runner.step(wrong, { lr: 0.01, step: 0 })).rejects.toThrow(/training worker:/);
    } finally {
      await runner.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });
});
