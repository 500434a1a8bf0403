import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { classificationTask } from './classification-task';
import { batchGradients, decayedWeights, trainStep, weightDecayPenalty } from './step';
import type { StepBatch } from './task';

/** A classification step batch from NHWC images and integer labels. */
function batchOf(x: tf.Tensor, labels: number[]): StepBatch {
  return { tensors: { images: { data: x.dataSync() as Float32Array, shape: x.shape }, labels: { data: Int32Array.from(labels), shape: [labels.length] } }, examples: labels.length };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the weight-decay rule', () => {
  it.each([
    ['V1', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 })],
    ['V2', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 3 })],
  ])('%s: conv and FC kernels decay; depthwise filters, biases and batch norm do not', (_name, build) => {
    const model = build();
    const decayed = decayedWeights(model).map((w) => w.originalName);
    expect(decayed.length).toBeGreaterThan(10);
    expect(decayed).toContain('Logits/kernel');
    expect(decayed.some((n) => /depthwise/.test(n))).toBe(false);
    expect(decayed.every((n) => n.endsWith('/kernel'))).toBe(true);
    const pointwise = model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    expect(decayed).toHaveLength(pointwise + 1);
    model.dispose();
  });

  it('adds weightDecay · ½‖w‖² to the loss as its own part', () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 5);
    const task = classificationTask();
    const plain = batchGradients(model, task, batchOf(x, [0, 2]));
    const decayed = batchGradients(model, task, batchOf(x, [0, 2]), { weightDecay: 4e-5 });
    const squares = decayedWeights(model).reduce((s, w) => s + tf.tidy(() => tf.sum(tf.square(w.read())).dataSync()[0]), 0);
    expect(Object.keys(plain.losses)).toEqual(['crossEntropy']);
    expect(decayed.losses.weightDecay).toBeCloseTo((4e-5 / 2) * squares, 6);
    expect(weightDecayPenalty(model, 4e-5).dataSync()[0]).toBeCloseTo((4e-5 / 2) * squares, 6);
    expect(decayed.loss).toBeCloseTo(decayed.losses.crossEntropy + decayed.losses.weightDecay, 6);
    tf.dispose([x, ...Object.values(plain.grads), ...Object.values(decayed.grads)]);
    model.dispose();
  });
});

describe('gradient accumulation', () => {
  function smallNet(seed: number): tfl.LayersModel {
    const input = tfl.input({ shape: [6, 6, 2] });
    let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed }) }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }).apply(x) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: x });
  }

  it('K micro-batches give the same update as one batch (no batch norm involved)', () => {
    const x = tf.randomUniform([8, 6, 6, 2], -1, 1, 'float32', 7);
    const batch = batchOf(x, [0, 1, 2, 0, 1, 2, 0, 1]);
    const task = classificationTask();
    const results = [1, 2, 3, 4].map((accumulate) => {
      const model = smallNet(3);
      const optimizer = tf.train.rmsprop(0.01, 0.9, 0.9, 1.0);
      const losses = [0, 1, 2].map(() => trainStep(model, optimizer, task, batch, { accumulate, weightDecay: 4e-5 }).loss);
      const weights = model.getWeights().map((w) => w.dataSync().slice());
      model.dispose();
      optimizer.dispose();
      return { losses, weights };
    });
    for (const other of results.slice(1)) {
      other.losses.forEach((l, i) => expect(l).toBeCloseTo(results[0].losses[i], 5));
      other.weights.forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo(results[0].weights[i][j], 5)));
    }
    expect(results[0].losses[2]).toBeLessThan(results[0].losses[0]);
    x.dispose();
  });

  it('a training step leaks no tensors', () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const optimizer = tf.train.rmsprop(0.045, 0.9, 0.9, 1.0);
    const x = tf.randomUniform([4, 32, 32, 3], -1, 1);
    const batch = batchOf(x, [0, 1, 2, 0]);
    const task = classificationTask();
    trainStep(model, optimizer, task, batch, { accumulate: 2 }); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    trainStep(model, optimizer, task, batch, { accumulate: 2, weightDecay: 4e-5, dropoutSeed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
    optimizer.dispose();
  });
});
