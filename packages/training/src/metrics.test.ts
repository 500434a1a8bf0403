import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ClassificationBatch, ClassificationData } from './data';
import { evaluate } from './metrics';

beforeAll(async () => {
  tf.env().set('PROD', true); // no tfjs-node advert
  await tf.setBackend('cpu');
});

/** A "model" that outputs fixed probabilities: the 1-pixel input holds the row index into `table`. */
function lookupModel(table: number[][]): tfl.LayersModel {
  const input = tfl.input({ shape: [1, 1, 1] });
  let x = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: table.length, useBias: false, kernelInitializer: 'zeros', name: 'select' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: table[0].length, useBias: false, name: 'probs' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  return model;
}

describe('evaluate', () => {
  it('computes top-1, top-5, loss, per-class accuracy and the confusion matrix on a hand-made case', async () => {
    // 6 classes, 4 images. Probabilities per image (rows); labels 0, 1, 2, 0.
    const probs = [
      [0.5, 0.1, 0.1, 0.1, 0.1, 0.1], // label 0: top-1 hit
      [0.3, 0.25, 0.2, 0.15, 0.1, 0.0], // label 1: predicted 0, in top 5
      [0.05, 0.05, 0.0, 0.3, 0.3, 0.3], // label 2: p = 0 → clipped; rank 6 → miss top-5
      [0.1, 0.6, 0.1, 0.1, 0.05, 0.05], // label 0: predicted 1, in top 5
    ];
    // Input i (a one-hot of 4 via the first dense layer set by hand) selects row i.
    const input = tfl.input({ shape: [4] });
    const out = tfl.layers.dense({ units: 6, useBias: false, name: 'probs' }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    model.setWeights([tf.tensor2d(probs)]);
    // Wrap: images are [n, 2, 2, 1] holding the one-hot row selector.
    const wrapperIn = tfl.input({ shape: [2, 2, 1] });
    const flat = tfl.layers.flatten().apply(wrapperIn) as tfl.SymbolicTensor;
    const wrapped = tfl.model({ inputs: wrapperIn, outputs: model.apply(flat) as tfl.SymbolicTensor });
    const images = new Float32Array(16);
    [0, 1, 2, 3].forEach((i) => (images[i * 4 + i] = 1));
    const data: ClassificationData = {
      classes: 6,
      size: 4,
      async *batches({ batchSize }) {
        for (let start = 0; start < 4; start += batchSize) {
          const n = Math.min(batchSize, 4 - start);
          const batch: ClassificationBatch = { images: images.slice(start * 4, (start + n) * 4), shape: [n, 2, 2, 1], labels: Int32Array.from([0, 1, 2, 0].slice(start, start + n)), paths: [] };
          yield batch;
        }
      },
    };
    const before = tf.memory().numTensors;
    const r = await evaluate(wrapped, data, { batchSize: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.top1).toBeCloseTo(1 / 4, 6);
    expect(r.top5).toBeCloseTo(3 / 4, 6);
    expect(r.count).toBe(4);
    const expectedLoss = -(Math.log(0.5) + Math.log(0.25) + Math.log(1e-7) + Math.log(0.1)) / 4;
    expect(r.loss).toBeCloseTo(expectedLoss, 4);
    expect(r.perClass.slice(0, 3)).toEqual([{ accuracy: 0.5, count: 2 }, { accuracy: 0, count: 1 }, { accuracy: 0, count: 1 }]);
    expect(r.perClass[5].count).toBe(0);
    expect(r.perClass[5].accuracy).toBeNaN();
    expect(r.confusion[0]).toEqual([1, 1, 0, 0, 0, 0]);
    expect(r.confusion[1]).toEqual([1, 0, 0, 0, 0, 0]);
    expect(r.confusion[2][3]).toBe(1); // ties among 3, 4, 5: topk takes the first
    wrapped.dispose();
  });

  it('rejects a model whose outputs do not match the classes', async () => {
    const model = lookupModel([[1, 0], [0, 1]]);
    const data: ClassificationData = { classes: 3, size: 0, batches: async function* () {} };
    await expect(evaluate(model, data)).rejects.toThrow(/has 2 outputs but the data has 3 classes/);
    model.dispose();
  });
});

describe('evaluate with a predict function (a forward pass outside tfjs)', () => {
  it('measures the rows predict returns, not model.predict; ties rank the lower class first, as tf.topk', async () => {
    const model = lookupModel([[0, 0, 0, 0, 0, 0]]); // 6 outputs; never run
    const rows = [
      [0.2, 0.2, 0.2, 0.2, 0.1, 0.1], // label 5: four-way tie on top → class 0 predicted; 5 is 6th by index → miss top-5
      [0.1, 0.1, 0.1, 0.1, 0.1, 0.5], // label 5: hit
      [0.3, 0.3, 0.1, 0.1, 0.1, 0.1], // label 1: tie 0/1 → 0 predicted, in top 5
    ];
    const labels = [5, 5, 1];
    const data: ClassificationData = {
      classes: 6,
      size: 3,
      async *batches(): AsyncIterable<ClassificationBatch> {
        yield { images: new Float32Array(3), labels: Int32Array.from(labels), shape: [3, 1, 1, 1], paths: ['a', 'b', 'c'] } as ClassificationBatch;
      },
    };
    const seen: number[][] = [];
    const r = await evaluate(model, data, {
      predict: async (_images, shape) => {
        seen.push([...shape]);
        return [Float32Array.from(rows.flat())];
      },
    });
    expect(seen).toEqual([[3, 1, 1, 1]]);
    expect(r.top1).toBeCloseTo(1 / 3, 10);
    expect(r.top5).toBeCloseTo(2 / 3, 10);
    expect(r.confusion[5]).toEqual([1, 0, 0, 0, 0, 1]);
    expect(r.confusion[1]).toEqual([1, 0, 0, 0, 0, 0]);
    expect(r.loss).toBeCloseTo(-(Math.log(0.1) + Math.log(0.5) + Math.log(0.3)) / 3, 5);
    model.dispose();
  });

  it('names the mismatch when predict returns the wrong number of values', async () => {
    const model = lookupModel([[0, 0, 0]]);
    const data: ClassificationData = {
      classes: 3,
      size: 2,
      async *batches(): AsyncIterable<ClassificationBatch> {
        yield { images: new Float32Array(2), labels: Int32Array.of(0, 1), shape: [2, 1, 1, 1], paths: ['a', 'b'] } as ClassificationBatch;
      },
    };
    await expect(evaluate(model, data, { predict: async () => [new Float32Array(5)] })).rejects.toThrow(/gave 5 values for 2 images × 3 classes/);
    model.dispose();
  });
});
