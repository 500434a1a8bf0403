import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormLayers, recomputeBatchNormStatistics } from './batch-norm-statistics';
import { classificationTask } from './classification-task';
import { memoryData, tinyClassifier } from './testing';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

describe('recomputeBatchNormStatistics', () => {
  it('sets the moving statistics to the mean of the batch statistics of the examples it sees, and leaves the momentum as it was', async () => {
    const input = tfl.input({ shape: [2, 2, 3] });
    const bn = tfl.layers.batchNormalization({ momentum: 0.99, name: 'bn' });
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(bn.apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as tfl.SymbolicTensor });
    const data = memoryData(12, 3);
    data.batches = ((original) => async function* (o) {
      for await (const b of original.call(data, o)) yield { ...b, images: b.images.map((_v, i) => (i % 3) + b.labels[0] * 10), shape: b.shape };
    })(data.batches);
    // Per-channel batch means are channel + 10 · (label of the batch's first image); two batches of 4 are averaged.
    const expected: number[][] = [];
    for await (const b of data.batches({ epoch: 0, batchSize: 4, seed: 3, skip: 0 })) {
      expected.push([0, 1, 2].map((c) => c + 10 * b.labels[0]));
      if (expected.length === 2) break;
    }
    const seen = await recomputeBatchNormStatistics(model, classificationTask(), data, { examples: 8, batchSize: 4, epoch: 0, seed: 3 });
    expect(seen).toBe(8);
    const movingMean = Array.from(bn.getWeights()[2].dataSync());
    movingMean.forEach((m, c) => expect(m).toBeCloseTo((expected[0][c] + expected[1][c]) / 2, 4));
    expect(Array.from(bn.getWeights()[3].dataSync()).every((v) => Math.abs(v) < 1e-4)).toBe(true); // constant within each batch
    expect((bn as unknown as { momentum: number }).momentum).toBe(0.99);
    model.dispose();
  });

  it('replaces the statistics inference uses in a MobileNet-style model, and changes nothing in a model without batch norm', async () => {
    const model = tinyClassifier(3, 2);
    const data = memoryData(24, 3);
    const task = classificationTask();
    expect(batchNormLayers(model)).toHaveLength(1);
    // Fresh statistics (mean 0, variance 1) are far from the data's: inference on the training images is poor.
    const before = (await task.validate(model, data, { batchSize: 8 })).metrics.loss;
    await recomputeBatchNormStatistics(model, task, data, { examples: 24, batchSize: 8, epoch: 0, seed: 1 });
    const after = (await task.validate(model, data, { batchSize: 8 })).metrics.loss;
    expect(after).not.toBeCloseTo(before, 3);
    model.dispose();
    const plain = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [8, 8, 3] }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
    expect(await recomputeBatchNormStatistics(plain, task, data, { batchSize: 8, epoch: 0, seed: 1 })).toBe(0);
    plain.dispose();
  });
});

describe('recomputeBatchNormStatistics with moments from an engine', () => {
  it("averages the engine's per-batch statistics into every layer's moving mean and variance, over the same batches", async () => {
    const model = tinyClassifier();
    const [layer] = batchNormLayers(model);
    const seenExamples: number[] = [];
    let k = 0;
    const seen = await recomputeBatchNormStatistics(model, classificationTask(), memoryData(10), {
      examples: 10, batchSize: 4, epoch: 0, seed: 3,
      moments: async (batch) => {
        seenExamples.push(batch.examples);
        k += 1;
        return [{ mean: Float32Array.from([k, 2 * k, 0, 1]), variance: Float32Array.from([k * k, 1, 1, 3]) }];
      },
    });
    expect(seen).toBe(10);
    expect(seenExamples).toEqual([4, 4, 2]); // the task's prepared batches, the short last one included
    const read = (which: string) => Array.from(layer.weights.find((w) => w.originalName.endsWith(which))!.read().dataSync());
    expect(read('moving_mean')).toEqual([2, 4, 0, 1]); // (1 + 2 + 3) / 3
    expect(read('moving_variance').map((v) => Number(v.toFixed(5)))).toEqual([4.66667, 1, 1, 3]); // (1 + 4 + 9) / 3
    model.dispose();
  });

  it('names the layer when the engine gives the wrong number of layers or channels', async () => {
    const model = tinyClassifier();
    const options = { examples: 4, batchSize: 4, epoch: 0, seed: 0 };
    await expect(recomputeBatchNormStatistics(model, classificationTask(), memoryData(4), { ...options, moments: async () => [] })).rejects.toThrow(/gave 0 layers' statistics for the model's 1 batch-norm layers/);
    await expect(recomputeBatchNormStatistics(model, classificationTask(), memoryData(4), { ...options, moments: async () => [{ mean: new Float32Array(3), variance: new Float32Array(3) }] })).rejects.toThrow(/layer 'Conv_a_BatchNorm' has 4 channels; the engine gave 3 means/);
    model.dispose();
  });
});
