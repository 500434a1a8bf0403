/**
 * Faster R-CNN's training steps on the wasm training kernels (runtime's setup): a step reaches every
 * trainable weight — the backbone's also through the crops of the second stage —, many steps leak no
 * tensors, two data-parallel workers train it, and a few images are overfit by both stages.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import type { BatchOptions, DetectionBatch } from '@mobilenets/contracts';
import { createFasterRcnn, fasterRcnnAnchorsCxcywh, fasterRcnnTask } from '@mobilenets/detection-faster-rcnn';
import { mulberry32 } from '@mobilenets/random';
import { dataParallel, setup } from '@mobilenets/runtime';
import { batchGradients, constantSchedule, fit, localRunner, type TrainingData } from '@mobilenets/training';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: () => undefined });
}, 120_000);

const SIZE = 64;

function tiny(seed = 3) {
  const backbone = mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed });
  const f = createFasterRcnn({ backbone, classes: 3, rpnDepth: 16, rpnHead: 'separable', anchors: { height: 32, width: 32, scales: [0.5, 1, 2] }, seed });
  return { ...f, anchorsCxcywh: fasterRcnnAnchorsCxcywh(f) };
}

interface Rect {
  box: number[];
  label: number;
}

/** Scenes of one or two rectangles, 12–28 px on a 64 px image, one of three classes each. */
function randomScenes(count: number, seed: number): Rect[][] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + Math.floor(random() * 2) }, () => {
      const w = (12 + random() * 16) / SIZE;
      const h = (12 + random() * 16) / SIZE;
      const x = random() * (1 - w);
      const y = random() * (1 - h);
      return { box: [x, y, x + w, y + h], label: Math.floor(random() * 3) };
    }));
}

/** The scenes drawn: −1 background, each rectangle +1 in its class's channel. */
function draw(scenes: Rect[][]): DetectionBatch {
  const pixels = SIZE * SIZE * 3;
  const images = new Float32Array(scenes.length * pixels).fill(-1);
  scenes.forEach((rects, i) => {
    for (const { box, label } of rects) {
      const [x1, y1, x2, y2] = box.map((v) => Math.round(v * SIZE));
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) images[i * pixels + (y * SIZE + x) * 3 + label] = 1;
    }
  });
  return {
    images, shape: [scenes.length, SIZE, SIZE, 3],
    boxesXyxy: scenes.map((r) => Float32Array.from(r.flatMap((o) => o.box))),
    labels: scenes.map((r) => Int32Array.from(r.map((o) => o.label))),
    ignore: scenes.map((r) => new Uint8Array(r.length)),
    paths: scenes.map((_, i) => `scene:${i}`), imageIds: scenes.map((_, i) => i + 1), originalSizes: scenes.map(() => [SIZE, SIZE] as [number, number]),
  };
}

function data(scenes: Rect[][]): TrainingData<DetectionBatch> {
  return {
    size: scenes.length,
    async *batches({ batchSize, skip }: BatchOptions) {
      for (let b = skip; b * batchSize < scenes.length; b++) yield draw(scenes.slice(b * batchSize, (b + 1) * batchSize));
    },
  };
}

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
