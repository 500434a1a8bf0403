import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchOptions, ClassificationBatch, ClassificationData, classificationTask, constantSchedule, fit, toTensors, trainStep } from '@mobilenets/training';
import { LatLonDegrees, haversineKm } from './distance';
import { S2Partition } from './partition';
import { evaluateGeo, geoTask } from './task';

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

const PARIS = { lat: 48.8566, lon: 2.3522 };
const TOKYO = { lat: 35.6762, lon: 139.6503 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

// Each city alone on its cube face (Paris: face 2, Tokyo: 3, New York: 4), so each is one level-0 cell;
// classes in cell-id order: 0 Paris (6 photos, the most populous), 1 Tokyo, 2 New York.
const repeat = (p: LatLonDegrees, n: number) => Array.from({ length: n }, () => p);
const { partition } = S2Partition.build([...repeat(NEW_YORK, 4), ...repeat(PARIS, 6), ...repeat(TOKYO, 4)], { tMax: 10, tMin: 2 });

/**
 * A 4×4×1 image lit at pixel `k` (0, 1, 2) and the classifier that reads it: flatten → dense softmax whose
 * kernel gives logit ln 8 to cell k for pixel k, so a lit pixel k gets probability 0.8 on cell k and 0.1 on
 * the others.
 */
function image(k: number): Float32Array {
  const x = new Float32Array(16);
  x[k] = 1;
  return x;
}

function classifier(trained = true): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 1] });
  const flat = tfl.layers.flatten({}).apply(input) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros', name: 'Logits' });
  const model = tfl.model({ inputs: input, outputs: dense.apply(flat) as tfl.SymbolicTensor });
  if (trained) {
    const kernel = new Float32Array(16 * 3);
    for (let k = 0; k < 3; k++) kernel[k * 3 + k] = Math.log(8);
    dense.setWeights([tf.tensor2d(kernel, [16, 3]), tf.zeros([3])]);
  }
  return model;
}

interface Example {
  pixel: number;
  label: number;
  path: string;
}

/** In-memory data of lit-pixel images: batches of `batchSize` in order (or a seeded rotation when shuffled). */
function data(examples: Example[]): ClassificationData {
  return {
    classes: 3,
    size: examples.length,
    async *batches({ batchSize, skip, shuffle, epoch }: BatchOptions): AsyncIterable<ClassificationBatch> {
      const order = shuffle ? examples.map((_, i) => examples[(i + epoch) % examples.length]) : examples;
      for (let b = skip; b * batchSize < order.length; b++) {
        const part = order.slice(b * batchSize, (b + 1) * batchSize);
        const images = new Float32Array(part.length * 16);
        part.forEach((e, i) => images.set(image(e.pixel), i * 16));
        yield { images, shape: [part.length, 4, 4, 1], labels: Int32Array.from(part.map((e) => e.label)), paths: part.map((e) => e.path) };
      }
    },
  };
}

// Four validation images: a hit at Paris itself; a Paris photo that looks like Tokyo; a hit 0.1° north of
// New York; a photo at (0°, 0°), in no cell (label -1), that looks like Paris.
const NEAR_NEW_YORK = { lat: NEW_YORK.lat + 0.1, lon: NEW_YORK.lon };
const GULF_OF_GUINEA = { lat: 0, lon: 0 };
const validation = data([
  { pixel: 0, label: 0, path: 'val/paris.jpg' },
  { pixel: 1, label: 0, path: 'val/paris-looks-like-tokyo.jpg' },
  { pixel: 2, label: 2, path: 'val/new-york.jpg' },
  { pixel: 0, label: -1, path: 'val/sea.jpg' },
]);
const truth = new Map<string, LatLonDegrees>([
  ['val/paris.jpg', PARIS],
  ['val/paris-looks-like-tokyo.jpg', PARIS],
  ['val/new-york.jpg', NEAR_NEW_YORK],
  ['val/sea.jpg', GULF_OF_GUINEA],
]);

describe('evaluateGeo', () => {
  it('locates each image and scores the errors, the cell accuracy, the loss and the baseline', async () => {
    expect(partition.cells.map((c) => c.count)).toEqual([6, 4, 4]);
    const model = classifier();
    const { metrics, details } = await evaluateGeo(model, validation, { partition, truth, batchSize: 3 });
    const errors = [0, haversineKm(PARIS, TOKYO), haversineKm(NEAR_NEW_YORK, NEW_YORK), haversineKm(GULF_OF_GUINEA, PARIS)];
    expect(errors[2]).toBeCloseTo(11.12, 1);
    expect(details!.predictions.map((p) => [p.path, p.cell, p.trueCell])).toEqual([
      ['val/paris.jpg', 0, 0],
      ['val/paris-looks-like-tokyo.jpg', 1, 0],
      ['val/new-york.jpg', 2, 2],
      ['val/sea.jpg', 0, -1],
    ]);
    details!.predictions.forEach((p, i) => {
      expect(p.errorKm).toBeCloseTo(errors[i], 3);
      expect(p.confidence).toBeCloseTo(0.8, 6);
    });
    expect(details!.predictions[1].truth).toEqual(PARIS);
    expect(details!.predictions[1].predicted.lat).toBeCloseTo(TOKYO.lat, 6);
    // top1 and loss count the three images that have a cell: two hits; probabilities 0.8, 0.1, 0.8.
    expect(metrics.top1).toBeCloseTo(2 / 3, 9);
    expect(metrics.loss).toBeCloseTo(-(2 * Math.log(0.8) + Math.log(0.1)) / 3, 5);
    expect(metrics).toMatchObject({ within1km: 0.25, within25km: 0.5, within200km: 0.5, within750km: 0.5, within2500km: 0.5 });
    expect(metrics.medianKm).toBeCloseTo((errors[2] + errors[3]) / 2, 3);
    expect(Object.keys(metrics)).toEqual(['top1', 'loss', 'within1km', 'within25km', 'within200km', 'within750km', 'within2500km', 'medianKm']);
    // The baseline puts every image in Paris (the most populous cell).
    const baseline = [0, 0, haversineKm(NEAR_NEW_YORK, PARIS), haversineKm(GULF_OF_GUINEA, PARIS)].sort((a, b) => a - b);
    expect(details!.baseline.withinKm).toEqual({ 1: 0.5, 25: 0.5, 200: 0.5, 750: 0.5, 2500: 0.5 });
    expect(details!.baseline.medianKm).toBeCloseTo((baseline[1] + baseline[2]) / 2, 3);
    expect(details!.scores.count).toBe(4);
    model.dispose();
  });

  it("uses the cells' centres, or the top k, when asked", async () => {
    const model = classifier();
    const centre = await evaluateGeo(model, validation, { partition, truth, mode: 'center' });
    expect(centre.details!.predictions[0].predicted).toEqual(partition.locationOf(0, 'center'));
    const top2 = await evaluateGeo(model, validation, { partition, truth, topK: 2 });
    // 0.8 on Paris and 0.1 on Tokyo (the tie with New York goes to the lower index): between them, near Paris.
    const p = top2.details!.predictions[0];
    expect(p.errorKm).toBeGreaterThan(100);
    expect(p.errorKm).toBeLessThan(haversineKm(PARIS, TOKYO) / 5);
    model.dispose();
  });

  it('frees every tensor it makes', async () => {
    const model = classifier();
    await evaluateGeo(model, validation, { partition, truth }); // first call: tfjs's own one-time tensors
    const before = tf.memory().numTensors;
    await evaluateGeo(model, validation, { partition, truth, batchSize: 1 });
    await expect(evaluateGeo(model, validation, { partition, truth: new Map() })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('names a validation image without a true location, and rejects bad labels and options', async () => {
    const model = classifier();
    const partial = new Map(truth);
    partial.delete('val/new-york.jpg');
    await expect(evaluateGeo(model, validation, { partition, truth: partial })).rejects.toThrow(
      new RangeError("geo validation: image 'val/new-york.jpg' has no true location in options.truth; it must hold every validation image's path."),
    );
    const badTruth = new Map(truth).set('val/sea.jpg', { lat: 0, lon: 400 });
    await expect(evaluateGeo(model, validation, { partition, truth: badTruth })).rejects.toThrow(/the true location of 'val\/sea.jpg'.lon must be a longitude/);
    const badLabel = data([{ pixel: 0, label: 3, path: 'val/paris.jpg' }]);
    await expect(evaluateGeo(model, badLabel, { partition, truth })).rejects.toThrow(/batch.labels\[0\] \(val\/paris.jpg\) is 3; expected a cell index in \[0, 3\), or -1/);
    await expect(evaluateGeo(model, validation, { partition, truth: {} as Map<string, LatLonDegrees> })).rejects.toThrow(TypeError);
    await expect(evaluateGeo(model, validation, { partition, truth, topK: 4 })).rejects.toThrow(/topK must be an integer in \[1, 3\]/);
    await expect(evaluateGeo(model, data([]), { partition, truth })).rejects.toThrow(/the data yielded no images/);
    const wide = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 4, activation: 'softmax' })] });
    await expect(evaluateGeo(wide, validation, { partition, truth })).rejects.toThrow(/must have one output \[batch, 3\] \(a softmax over the partition's 3 cells\); it has 1 output\(s\), the first \[,4\]/);
    wide.dispose();
    model.dispose();
  });
});

describe('geoTask', () => {
  const training = data([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2].map((k, i) => ({ pixel: k, label: k, path: `train/${i}.jpg` })));

  it("trains as the classification task does, with the classification task's worker module", () => {
    const task = geoTask({ partition, truth, labelSmoothing: 0.1 });
    const reference = classificationTask({ labelSmoothing: 0.1 });
    expect(task.name).toBe('geo');
    expect(task.best).toEqual({ name: 'medianKm', mode: 'min' });
    expect(task.worker).toEqual(reference.worker);
    const model = classifier();
    task.check!(model, training, 'training');
    const batch = task.prepare({ images: image(1), shape: [1, 4, 4, 1], labels: Int32Array.from([1]), paths: ['x'] });
    const [mine, theirs] = tf.tidy(() => {
      const tensors = toTensors(batch.tensors);
      return [task.loss(model, tensors).losses.crossEntropy.dataSync()[0], reference.loss(model, tensors).losses.crossEntropy.dataSync()[0]];
    });
    // Smoothed targets 0.1/3 + 0.9 on the label: −(0.9333 ln 0.8 + 2 · 0.0333 ln 0.1).
    expect(mine).toBeCloseTo(-((0.9 + 0.1 / 3) * Math.log(0.8) + 2 * (0.1 / 3) * Math.log(0.1)), 5);
    expect(mine).toBe(theirs);
    model.dispose();
  });

  it('takes an optimizer step that lowers the loss, without leaking tensors', () => {
    const task = geoTask({ partition, truth });
    const model = classifier(false);
    const optimizer = tf.train.sgd(1);
    const batch = task.prepare({ images: Float32Array.from([...image(0), ...image(2)]), shape: [2, 4, 4, 1], labels: Int32Array.from([0, 2]), paths: ['a', 'b'] });
    const first = trainStep(model, optimizer, task, batch);
    const before = tf.memory().numTensors;
    const second = trainStep(model, optimizer, task, batch);
    expect(tf.memory().numTensors).toBe(before);
    expect(first.losses.crossEntropy).toBeCloseTo(Math.log(3), 5); // zero kernel: uniform over 3 cells
    expect(second.losses.crossEntropy).toBeLessThan(first.losses.crossEntropy);
    optimizer.dispose();
    model.dispose();
  });

  it('learns through fit, validates in kilometres and keeps the checkpoint with the lowest median error', async () => {
    const task = geoTask({ partition, truth });
    const model = classifier(false);
    // One photo of each city; the untrained model's uniform output puts all three in Paris (cell 0).
    const cities = data([
      { pixel: 0, label: 0, path: 'val/paris.jpg' },
      { pixel: 1, label: 1, path: 'val/tokyo.jpg' },
      { pixel: 2, label: 2, path: 'val/new-york.jpg' },
    ]);
    const places = new Map([...truth, ['val/tokyo.jpg', TOKYO]]);
    const cityTask = geoTask({ partition, truth: places });
    const before = await cityTask.validate(model, cities, { batchSize: 4 });
    expect(before.metrics.medianKm).toBeCloseTo(haversineKm(NEAR_NEW_YORK, PARIS), 3);
    const result = await fit(model, training, { task: cityTask, validation: cities, epochs: 8, batchSize: 4, schedule: constantSchedule(2), optimizer: () => tf.train.sgd(2), weightDecay: 0, seed: 1 });
    expect(result.best!.metric).toBe('medianKm');
    expect(result.best!.value).toBe(Math.min(...result.history.map((h) => h.val!.medianKm)));
    const after = result.val!;
    expect(after.metrics.top1).toBe(1);
    expect(after.metrics.medianKm).toBeLessThan(1e-3); // Paris and Tokyo exactly, New York 11 km off
    expect(after.metrics.within25km).toBe(1);
    expect(after.metrics.within1km).toBeCloseTo(2 / 3, 9);
    expect(after.metrics.loss).toBeLessThan(before.metrics.loss);
    // The same model on the harder set: the Tokyo-looking Paris photo is a miss, the sea photo has no cell.
    const hard = await task.validate(model, validation, { batchSize: 2 });
    expect(hard.details!.predictions.map((p) => p.cell)).toEqual([0, 1, 2, 0]);
    expect(hard.metrics.top1).toBeCloseTo(2 / 3, 9);
    model.dispose();
  });

  it('checks that the model outputs one probability per cell, and the options', () => {
    const task = geoTask({ partition, truth });
    const wide = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 5, activation: 'softmax' })] });
    expect(() => task.check!(wide, { ...training, classes: 5 } as ClassificationData, 'training')).toThrow(/geo training: the model '.*' must have one output \[batch, 3\]/);
    wide.dispose();
    const model = classifier();
    expect(() => task.check!(model, { ...training, classes: 4 } as ClassificationData, 'validation')).toThrow(/the validation data has 4 classes/);
    model.dispose();
    expect(() => geoTask({ partition: partition.toJson() as unknown as S2Partition, truth })).toThrow(/options.partition must be an S2Partition/);
    expect(() => geoTask({ partition, truth, mode: 'median' as 'mean' })).toThrow(/mode must be 'mean'/);
    expect(() => geoTask({ partition, truth, labelSmoothing: 1 })).toThrow(/labelSmoothing must be in \[0, 1\)/);
  });
});
