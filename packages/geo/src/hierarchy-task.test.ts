import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchOptions, ClassificationBatch, ClassificationData, toTensors, trainStep } from '@mobilenets/training';
import { LatLonDegrees } from './distance';
import { S2Hierarchy } from './hierarchy';
import { geoHierarchyStep, geoHierarchyTask } from './hierarchy-task';
import { S2Partition } from './partition';
import { evaluateGeo } from './task';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

const PARIS = { lat: 48.8566, lon: 2.3522 };
const LONDON = { lat: 51.5074, lon: -0.1278 };
const TOKYO = { lat: 35.6762, lon: 139.6503 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const repeat = (p: LatLonDegrees, n: number) => Array.from({ length: n }, () => p);
const photos = [...repeat(PARIS, 6), ...repeat(LONDON, 4), ...repeat(TOKYO, 6), ...repeat(NEW_YORK, 4)];

// Coarse: Paris and London share cube face 2 (10 photos, not split at tMax 12), Tokyo is face 3; New York's
// face 4 holds 4 < tMin 5 photos and is dropped. Fine (tMax 6): Paris, London, Tokyo and New York apart.
const coarse = S2Partition.build(photos, { tMax: 12, tMin: 5 }).partition;
const fine = S2Partition.build(photos, { tMax: 6, tMin: 2 }).partition;
const hierarchy = new S2Hierarchy([coarse, fine]);
const [cEurope, cTokyo] = [coarse.classOf(PARIS), coarse.classOf(TOKYO)];
const [fParis, fLondon, fTokyo, fNewYork] = [PARIS, LONDON, TOKYO, NEW_YORK].map((p) => fine.classOf(p));

/** A 4×4×1 image lit at pixel `k`. */
function image(k: number): Float32Array {
  const x = new Float32Array(16);
  x[k] = 1;
  return x;
}

/**
 * Two softmax heads on the flattened image (coarse: 2 cells, fine: 4). With `rows`, pixel k's kernel row
 * of each head is ln of the probabilities it should give (zero bias), so an image lit at k gets exactly them.
 */
function twoHeads(rows?: { coarse: number[][]; fine: number[][] }): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 1] });
  const flat = tfl.layers.flatten({}).apply(input) as tfl.SymbolicTensor;
  const heads = [2, 4].map((units, p) => tfl.layers.dense({ units, activation: 'softmax', kernelInitializer: 'zeros', name: `Logits_p${p}` }));
  const model = tfl.model({ inputs: input, outputs: heads.map((h) => h.apply(flat) as tfl.SymbolicTensor) });
  if (rows !== undefined) {
    [rows.coarse, rows.fine].forEach((table, p) => {
      const units = p === 0 ? 2 : 4;
      const kernel = new Float32Array(16 * units);
      table.forEach((probabilities, k) => probabilities.forEach((q, j) => (kernel[k * units + j] = Math.log(q))));
      tf.tidy(() => heads[p].setWeights([tf.tensor2d(kernel, [16, units]), tf.zeros([units])]));
    });
  }
  return model;
}

/** Probabilities by cell index from probabilities by place: [Europe, Tokyo] and [Paris, London, Tokyo, New York]. */
const coarseRow = (europe: number, tokyo: number) => {
  const row = [0, 0];
  row[cEurope] = europe;
  row[cTokyo] = tokyo;
  return row;
};
const fineRow = (paris: number, london: number, tokyo: number, newYork: number) => {
  const row = [0, 0, 0, 0];
  [[fParis, paris], [fLondon, london], [fTokyo, tokyo], [fNewYork, newYork]].forEach(([i, q]) => (row[i] = q));
  return row;
};
// Pixel 0: the fine head says Paris (0.4), the coarse head says Tokyo's face (0.8). Pixel 1: London, surely.
const TRAINED = { coarse: [coarseRow(0.2, 0.8), coarseRow(0.9, 0.1)], fine: [fineRow(0.4, 0.1, 0.3, 0.2), fineRow(0.1, 0.7, 0.1, 0.1)] };

interface Example {
  pixel: number;
  label: number;
  path: string;
}

function data(examples: Example[]): ClassificationData {
  return {
    classes: 4,
    size: examples.length,
    async *batches({ batchSize, skip }: BatchOptions): AsyncIterable<ClassificationBatch> {
      for (let b = skip; b * batchSize < examples.length; b++) {
        const part = examples.slice(b * batchSize, (b + 1) * batchSize);
        const images = new Float32Array(part.length * 16);
        part.forEach((e, i) => images.set(image(e.pixel), i * 16));
        yield { images, shape: [part.length, 4, 4, 1], labels: Int32Array.from(part.map((e) => e.label)), paths: part.map((e) => e.path) };
      }
    },
  };
}

const batchOf = (examples: [pixel: number, label: number][]): ClassificationBatch => {
  const images = new Float32Array(examples.length * 16);
  examples.forEach(([k], i) => images.set(image(k), i * 16));
  return { images, shape: [examples.length, 4, 4, 1], labels: Int32Array.from(examples.map(([, l]) => l)), paths: examples.map((_, i) => `img${i}`) };
};

const truth = new Map<string, LatLonDegrees>([
  ['val/paris.jpg', PARIS],
  ['val/london.jpg', LONDON],
]);

describe('geoHierarchyTask', () => {
  it('builds the hierarchy the tests assume: New York has no coarse cell', () => {
    expect(coarse.cells.map((c) => c.count).sort()).toEqual([10, 6]);
    expect(new Set([fParis, fLondon, fTokyo, fNewYork]).size).toBe(4);
    expect(Array.from(hierarchy.ancestors[0])).toEqual(fineRow(cEurope, cEurope, cTokyo, -1));
  });

  it("derives each coarse head's labels from the fine labels through the hierarchy's ancestors", () => {
    const task = geoHierarchyTask({ hierarchy, truth });
    const batch = task.prepare(batchOf([[0, fParis], [1, fLondon], [0, fTokyo], [1, fNewYork]]));
    expect(Object.keys(batch.tensors)).toEqual(['images', 'labels', 'labels0']);
    expect(Array.from(batch.tensors.labels.data)).toEqual([fParis, fLondon, fTokyo, fNewYork]);
    expect(Array.from(batch.tensors.labels0.data)).toEqual([cEurope, cEurope, cTokyo, -1]);
    expect(batch.tensors.labels0.data).toBeInstanceOf(Int32Array);
    expect(() => task.prepare(batchOf([[0, 4]]))).toThrow(/batch.labels\[0\] \(img0\) is 4, expected a class index in \[0, 4\)/);
  });

  it('sums the heads\' cross-entropies (label smoothing per head), leaving out a head where the image has no ancestor', () => {
    const eps = 0.1;
    const task = geoHierarchyTask({ hierarchy, truth, labelSmoothing: eps });
    const model = twoHeads(TRAINED);
    const examples: [number, number][] = [[0, fParis], [1, fLondon], [0, fNewYork]];
    const batch = task.prepare(batchOf(examples));
    const { parts, accuracy } = tf.tidy(() => {
      const { losses, metrics } = task.loss(model, toTensors(batch.tensors));
      return { parts: Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, v.dataSync()[0]])), accuracy: metrics!.accuracy.dataSync()[0] };
    });
    // By hand: smoothed targets (1 − ε)·y + ε/n, −Σ t ln p, summed over images, divided by the batch (3).
    const ce = (probabilities: number[], label: number) => -probabilities.reduce((s, q, j) => s + ((j === label ? 1 - eps : 0) + eps / probabilities.length) * Math.log(q), 0);
    const coarseTerm = (ce(TRAINED.coarse[0], cEurope) + ce(TRAINED.coarse[1], cEurope) + 0) / 3; // New York: no coarse cell
    const fineTerm = (ce(TRAINED.fine[0], fParis) + ce(TRAINED.fine[1], fLondon) + ce(TRAINED.fine[0], fNewYork)) / 3;
    expect(Object.keys(parts)).toEqual(['crossEntropy0', 'crossEntropy1']);
    expect(parts.crossEntropy0).toBeCloseTo(coarseTerm, 5);
    expect(parts.crossEntropy1).toBeCloseTo(fineTerm, 5);
    expect(coarseTerm).toBeGreaterThan(0.5); // the coarse head is wrong on image 0: not a vanishing term
    // Training accuracy is the fine head's: Paris and London are hits, the New York image (argmax Paris) is not.
    expect(accuracy).toBeCloseTo(2 / 3, 6);
    // What data-parallel workers rebuild from the worker module's JSON options is the same step.
    expect(task.worker!.factory).toBe('geoHierarchyStep');
    const worker = geoHierarchyStep(JSON.parse(JSON.stringify(task.worker!.options)));
    const again = tf.tidy(() => Object.values(worker.loss(model, toTensors(batch.tensors)).losses).map((v) => v.dataSync()[0]));
    expect(again).toEqual([parts.crossEntropy0, parts.crossEntropy1]);
    model.dispose();
  });

  it('takes an optimizer step that lowers the summed loss, without leaking tensors', () => {
    const task = geoHierarchyTask({ hierarchy, truth });
    const model = twoHeads();
    const optimizer = tf.train.sgd(1);
    const batch = task.prepare(batchOf([[0, fParis], [1, fTokyo]]));
    const first = trainStep(model, optimizer, task, batch);
    const before = tf.memory().numTensors;
    const second = trainStep(model, optimizer, task, batch);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.losses.crossEntropy0).toBeCloseTo(Math.log(2), 5); // zero kernels: uniform heads
    expect(first.losses.crossEntropy1).toBeCloseTo(Math.log(4), 5);
    const total = (r: typeof first) => r.losses.crossEntropy0 + r.losses.crossEntropy1;
    expect(total(second)).toBeLessThan(total(first));
    optimizer.dispose();
    model.dispose();
  });

  it('validates on the product of the heads, normalised, located on the fine partition', async () => {
    const task = geoHierarchyTask({ hierarchy, truth });
    const model = twoHeads(TRAINED);
    const validation = data([
      { pixel: 0, label: fParis, path: 'val/paris.jpg' },
      { pixel: 1, label: fLondon, path: 'val/london.jpg' },
    ]);
    task.check!(model, validation, 'validation');
    const { metrics, details } = await task.validate(model, validation, { batchSize: 2 });
    // Image 0: Paris 0.2·0.4 = 0.08, London 0.2·0.1 = 0.02, Tokyo 0.8·0.3 = 0.24, New York 0 (no coarse cell):
    // Tokyo wins with 0.24 / 0.34 though the fine head alone says Paris.
    const [p0, p1] = details!.predictions;
    expect(p0.cell).toBe(fTokyo);
    expect(p0.confidence).toBeCloseTo(0.24 / 0.34, 5);
    expect(p0.predicted.lat).toBeCloseTo(TOKYO.lat, 5);
    // Image 1: London 0.9·0.7 = 0.63 of 0.9·0.8 + 0.1·0.1 = 0.73.
    expect(p1.cell).toBe(fLondon);
    expect(p1.confidence).toBeCloseTo(0.63 / 0.73, 5);
    expect(p1.errorKm).toBeLessThan(1e-3);
    expect(metrics.top1).toBe(0.5);
    // The loss is the fine head's: −(ln 0.4 + ln 0.7) / 2.
    expect(metrics.loss).toBeCloseTo(-(Math.log(0.4) + Math.log(0.7)) / 2, 5);
    expect(metrics.within25km).toBe(0.5);
    // The baseline is the fine partition's most populous cell (Paris or Tokyo, 6 photos each: the lower index).
    expect(details!.baseline.count).toBe(2);
    model.dispose();
  });

  it('frees every tensor it makes while validating', async () => {
    const model = twoHeads(TRAINED);
    const validation = data([{ pixel: 0, label: fParis, path: 'val/paris.jpg' }]);
    await evaluateGeo(model, validation, { hierarchy, truth });
    const before = tf.memory().numTensors;
    await evaluateGeo(model, validation, { hierarchy, truth, batchSize: 1 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('checks the model has one head per partition, the data fine-cell classes, and the options', async () => {
    const task = geoHierarchyTask({ hierarchy, truth });
    const single = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 4, activation: 'softmax' })] });
    const training = data([]);
    expect(() => task.check!(single, training, 'training')).toThrow(/geo training: the model '.*' must have 2 outputs, one softmax per partition of the hierarchy \(coarse → fine\): \[batch, 2\], \[batch, 4\]; it has 1: \[,4\]/);
    single.dispose();
    const model = twoHeads();
    expect(() => task.check!(model, { ...training, classes: 2 } as ClassificationData, 'training')).toThrow(/the training data has 2 classes; expected 4, the cells of the hierarchy's finest partition/);
    model.dispose();
    expect(() => geoHierarchyTask({ hierarchy: hierarchy.toJson() as unknown as S2Hierarchy, truth })).toThrow(/options.hierarchy must be an S2Hierarchy/);
    expect(() => geoHierarchyTask({ hierarchy, truth, labelSmoothing: 1 })).toThrow(/geoHierarchyTask: labelSmoothing must be in \[0, 1\)/);
    expect(() => geoHierarchyStep({ heads: 0, labelSmoothing: 0 })).toThrow(/options.heads must be an integer ≥ 1/);
    await expect(evaluateGeo(model, training, { hierarchy, partition: fine, truth })).rejects.toThrow(/give options.partition or options.hierarchy, not both/);
  });
});
