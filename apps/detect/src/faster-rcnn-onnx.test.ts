/**
 * Faster R-CNN's onnxruntime step (faster-rcnn-onnx.ts: the first stage split around the host, the
 * second stage one compiled step with its crops' gradient) against the task's tfjs step, the reference:
 * from the same state, the same losses, metrics and weight changes — the backbone's included, which
 * learns from both stages. And a few images overfit on onnxruntime.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import type { DetectionBatch } from '@mobilenets/contracts';
import { createFasterRcnn, fasterRcnnAnchorsCxcywh, fasterRcnnTask, type FasterRcnnTaskOptions } from '@mobilenets/detection-faster-rcnn';
import { setup } from '@mobilenets/runtime';
import { constantSchedule, fit, localRunner, type StepRunnerFactory, type Task } from '@mobilenets/training';
import { fasterRcnnOnnxRunner } from './faster-rcnn-onnx';
import { type Rect, type TrainingState, drawScenes, randomScenes, sceneData, stepFromState, worstRelativeDifference } from './testing';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: () => undefined });
}, 120_000);

const SIZE = 64;

function build(arch: 'v1' | 'v2', seed: number) {
  const backbone = arch === 'v1'
    ? mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed })
    : mobilenetV2({ widthMultiplier: 0.35, inputSize: SIZE, includeTop: false, seed });
  const f = createFasterRcnn({ backbone, classes: 3, rpnDepth: 16, rpnHead: 'separable', anchors: { height: 32, width: 32, scales: [0.5, 1, 2] }, seed });
  return { ...f, anchorsCxcywh: fasterRcnnAnchorsCxcywh(f) };
}

const draw = (scenes: Rect[][]) => drawScenes(scenes, { background: 'textured' });
const data = (scenes: Rect[][]) => sceneData(scenes, draw);

/** One step of `runner` from `state` (null: fresh weights); its result and the state after it. */
async function stepFrom(arch: 'v1' | 'v2', taskOptions: (anchors: Float64Array) => FasterRcnnTaskOptions, runner: (o: FasterRcnnTaskOptions) => StepRunnerFactory, state: TrainingState | null, batch: DetectionBatch, step: number) {
  const f = build(arch, 5);
  const options = taskOptions(f.anchorsCxcywh);
  return stepFromState(f.model, tf.train.momentum(0.05, 0.9), fasterRcnnTask(options) as Task<unknown>, runner(options), state, batch, { step, lr: 0.01 * (step + 1) });
}

const tfjs = () => localRunner();
const onnx = (task: FasterRcnnTaskOptions) => fasterRcnnOnnxRunner({ task });

describe('Faster R-CNN on the onnxruntime training engine = the tfjs step', () => {
  for (const arch of ['v1', 'v2'] as const) {
    test(`${arch}: 2 steps from the same states give the same losses, metrics and weight changes`, async () => {
      const options = (anchorsCxcywh: Float64Array): FasterRcnnTaskOptions => ({ anchorsCxcywh, classes: 3, rpnBatchSize: 64, secondStageBatchSize: 16 });
      let state = (await stepFrom(arch, options, tfjs, null, draw(randomScenes(4, 1, { most: 3 })), 0)).after;
      for (const [k, seed] of [2, 3].entries()) {
        const batch = draw(randomScenes(4, seed, { most: 3 }));
        const reference = await stepFrom(arch, options, tfjs, state, batch, k + 1);
        const ours = await stepFrom(arch, options, onnx, state, batch, k + 1);
        expect(Object.keys(ours.result.losses).sort()).toEqual(['box', 'classifier', 'rpnBox', 'rpnObjectness', 'weightDecay']);
        expect(Object.keys(reference.result.losses).sort()).toEqual(Object.keys(ours.result.losses).sort());
        for (const [name, value] of Object.entries(reference.result.losses)) expect(Math.abs(ours.result.losses[name] - value)).toBeLessThan(1e-4 * Math.max(1, Math.abs(value)));
        expect(reference.result.losses.classifier).toBeGreaterThan(0);
        expect(reference.result.losses.box).toBeGreaterThan(0);
        for (const [name, value] of Object.entries(reference.result.metrics)) expect(ours.result.metrics[name]).toBeCloseTo(value, 5);
        const change = (after: TrainingState) => after.weights.map((w, i) => w.map((v, j) => v - state.weights[i][j]));
        const [refChange, ourChange] = [change(reference.after), change(ours.after)];
        const largest = Math.max(...refChange.map((d) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
        // As the SSD parity test: small batches make batch statistics ill-conditioned; a wrong formula is off by order 1.
        expect(worstRelativeDifference(refChange, ourChange, 1e-3 * largest)).toBeLessThan(6e-2);
        tf.dispose([...state.optimizer, ...ours.after.optimizer].map((n) => n.tensor));
        state = reference.after;
      }
      tf.dispose(state.optimizer.map((n) => n.tensor));
    }, 120_000);
  }

  test('a step with the second stage weighted 0 leaves the backbone\'s change to the RPN: the crops\' gradient reaches the backbone', async () => {
    const batch = draw(randomScenes(4, 4, { most: 3 }));
    const start = (await stepFrom('v1', (a) => ({ anchorsCxcywh: a, classes: 3 }), tfjs, null, batch, 0)).after;
    const both = await stepFrom('v1', (a) => ({ anchorsCxcywh: a, classes: 3 }), onnx, start, batch, 1);
    const rpnOnly = await stepFrom('v1', (a) => ({ anchorsCxcywh: a, classes: 3, lossWeights: { classifier: 0, box: 0 } }), onnx, start, batch, 1);
    const model = build('v1', 5).model;
    const conv11 = model.weights.findIndex((w) => w.originalName.startsWith('Conv2d_11_pointwise/kernel'));
    model.dispose();
    const difference = both.after.weights[conv11].reduce((m, v, j) => Math.max(m, Math.abs(v - rpnOnly.after.weights[conv11][j])), 0);
    expect(difference).toBeGreaterThan(1e-6);
    tf.dispose([...start.optimizer, ...both.after.optimizer, ...rpnOnly.after.optimizer].map((n) => n.tensor));
  }, 120_000);
});

test('overfits a few images (both stages) in 100 steps on onnxruntime', async () => {
  const f = build('v1', 7);
  const scenes = randomScenes(8, 9, { most: 3 });
  const options: FasterRcnnTaskOptions = { anchorsCxcywh: f.anchorsCxcywh, classes: 3, rpnBatchSize: 64, secondStageBatchSize: 16 };
  const task = fasterRcnnTask(options);
  const before = (await task.validate(f.model, data(scenes), { batchSize: 8 })).metrics;
  const result = await fit(f.model, data(scenes), {
    task, runner: fasterRcnnOnnxRunner({ task: options }), steps: 100, batchSize: 8, schedule: constantSchedule(0.005), optimizer: () => tf.train.adam(0.005),
    validation: data(scenes), validateEvery: 1000, seed: 1,
  });
  const after = result.val!.metrics;
  expect(before.AP50).toBeLessThan(0.2);
  expect(after.AP50).toBeGreaterThan(0.8);
  expect(after.mAP).toBeGreaterThan(0.4);
  f.model.dispose();
}, 240_000);
