/**
 * Test helpers (`@mobilenets/training/testing`): a tiny classifier, in-memory data and checkpoints, and
 * a second task — a class and a regressed box from one image, two outputs — that exercises the task seam
 * the way a detector will. Workers load that task from this module.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hashSeed, mulberry32, permutation } from '@mobilenets/random';
import { crossEntropy } from './classification-task';
import type { BatchOptions, ClassificationBatch, ClassificationData, TrainingData } from './data';
import type { CheckpointStore, StoredCheckpoint } from './fit';
import type { StepBatch, Task, TaskLoss } from './task';

/** Two convolutions, batch norm, pooling and a 'Logits' softmax layer on 8×8×3 inputs; seeded, so two builds are equal. */
export function tinyClassifier(classes = 3, seed = 1): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + s });
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(1), name: 'Conv_a' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'Conv_a_BatchNorm', momentum: 0.9 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'Conv_b' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(3), name: 'Logits' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

/** The records of one epoch in order: a seeded permutation per (seed, epoch) when shuffled. */
function epochOrder(count: number, { seed, epoch, shuffle = true }: BatchOptions): Int32Array {
  return shuffle ? permutation(count, mulberry32(hashSeed(seed, epoch))) : Int32Array.from({ length: count }, (_, i) => i);
}

/**
 * `count` 8×8 images of `classes` classes: class c is a brightness level plus seeded noise, so that a
 * tiny net learns it; `seed` draws the noise (another seed, other images). `corrupt(epoch, batchIndex)`
 * may return true to fill that batch with NaN.
 */
export function memoryData(count: number, classes = 3, options: { corrupt?: (epoch: number, batch: number) => boolean; seed?: number } = {}): ClassificationData & { requests: { epoch: number; skip: number }[] } {
  const pixels = 8 * 8 * 3;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  const random = mulberry32(options.seed ?? 99);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    for (let j = 0; j < pixels; j++) images[i * pixels + j] = (labels[i] / (classes - 1)) * 2 - 1 + (random() - 0.5) * 0.6 + (j % 3 === labels[i] % 3 ? 0.3 : 0);
  }
  const requests: { epoch: number; skip: number }[] = [];
  return {
    classes,
    size: count,
    requests,
    async *batches(o: BatchOptions): AsyncIterable<ClassificationBatch> {
      requests.push({ epoch: o.epoch, skip: o.skip });
      const order = epochOrder(count, o);
      for (let b = o.skip; b * o.batchSize < count; b++) {
        const idx = Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize));
        const out = new Float32Array(idx.length * pixels);
        idx.forEach((k, i) => out.set(images.subarray(k * pixels, (k + 1) * pixels), i * pixels));
        if (options.corrupt?.(o.epoch, b)) out.fill(NaN);
        yield { images: out, shape: [idx.length, 8, 8, 3], labels: Int32Array.from(idx, (k) => labels[k]), paths: idx.map((k) => `memory:${k}`) };
      }
    },
  };
}

// ── A second task: a class and a box ────────────────────────────────────────────────────────────────

/** A batch of the class-and-box task: 8×8 images, each with one bright square of a class's colour. */
export interface SquareBatch {
  images: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  /** [n, 4]: the square's [top, left, bottom, right] in [0, 1] of the image. */
  boxesYxyx: Float32Array;
}

/**
 * `count` 8×8 images, each a dark background with one square of side 3–5 whose colour channel is its
 * class (0, 1 or 2) at a seeded position; the box is the square's extent.
 */
export function squaresData(count: number, seed = 5): TrainingData<SquareBatch> & { classes: number } {
  const size = 8;
  const pixels = size * size * 3;
  const images = new Float32Array(count * pixels).fill(-1);
  const labels = new Int32Array(count);
  const boxes = new Float32Array(count * 4);
  const random = mulberry32(hashSeed(seed));
  for (let i = 0; i < count; i++) {
    const side = 3 + Math.floor(random() * 3);
    const top = Math.floor(random() * (size - side + 1));
    const left = Math.floor(random() * (size - side + 1));
    labels[i] = i % 3;
    for (let y = top; y < top + side; y++) for (let x = left; x < left + side; x++) images[i * pixels + (y * size + x) * 3 + labels[i]] = 1;
    boxes.set([top / size, left / size, (top + side) / size, (left + side) / size], i * 4);
  }
  return {
    classes: 3,
    size: count,
    async *batches(o: BatchOptions): AsyncIterable<SquareBatch> {
      const order = epochOrder(count, o);
      for (let b = o.skip; b * o.batchSize < count; b++) {
        const idx = Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize));
        const x = new Float32Array(idx.length * pixels);
        const box = new Float32Array(idx.length * 4);
        idx.forEach((k, i) => {
          x.set(images.subarray(k * pixels, (k + 1) * pixels), i * pixels);
          box.set(boxes.subarray(k * 4, k * 4 + 4), i * 4);
        });
        yield { images: x, shape: [idx.length, size, size, 3], labels: Int32Array.from(idx, (k) => labels[k]), boxesYxyx: box };
      }
    },
  };
}

/** A two-headed net for {@link squaresData}: 'Class' (softmax over 3) and 'Box' (4 numbers in (0, 1)); seeded. */
export function tinyClassAndBox(seed = 1): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + s });
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1), name: 'Conv_a' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'Conv_a_BatchNorm', momentum: 0.9 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({}).apply(x) as tfl.SymbolicTensor;
  const cls = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2), name: 'Class' }).apply(x) as tfl.SymbolicTensor;
  const box = tfl.layers.dense({ units: 4, activation: 'sigmoid', kernelInitializer: init(3), name: 'Box' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: [cls, box] });
}

/** Smooth L1 (Huber with δ = 1) summed over the 4 coordinates, mean over the batch. */
function smoothL1(predicted: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    // ½m² + (d − m) with m = min(d, 1): ½d² below 1, d − ½ above, without a comparison (which has no gradient in tfjs).
    const d = tf.abs(tf.sub(predicted, target));
    const m = tf.minimum(d, 1);
    return tf.mean(tf.sum(tf.add(tf.mul(tf.square(m), 0.5), tf.sub(d, m)), -1)) as tf.Scalar;
  });
}

/**
 * The class-and-box task: losses `class` (cross-entropy) and `box` (smooth L1, weighted by
 * `boxWeight`), training metric `accuracy`, validation metrics `accuracy` and `boxError` (mean absolute
 * coordinate error); the best checkpoint has the lowest boxError.
 */
export function classAndBoxTask(options: { boxWeight?: number } = {}): Task<SquareBatch, null> {
  const { boxWeight = 5 } = options;
  return {
    name: 'class-and-box',
    best: { name: 'boxError', mode: 'min' },
    worker: { module: __filename, factory: 'classAndBoxTask', options: { boxWeight } },
    prepare: (b: SquareBatch): StepBatch => ({
      tensors: { images: { data: b.images, shape: [...b.shape] }, labels: { data: b.labels, shape: [b.labels.length] }, boxes: { data: b.boxesYxyx, shape: [b.labels.length, 4] } },
      examples: b.labels.length,
    }),
    loss(model: tfl.LayersModel, { images, labels, boxes }: tf.NamedTensorMap): TaskLoss {
      const [probabilities, predicted] = model.apply(images, { training: true }) as tf.Tensor[];
      const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, -1), labels), 'float32')) as tf.Scalar;
      return {
        losses: { class: crossEntropy(probabilities, tf.oneHot(labels as tf.Tensor1D, 3)), box: tf.mul(smoothL1(predicted, boxes), boxWeight) as tf.Scalar },
        metrics: { accuracy },
      };
    },
    async validate(model: tfl.LayersModel, data: TrainingData<SquareBatch>, { batchSize }) {
      let hits = 0;
      let error = 0;
      let n = 0;
      for await (const b of data.batches({ epoch: 0, batchSize, seed: 0, skip: 0, shuffle: false })) {
        const [h, e] = tf.tidy(() => {
          const [p, box] = model.predict(tf.tensor4d(b.images, b.shape)) as tf.Tensor[];
          const labels = tf.tensor1d(b.labels, 'int32');
          return [tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), labels), 'float32')).dataSync()[0], tf.sum(tf.abs(tf.sub(box, tf.tensor2d(b.boxesYxyx, [b.labels.length, 4])))).dataSync()[0]];
        });
        hits += h;
        error += e;
        n += b.labels.length;
      }
      return { metrics: { accuracy: hits / n, boxError: error / (4 * n) }, details: null };
    },
  };
}

// ── Checkpoints in memory ────────────────────────────────────────────────────────────────────────

interface Saved {
  weights: tf.Tensor[];
  optimizer: { className: string; config: tf.serialization.ConfigDict; weights: { name: string; tensor: tf.Tensor }[] };
  state: unknown;
}

/** Keeps checkpoints as tensor copies; `dispose()` frees them. `saves` records every save's name and state. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly entries = new Map<string, Saved>();
  readonly saves: { name: string; state: unknown }[] = [];

  async save(name: string, c: StoredCheckpoint): Promise<void> {
    const weights = c.model.getWeights().map((w) => w.clone());
    const named = await c.optimizer.getWeights();
    const optimizerWeights = named.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable))); // the iteration count is a fresh tensor
    await this.remove(name);
    this.entries.set(name, { weights, optimizer: { className: c.optimizer.getClassName(), config: c.optimizer.getConfig(), weights: optimizerWeights }, state: JSON.parse(JSON.stringify(c.state)) });
    this.saves.push({ name, state: JSON.parse(JSON.stringify(c.state)) });
  }

  async load(name: string, model: tfl.LayersModel): Promise<{ optimizer: tf.Optimizer; state: unknown } | null> {
    const saved = this.entries.get(name);
    if (saved === undefined) return null;
    model.setWeights(saved.weights);
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[saved.optimizer.className];
    const optimizer = fromConfig(cls, saved.optimizer.config) as tf.Optimizer;
    const copies = saved.optimizer.weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    await optimizer.setWeights(copies);
    tf.dispose(copies.map((w) => w.tensor)); // setWeights keeps its own references
    return { optimizer, state: JSON.parse(JSON.stringify(saved.state)) };
  }

  async remove(name: string): Promise<void> {
    const saved = this.entries.get(name);
    if (saved === undefined) return;
    tf.dispose([...saved.weights, ...saved.optimizer.weights.map((w) => w.tensor)]);
    this.entries.delete(name);
  }

  async list(): Promise<string[]> {
    return [...this.entries.keys()];
  }

  dispose(): void {
    for (const name of [...this.entries.keys()]) void this.remove(name);
  }
}
