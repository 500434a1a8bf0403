/**
 * Faster R-CNN's training steps on the wasm training kernels (runtime's setup): a step reaches every
 * trainable weight — the backbone's also through the crops of the second stage —, many steps leak no
 * tensors, two data-parallel workers train it, and a few images are overfit by both stages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { createFasterRcnn, fasterRcnnAnchorsCxcywh, fasterRcnnTask } from '@mobilenets/detection-faster-rcnn';
import { dataParallel, setup } from '@mobilenets/runtime';
import { batchGradients, constantSchedule, fit, localRunner } from '@mobilenets/training';
import { type Rect, drawScenes, randomScenes, sceneData } from './testing';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: () => undefined });
}, 120_000);

const SIZE = 64;

function tiny(seed = 3) {
  const backbone = mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed });
  const f = createFasterRcnn({ backbone, classes: 3, rpnDepth: 16, rpnHead: 'separable', anchors: { height: 32, width: 32, scales: [0.5, 1, 2] }, seed });
  return { ...f, anchorsCxcywh: fasterRcnnAnchorsCxcywh(f) };
}

const draw = (scenes: Rect[][]) => drawScenes(scenes);
const data = (scenes: Rect[][]) => sceneData(scenes);

describe('Faster R-CNN training on wasm', () => {
  it('a step reaches every trainable weight; the second stage sends gradient through the crops into the backbone; no leaks', () => {
    const f = tiny();
    const task = fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3 });
    const batch = task.prepare(draw(randomScenes(2, 4)));
    const full = batchGradients(f.model, task, batch);
    expect(Object.keys(full.grads).length).toBe(f.model.trainableWeights.length);
    expect(Object.keys(full.losses).sort()).toEqual(['box', 'classifier', 'rpnBox', 'rpnObjectness']);
    // With the second stage's losses weighted 0, Conv2d_11's gradient is the first stage's alone: it differs.
    const rpnOnly = batchGradients(f.model, fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3, lossWeights: { classifier: 0, box: 0 } }), batch);
    const conv11 = f.model.trainableWeights.find((w) => w.originalName.startsWith('Conv2d_11_pointwise/kernel'))!;
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(full.grads[conv11.name], rpnOnly.grads[conv11.name]))).dataSync()[0]);
    expect(difference).toBeGreaterThan(1e-6);
    tf.dispose([...Object.values(full.grads), ...Object.values(rpnOnly.grads)]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(Object.values(batchGradients(f.model, task, batch).grads));
    expect(tf.memory().numTensors).toBe(before);
    f.model.dispose();
  });

  it('overfits a few images (both stages) in 150 steps, on two data-parallel workers', async () => {
    const f = tiny(7);
    const scenes = randomScenes(8, 9);
    const task = fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3, rpnBatchSize: 64, secondStageBatchSize: 16 });
    const before = (await task.validate(f.model, data(scenes), { batchSize: 8 })).metrics;
    const result = await fit(f.model, data(scenes), {
      task, runner: dataParallel({ workers: 2, backend: 'wasm' }), steps: 150, batchSize: 8, schedule: constantSchedule(0.005), optimizer: () => tf.train.adam(0.005),
      validation: data(scenes), validateEvery: 1000, seed: 1,
    });
    const after = result.val!.metrics;
    expect(before.AP50).toBeLessThan(0.2);
    expect(after.AP50).toBeGreaterThan(0.8);
    expect(after.mAP).toBeGreaterThan(0.4);
    f.model.dispose();
  }, 240_000);

  it('the same few steps in this thread and on the local runner: the losses fall', async () => {
    const f = tiny(11);
    const task = fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3 });
    const losses: number[] = [];
    await fit(f.model, data(randomScenes(4, 2)), {
      task, runner: localRunner(), steps: 20, batchSize: 4, schedule: constantSchedule(0.003), optimizer: () => tf.train.adam(0.003), seed: 1,
      callbacks: [{ onStepEnd: (s: { loss: number }) => void losses.push(s.loss) }],
    });
    expect(losses.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(0.7 * losses.slice(0, 3).reduce((a, b) => a + b) / 3);
    f.model.dispose();
  }, 120_000);
});
