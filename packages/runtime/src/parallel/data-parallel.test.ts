/**
 * Data-parallel training: replicas stay identical, and on a model without batch norm two workers give
 * the same step as one process training on the whole batch.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1 } from '@mobilenets/backbone';
import { trainStep } from '@mobilenets/training';
import { DataParallelTrainer } from './data-parallel';
import type { OptimizerSpec } from './protocol';

const RMSPROP: OptimizerSpec = { kind: 'rmsprop', learningRate: 0.01, decay: 0.9, momentum: 0.9, epsilon: 1 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function smallNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

function data(batch: number, shape: number[], classes: number) {
  const x = new Float32Array(batch * shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.61));
  const labels = new Float32Array(batch * classes);
  for (let i = 0; i < batch; i++) labels[i * classes + (i % classes)] = 1;
  return { x, labels, xShape: [batch, ...shape], labelsShape: [batch, classes] };
}

describe('DataParallelTrainer', () => {
  it('two workers (uneven shards, with accumulation) match one process on the whole batch', async () => {
    const reference = smallNet();
    const d = data(7, [6, 6, 2], 3);
    const parallel = await DataParallelTrainer.create(reference, { workers: 2, backend: 'cpu', optimizer: RMSPROP, loss: { weightDecay: 4e-5 } });
    const parallelLosses: number[] = [];
    try {
      for (let i = 0; i < 3; i++) parallelLosses.push((await parallel.step(d.x.slice(), d.xShape, d.labels.slice(), d.labelsShape, i === 2 ? 2 : 1)).loss);
      const parallelWeights = await parallel.getWeights();

      const optimizer = tf.train.rmsprop(RMSPROP.learningRate, RMSPROP.decay, RMSPROP.momentum, RMSPROP.epsilon);
      const x = tf.tensor(d.x, d.xShape);
      const labels = tf.tensor(d.labels, d.labelsShape);
      const losses = [0, 1, 2].map(() => trainStep(reference, optimizer, x, labels, { weightDecay: 4e-5 }));
      losses.forEach((l, i) => expect(parallelLosses[i]).toBeCloseTo(l, 5));
      reference.getWeights().forEach((w, i) => {
        const expected = w.dataSync();
        parallelWeights[i].forEach((v, j) => expect(v).toBeCloseTo(expected[j], 5));
      });
      tf.dispose([x, labels]);
      optimizer.dispose();
    } finally {
      await parallel.dispose();
      reference.dispose();
    }
  });

  it('keeps MobileNet replicas identical, batch-norm moving statistics included', async () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const d = data(4, [32, 32, 3], 3);
    const parallel = await DataParallelTrainer.create(model, { workers: 2, backend: 'cpu', optimizer: RMSPROP });
    try {
      const { loss } = await parallel.step(d.x, d.xShape, d.labels, d.labelsShape);
      expect(Number.isFinite(loss)).toBe(true);
      const handles = (parallel as unknown as { handles: { request: (m: unknown, t: string) => Promise<{ weights: Float32Array[] }> }[] }).handles;
      const [a, b] = await Promise.all(handles.map((h) => h.request({ type: 'weights' }, 'weights')));
      expect(a.weights.length).toBe(model.weights.length);
      a.weights.forEach((w, i) => expect(Array.from(b.weights[i])).toEqual(Array.from(w)));
      const movingMean = model.weights.findIndex((w) => w.originalName === 'Conv2d_0_BatchNorm/moving_mean');
      expect(a.weights[movingMean].some((v) => v !== 0)).toBe(true); // the statistics moved
    } finally {
      await parallel.dispose();
      model.dispose();
    }
  });

  it('reports a batch too small to split and a worker error clearly', async () => {
    const model = smallNet();
    const parallel = await DataParallelTrainer.create(model, { workers: 2, backend: 'cpu', optimizer: RMSPROP });
    try {
      const d = data(1, [6, 6, 2], 3);
      await expect(parallel.step(d.x, d.xShape, d.labels, d.labelsShape)).rejects.toThrow('a batch of 1 cannot be split over 2 workers × 1 micro-batches');
      const wrong = data(2, [5, 5, 2], 3);
      await expect(parallel.step(wrong.x, wrong.xShape, wrong.labels, wrong.labelsShape)).rejects.toThrow(/training worker:/);
    } finally {
      await parallel.dispose();
      model.dispose();
    }
  });
});
