/**
 * The SSD task through runtime's data-parallel workers: two workers give the update of this thread on
 * the same two micro-batches (each micro-batch normalises its losses by its own positives, so the
 * comparison is with accumulate 2, not with one 4-image step).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { ssdAnchorsCxcywh } from '@mobilenets/box-math';
import type { DetectionBatch } from '@mobilenets/contracts';
import { createSsd, ssdTask } from '@mobilenets/detection-ssd';
import { dataParallel } from '@mobilenets/runtime';
import { type StepRunnerFactory, type Task, localRunner, paperOptimizer } from '@mobilenets/training';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
}, 120_000);

const SIZE = 64;
const build = () => createSsd({ backbone: mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed: 5 }), classes: 2, extraLayerDepths: [], anchorsPerLocation: [3, 6], seed: 6 });

function batch(): DetectionBatch {
  const images = Float32Array.from({ length: 4 * SIZE * SIZE * 3 }, (_, i) => Math.sin(i * 0.37));
  const boxes = [[0.1, 0.1, 0.5, 0.6], [0.3, 0.2, 0.9, 0.8, 0.05, 0.6, 0.3, 0.95], [0.55, 0.5, 0.95, 0.9], [0.2, 0.3, 0.45, 0.5]];
  return {
    images, shape: [4, SIZE, SIZE, 3],
    boxesXyxy: boxes.map((b) => Float32Array.from(b)),
    labels: boxes.map((b, i) => Int32Array.from({ length: b.length / 4 }, (_, k) => (i + k) % 2)),
    ignore: boxes.map((b) => new Uint8Array(b.length / 4)),
    paths: ['a', 'b', 'c', 'd'], imageIds: [1, 2, 3, 4], originalSizes: [[SIZE, SIZE], [SIZE, SIZE], [SIZE, SIZE], [SIZE, SIZE]],
  };
}

async function twoSteps(runner: StepRunnerFactory, accumulate: number) {
  const ssd = build();
  const task = ssdTask({ anchorsCxcywh: ssdAnchorsCxcywh(ssd.featureMapSizes, { numLayers: 2 }), classes: 2 }) as Task<unknown>;
  const optimizer = paperOptimizer();
  const r = await runner({ model: ssd.model, optimizer, task, weightDecay: 4e-5, accumulate, seed: 3 });
  try {
    const losses: Record<string, number>[] = [];
    for (let step = 0; step < 2; step++) losses.push((await r.step(task.prepare(batch()), { lr: 0.01, step })).losses);
    await r.sync({ optimizer: true });
    return { losses, weights: ssd.model.trainableWeights.map((w) => Array.from(w.read().dataSync())) };
  } finally {
    await r.dispose();
    optimizer.dispose();
    ssd.model.dispose();
  }
}

it('ssdTask over 2 workers gives the losses and weights of this thread with 2 accumulated micro-batches', async () => {
  const local = await twoSteps(localRunner(), 2);
  const workers = await twoSteps(dataParallel({ workers: 2, backend: 'cpu' }), 1);
  expect(Object.keys(workers.losses[0]).sort()).toEqual(['classification', 'localization', 'weightDecay']);
  expect(local.losses[0].localization).toBeGreaterThan(0);
  workers.losses.forEach((l, i) => Object.entries(l).forEach(([name, v]) => expect(Math.abs(v - local.losses[i][name])).toBeLessThan(1e-5 * Math.max(1, Math.abs(v)))));
  let worst = 0;
  workers.weights.forEach((w, i) => w.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - local.weights[i][k]) / Math.max(1, Math.abs(local.weights[i][k]))))));
  expect(worst).toBeLessThan(1e-5);
  const fresh = build(); // the same seeds: the initial weights
  const initial = fresh.model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
  fresh.model.dispose();
  expect(local.weights.some((w, i) => w.some((v, k) => v !== initial[i][k]))).toBe(true); // the steps moved the weights
}, 300_000); // 96 s alone on an AVX2 machine (tfjs cpu, two worker threads that load the sources); more beside another test file
