/**
 * Ours against PyTorch on one training step with the same weights and images (issue 8): writes the
 * initial weights of MobileNetV1 0.25-64 (seed 3, 4 classes), a batch of /tmp/q/f4 train images, our loss
 * and gradients, and the losses of 20 RMSprop steps to /tmp/q/stepcheck.json; tools/quality/step_check.py
 * (optional, PyTorch) loads them into the reference model and compares.
 *
 *   MOBILENETS_BACKEND=wasm node -r ./tools/ts-register.js tools/quality/step-check.ts && /usr/bin/python3 tools/quality/step_check.py
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '@mobilenets/runtime';
import { mobilenetV1 } from '@mobilenets/backbone';
import * as datasets from '@mobilenets/datasets';
import { batchGradients, classificationTask, trainableVariables } from '@mobilenets/training';
(async () => {
  await setup({ log: null });
  const f = await datasets.readImageFolder('/tmp/q/f4');
  const d = datasets.classificationData(f.train, f.classes, { inputSize: 64, augment: false, onSkip: () => undefined });
  let batch: datasets.ClassificationBatch | null = null;
  for await (const b of d.batches({ epoch: 0, batchSize: 32, seed: 0, skip: 0 })) { batch = b; break; }
  const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 4, dropout: 0, seed: 3 });
  const task = classificationTask();
  const weights = model.weights.map((w) => ({ name: w.originalName, shape: w.shape, values: Array.from(w.read().dataSync()) }));
  const names = trainableVariables(model).map((v) => v.name);
  const g = batchGradients(model, task, task.prepare(batch!), { weightDecay: 0 });
  const tnames = model.trainableWeights.map((w) => w.originalName);
  const grads = names.map((n, i) => ({ name: tnames[i], values: Array.from(g.grads[n].dataSync()) }));
  // Several RMSprop steps on the same batch sequence, to compare trajectories.
  const opt = tf.train.rmsprop(0.045, 0.9, 0.9, 1.0);
  const losses: number[] = [];
  const batches: { images: number[]; labels: number[] }[] = [];
  let k = 0;
  for (const epoch of [0, 1]) {
    for await (const b of d.batches({ epoch, batchSize: 32, seed: 0, skip: 0 })) {
      if (k++ >= 20) break;
      const r = batchGradients(model, task, task.prepare(b), { weightDecay: 0 });
      losses.push(r.loss);
      opt.applyGradients(r.grads);
      tf.dispose(Object.values(r.grads));
      batches.push({ images: Array.from(b.images), labels: Array.from(b.labels) });
    }
  }
  fs.writeFileSync('/tmp/q/stepcheck.json', JSON.stringify({ shape: batch!.shape, images: Array.from(batch!.images), labels: Array.from(batch!.labels), weights, loss: g.loss, grads, losses, batches }));
  console.log('loss', g.loss, 'losses', losses.map((l) => l.toFixed(4)).join(' '));
})();
