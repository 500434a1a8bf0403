/**
 * The SSD task on the onnxruntime training engine against the tfjs step, the reference: a two-output
 * model (box encodings, class logits) whose loss — smooth L1, cross-entropy with hard negative mining
 * (TopK), normalised by the positives — is compiled into the step (runtime's ssdStepLoss), with the
 * predictors' Reshape and Concatenate layers. Each step starts from the reference's state (see
 * runtime's parity.test.ts for why) and must give the same losses, metrics and weight changes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { ssdAnchorsCxcywh } from '@mobilenets/box-math';
import type { DetectionBatch } from '@mobilenets/contracts';
import { createSsd, ssdTask, type SsdHead } from '@mobilenets/detection-ssd';
import { onnxTrainingRunner, setup, ssdStepLoss } from '@mobilenets/runtime';
import { type StepRunnerFactory, type Task, localRunner } from '@mobilenets/training';
import { type TrainingState, stepFromState, worstRelativeDifference } from './testing';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: null }); // the tfjs step as the apps train it
}, 120_000);

const SIZE = 96;
const CLASSES = 2;

/** Images of `n` random boxes each (seeded), as detectionData would give them. */
function batchOf(n: number, seed: number): DetectionBatch {
  let s = seed;
  const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const images = Float32Array.from({ length: n * SIZE * SIZE * 3 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.8);
  const boxes = Array.from({ length: n }, (_, i) => {
    const count = 1 + ((i + seed) % 3);
    return Float32Array.from({ length: 4 * count }, (_, k) => (k % 4 < 2 ? 0.05 + 0.5 * random() : 0.55 + 0.4 * random()));
  });
  return {
    images, shape: [n, SIZE, SIZE, 3],
    boxesXyxy: boxes,
    labels: boxes.map((b, i) => Int32Array.from({ length: b.length / 4 }, (_, k) => (i + k + seed) % CLASSES)),
    ignore: boxes.map((b) => new Uint8Array(b.length / 4)),
    paths: boxes.map((_, i) => `${i}.png`), imageIds: boxes.map((_, i) => i + 1), originalSizes: boxes.map(() => [SIZE, SIZE] as [number, number]),
  };
}

interface Case {
  build: () => tfl.LayersModel;
  anchors: Float64Array;
  scoreFunction: 'softmax' | 'sigmoid';
  optimizer: () => tf.Optimizer;
}

function caseOf(arch: 'v1' | 'v2', head: SsdHead, scoreFunction: 'softmax' | 'sigmoid', optimizer: () => tf.Optimizer, fpn = false): Case {
  const make = () => {
    const backbone = arch === 'v1'
      ? mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed: 5 })
      : mobilenetV2({ widthMultiplier: 0.35, inputSize: SIZE, includeTop: false, seed: 5 });
    return createSsd({ backbone, classes: CLASSES, head, fpn, depthMultiplier: 0.25, seed: 6 });
  };
  const probe = make();
  const anchors = ssdAnchorsCxcywh(probe.featureMapSizes);
  probe.model.dispose();
  return { build: () => make().model, anchors, scoreFunction, optimizer };
}

/** One step of `runner` from `state` (null: the case's fresh weights); the step's result and the state after it. */
function stepFrom(c: Case, runner: StepRunnerFactory, state: TrainingState | null, batch: DetectionBatch, step: number) {
  const task = ssdTask({ anchorsCxcywh: c.anchors, classes: CLASSES, scoreFunction: c.scoreFunction }) as Task<unknown>;
  return stepFromState(c.build(), c.optimizer(), task, runner, state, batch, { step, lr: 0.01 * (step + 1) });
}

async function expectSameSteps(c: Case, batches: DetectionBatch[]): Promise<void> {
  const ort = onnxTrainingRunner({ loss: ssdStepLoss({ scoreFunction: c.scoreFunction }) });
  let state = (await stepFrom(c, localRunner(), null, batches[0], 0)).after; // a state after one step: slots that are not zero
  for (const [k, batch] of batches.entries()) {
    const step = k + 1;
    const reference = await stepFrom(c, localRunner(), state, batch, step);
    const ours = await stepFrom(c, ort, state, batch, step);
    expect(Object.keys(ours.result.losses).sort()).toEqual(['classification', 'localization', 'weightDecay']);
    for (const [name, value] of Object.entries(reference.result.losses)) expect(Math.abs(ours.result.losses[name] - value)).toBeLessThan(2e-5 * Math.max(1, Math.abs(value)));
    expect(reference.result.losses.localization).toBeGreaterThan(0);
    expect(ours.result.metrics.positives).toBeCloseTo(reference.result.metrics.positives, 5);
    expect(ours.result.metrics.negatives).toBeCloseTo(reference.result.metrics.negatives, 5);
    expect(reference.result.metrics.negatives).toBeGreaterThan(0);
    const change = (after: TrainingState) => after.weights.map((w, i) => w.map((v, j) => v - state.weights[i][j]));
    const [refChange, ourChange] = [change(reference.after), change(ours.after)];
    const largest = Math.max(...refChange.map((d) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    // Tolerance as runtime's parity test: small batches make batch statistics ill-conditioned, and the
    // error grows toward the input (measured here: up to 3e-2 on V2's first layers at 96 px, batch 8;
    // 0.28 at 64 px, batch 4, where the last maps are 1 × 1; and RMSprop's second step, which divides by
    // the square root of one step's squared gradients, amplified V2 SSD's to 0.25 where momentum gives
    // 2.5e-2, hence momentum here — RMSprop's update is checked by runtime's parity test). A wrong
    // formula is off by order 1.
    expect(worstRelativeDifference(refChange, ourChange, 1e-3 * largest)).toBeLessThan(6e-2);
    tf.dispose([...state.optimizer, ...ours.after.optimizer].map((n) => n.tensor));
    state = reference.after;
  }
  tf.dispose(state.optimizer.map((n) => n.tensor));
}

describe('SSD on the onnxruntime training engine = the tfjs step', () => {
  test('SSDLite on V1 α 0.25, softmax, momentum SGD (the app\'s recipe), 2 steps', async () => {
    await expectSameSteps(caseOf('v1', 'ssdlite', 'softmax', () => tf.train.momentum(0.05, 0.9)), [batchOf(8, 1), batchOf(8, 2)]);
  }, 120_000);

  test('SSD on V2 α 0.35, sigmoid, momentum SGD, with a short last batch', async () => {
    await expectSameSteps(caseOf('v2', 'ssd', 'sigmoid', () => tf.train.momentum(0.05, 0.9)), [batchOf(8, 3), batchOf(7, 4)]);
  }, 120_000);

  // On V1: V2 with FPN at this size is ill-conditioned (tfjs' own wasm and cpu backends part by 0.4 on one step, measured).
  test('SSDLite on V1 α 0.25 with FPN\'s top-down pathway (1×1 conv, UpSampling2D, Add), softmax, 2 steps', async () => {
    await expectSameSteps(caseOf('v1', 'ssdlite', 'softmax', () => tf.train.momentum(0.05, 0.9), true), [batchOf(8, 7), batchOf(8, 8)]);
  }, 120_000);
});

test('the split step (the SSD task\'s tfjs loss between compiled halves) = the compiled ssdStepLoss, on a two-output model', async () => {
  const c = caseOf('v1', 'ssdlite', 'softmax', () => tf.train.momentum(0.05, 0.9));
  const start = (await stepFrom(c, localRunner(), null, batchOf(8, 5), 0)).after;
  const batch = batchOf(8, 6);
  const compiled = await stepFrom(c, onnxTrainingRunner({ loss: ssdStepLoss() }), start, batch, 1);
  const split = await stepFrom(c, onnxTrainingRunner({ loss: 'split' }), start, batch, 1);
  for (const [name, value] of Object.entries(compiled.result.losses)) expect(Math.abs(split.result.losses[name] - value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(value)));
  for (const [name, value] of Object.entries(compiled.result.metrics)) expect(split.result.metrics[name]).toBeCloseTo(value, 5);
  const change = (after: TrainingState) => after.weights.map((w, i) => w.map((v, j) => v - start.weights[i][j]));
  const largest = Math.max(...change(compiled.after).map((d) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  expect(worstRelativeDifference(change(compiled.after), change(split.after), 1e-3 * largest)).toBeLessThan(1e-3);
  tf.dispose([...start.optimizer, ...compiled.after.optimizer, ...split.after.optimizer].map((n) => n.tensor));
}, 120_000);
