import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { setLearningRate } from './runner';
import { paperOptimizer } from './optimizers';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

/** Two steps of `make(lr)` on one variable with a fixed gradient: the weights after them. */
function twoSteps(optimizer: tf.Optimizer): number[] {
  const w = tf.variable(tf.tensor1d([1, -2, 3]), true, `w${Math.random()}`);
  const g = tf.tensor1d([0.5, -0.25, 1]);
  for (let k = 0; k < 2; k++) optimizer.applyGradients({ [w.name]: g });
  const out = Array.from(w.dataSync());
  tf.dispose([w, g]);
  optimizer.dispose();
  return out;
}

describe('setLearningRate', () => {
  const makers: [string, (lr: number) => tf.Optimizer][] = [
    ['sgd', (lr) => tf.train.sgd(lr)],
    ['momentum', (lr) => tf.train.momentum(lr, 0.9)],
    ['rmsprop (the papers\')', (lr) => paperOptimizer(lr)],
    ['adam', (lr) => tf.train.adam(lr)],
  ];
  it.each(makers)('%s: steps after setting the rate equal an optimizer built with it', (_name, make) => {
    const scheduled = make(0.5);
    setLearningRate(scheduled, 0.01);
    const expected = twoSteps(make(0.01));
    const got = twoSteps(scheduled);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(got).not.toEqual(twoSteps(make(0.5)));
  });

  it('does not leak the scalar SGD and Momentum compute with', () => {
    const optimizer = tf.train.momentum(0.1, 0.9);
    const before = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) setLearningRate(optimizer, 0.1 / (k + 1));
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
  });
});
