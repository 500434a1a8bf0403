/** Test helpers: a tiny classifier, an in-memory TrainingData and an in-memory CheckpointStore. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ClassificationBatch, TrainingData } from './data';
import type { CheckpointStore, StoredCheckpoint } from './fit';

/** Two convolutions, batch norm, pooling and a 'Logits' softmax layer on 8×8×3 inputs; seeded, so two builds are equal. */
export function tinyClassifier(classes = 3, seed = 1): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + s });
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(1), name: 'Conv_a' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'Conv_a_BatchNorm' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'Conv_b' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(3), name: 'Logits' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

/**
 * `count` 8×8 images of `classes` classes: class c is a brightness level plus seeded noise, so that a
 * tiny net learns it. Batches are a seeded permutation per (seed, epoch) when shuffled.
 * `corrupt(epoch, batchIndex)` may return true to fill that batch with NaN.
 */
export function memoryData(count: number, classes = 3, options: { corrupt?: (epoch: number, batch: number) => boolean } = {}): TrainingData & { requests: { epoch: number; skip: number }[] } {
  const pixels = 8 * 8 * 3;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  let s = 99;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    for (let j = 0; j < pixels; j++) images[i * pixels + j] = (labels[i] / (classes - 1)) * 2 - 1 + (random() - 0.5) * 0.6 + (j % 3 === labels[i] % 3 ? 0.3 : 0);
  }
  const requests: { epoch: number; skip: number }[] = [];
  return {
    classes,
    size: count,
    requests,
    async *batches({ epoch, batchSize, seed, skip, shuffle = true }): AsyncIterable<ClassificationBatch> {
      requests.push({ epoch, skip });
      const order = Array.from({ length: count }, (_, i) => i);
      if (shuffle) {
        let r = (seed * 7919 + epoch * 104729 + 1) >>> 0;
        for (let i = count - 1; i > 0; i--) {
          r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
          const j = r % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      for (let b = skip; b * batchSize < count; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const out = new Float32Array(idx.length * pixels);
        idx.forEach((k, i) => out.set(images.subarray(k * pixels, (k + 1) * pixels), i * pixels));
        if (options.corrupt?.(epoch, b)) out.fill(NaN);
        yield { images: out, shape: [idx.length, 8, 8, 3], labels: Int32Array.from(idx.map((k) => labels[k])), paths: idx.map((k) => `memory:${k}`) };
      }
    },
  };
}

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
