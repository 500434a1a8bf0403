import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { classificationLoss, decayedWeights, splitBatch, trainStep } from './step';

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

  it('adds weightDecay · ½‖w‖² to the loss', () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const probabilities = tf.tensor2d([[0.2, 0.3, 0.5]]);
    const labels = tf.tensor2d([[0, 0, 1]]);
    const plain = classificationLoss(model, probabilities, labels).dataSync()[0];
    const decayed = classificationLoss(model, probabilities, labels, { weightDecay: 4e-5 }).dataSync()[0];
    const squares = decayedWeights(model).reduce((s, w) => s + tf.tidy(() => tf.sum(tf.square(w.read())).dataSync()[0]), 0);
    expect(plain).toBeCloseTo(-Math.log(0.5), 6);
    expect(decayed - plain).toBeCloseTo((4e-5 / 2) * squares, 6);
    tf.dispose([probabilities, labels]);
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
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    const results = [1, 2, 4].map((accumulate) => {
      const model = smallNet(3);
      const optimizer = tf.train.rmsprop(0.01, 0.9, 0.9, 1.0);
      const losses = [0, 1, 2].map(() => trainStep(model, optimizer, x, labels, { accumulate, weightDecay: 4e-5 }));
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
    tf.dispose([x, labels]);
  });

  it('splits uneven batches into sizes that differ by at most one and rejects nonsense', () => {
    const x = tf.zeros([7, 2]);
    const y = tf.zeros([7, 3]);
    const parts = splitBatch(x, y, 3);
    expect(parts.map((p) => p.x.shape[0])).toEqual([3, 2, 2]);
    tf.dispose([x, y, ...parts.flatMap((p) => [p.x, p.labels])]);
    expect(() => splitBatch(tf.zeros([2, 1]), tf.zeros([2, 1]), 3)).toThrow(/parts must be an integer in \[1, 2\]/);
  });

  it('a training step leaks no tensors', () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const optimizer = tf.train.rmsprop(0.045, 0.9, 0.9, 1.0);
    const x = tf.randomUniform([4, 32, 32, 3], -1, 1);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3);
    trainStep(model, optimizer, x, labels, { accumulate: 2 }); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    trainStep(model, optimizer, x, labels, { accumulate: 2, weightDecay: 4e-5 });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, labels]);
    model.dispose();
    optimizer.dispose();
  });
});
