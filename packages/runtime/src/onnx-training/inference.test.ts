/**
 * Validation on the onnxruntime engine (OnnxTrainingRunner.inference): the exported forward pass gives
 * tfjs' outputs within float tolerance, for any batch size, and fit's validation through it measures what
 * tfjs measures on the same weights. A model the exporter cannot convert falls back to tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import type { ClassificationBatch } from '@mobilenets/contracts';
import { uniformArray } from '@mobilenets/random';
import { ClassificationData, StepRunnerFactory, classificationTask, evaluate, fit, paperOptimizer } from '@mobilenets/training';
import { setup } from '../backend';
import { randomizeWeights } from '../onnx/testing';
import { classificationLoss } from './losses';
import { OnnxTrainingRunner, onnxTrainingRunner } from './runner';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: null });
});

async function runnerFor(model: tfl.LayersModel): Promise<OnnxTrainingRunner> {
  const optimizer = paperOptimizer(0.01);
  return (await onnxTrainingRunner({ loss: classificationLoss() })({ model, optimizer, task: classificationTask(), weightDecay: 4e-5, accumulate: 1, seed: 0 })) as OnnxTrainingRunner;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('OnnxTrainingRunner.inference', () => {
  it.each([
    ['V1 0.25-32', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 5, dropout: 0.2, seed: 1 })],
    ['V2 0.35-32', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 5, dropout: 0.2, seed: 2 })],
  ])("%s: tfjs' inference outputs within 1e-5, at two batch sizes", async (_name, build) => {
    const model = build();
    randomizeWeights(model, 7); // moving statistics too: batch norm folding is exercised
    const runner = await runnerFor(model);
    const inference = runner.inference(model)!;
    try {
      for (const n of [3, 5]) {
        const images = uniformArray(n * 32 * 32 * 3, 10 + n, -1, 1);
        const [ours] = await inference.predict(images, [n, 32, 32, 3]);
        const reference = tf.tidy(() => (model.predict(tf.tensor4d(images, [n, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array);
        expect(maxAbsDiff(ours, reference)).toBeLessThan(1e-5);
      }
    } finally {
      await inference.dispose();
      await runner.dispose();
      model.dispose();
    }
  });

  it('a model with a layer the exporter cannot convert gets undefined (validation stays on tfjs)', async () => {
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3, seed: 1 });
    const input = tfl.input({ shape: [8, 8, 3] });
    const pooled = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(input) as tfl.SymbolicTensor;
    const other = tfl.model({ inputs: input, outputs: tfl.layers.flatten().apply(pooled) as tfl.SymbolicTensor });
    const runner = await runnerFor(model);
    expect(runner.inference(other)).toBeUndefined();
    await runner.dispose();
    model.dispose();
    other.dispose();
  });
});

/** `count` seeded 32 px images in 3 classes, each class a brightness offset. */
function arrayData(count: number, seed: number): ClassificationData {
  const pixels = 32 * 32 * 3;
  const noise = uniformArray(count * pixels, seed, -0.5, 0.5);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
  const images = noise.map((v, j) => v + (labels[Math.floor(j / pixels)] - 1) * 0.4);
  return {
    classes: 3,
    size: count,
    async *batches({ batchSize, skip }): AsyncIterable<ClassificationBatch> {
      for (let start = skip * batchSize; start < count; start += batchSize) {
        const end = Math.min(count, start + batchSize);
        yield { images: images.slice(start * pixels, end * pixels), labels: labels.slice(start, end), shape: [end - start, 32, 32, 3], paths: Array.from({ length: end - start }, (_, i) => `#${start + i}`) };
      }
    },
  };
}

it("fit with the onnx engine validates on onnxruntime and measures what tfjs measures on the same weights", async () => {
  const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3, dropout: 0, seed: 3 });
  const val = arrayData(21, 2);
  let predicted = 0;
  const counting: StepRunnerFactory = async (context) => {
    const runner = (await onnxTrainingRunner({ loss: classificationLoss() })(context)) as OnnxTrainingRunner;
    const inference = runner.inference.bind(runner);
    runner.inference = (m) => {
      const inner = inference(m)!;
      return { predict: (images, shape) => ((predicted += shape[0]), inner.predict(images, shape)), dispose: () => inner.dispose() };
    };
    return runner;
  };
  const r = await fit(model, arrayData(48, 1), { batchSize: 8, epochs: 2, seed: 0, validation: val, validationBatchSize: 8, batchNormStatistics: 16, runner: counting });
  expect(predicted).toBe(2 * 21); // both epochs' validations ran on onnxruntime
  // After fit, the model holds the last validation's weights and statistics: tfjs measures them alike.
  const reference = await evaluate(model, val, { batchSize: 8 });
  expect(r.val!.metrics.top1).toBe(reference.top1);
  expect(r.val!.metrics.top5).toBe(reference.top5);
  expect(r.val!.metrics.loss).toBeCloseTo(reference.loss, 4);
  model.dispose();
});
