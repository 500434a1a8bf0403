/**
 * Batch-norm statistics for the weights as they are ("precise BN"; Wu & Johnson, "Rethinking 'Batch' in
 * BatchNorm", 2021). During training, a batch-norm layer keeps moving averages of its batches' means
 * and variances, which inference (validation, the saved model) uses instead of batch statistics. The
 * averages lag the weights: each is a mix of batches computed with older weights. In a run of a few
 * hundred steps, while the weights still move fast, that lag costs validation accuracy (issue 8).
 * Recomputing them for the current weights — averaging the batch statistics of a few hundred training
 * images, with the weights frozen — removes the lag, whatever the momentum and the run's length.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BatchOptions, TrainingData } from './data';
import { toTensors, type TaskStep, type StepBatch } from './task';

/** A batch-norm layer as tfjs-layers (and the backbone's fused subclass) make it: `momentum` weights the old average. */
interface MomentumLayer {
  momentum: number;
}

/** The model's batch-norm layers (tfjs-layers' class, or one that extends it). */
export function batchNormLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization' && typeof (l as unknown as Partial<MomentumLayer>).momentum === 'number');
}

export interface BatchNormStatisticsOptions {
  /** Training examples to average over (rounded up to whole batches). Default 512. */
  examples?: number;
  batchSize: number;
  /** Which batches: the epoch and seed passed to `data.batches` (a shuffled epoch, so the examples are a random sample). */
  epoch: number;
  seed: number;
  /**
   * Computes a prepared batch's statistics elsewhere (a training engine: StepRunner.batchMoments); default:
   * the task's forward pass on tfjs. Their running mean becomes the moving statistics, as on tfjs.
   */
  moments?: BatchMoments;
}

/** One batch-norm layer's statistics over a batch: per channel, the mean and the variance as the layer's moving variance averages it. */
export interface LayerMoments {
  mean: Float32Array;
  variance: Float32Array;
}

/** The batch statistics of every layer of batchNormLayers(model), in that order, for one prepared batch — in training mode, weights unchanged. */
export type BatchMoments = (batch: StepBatch) => Promise<LayerMoments[]>;

/** A batch-norm layer's moving mean or variance variable. */
export function movingStatistic(layer: tfl.layers.Layer, which: 'moving_mean' | 'moving_variance'): tfl.LayersModel['weights'][number] {
  const v = layer.weights.find((w) => w.originalName.split('/').pop() === which);
  if (v === undefined) throw new TypeError(`batch-norm statistics: layer '${layer.name}' has no ${which}.`);
  return v;
}

/**
 * Replaces every batch-norm layer's moving mean and variance with the average of its batch statistics
 * over `examples` training examples, running the task's forward pass in training mode (as the
 * statistics are gathered during training) with the weights unchanged. Returns the examples used (0
 * when the model has no batch norm, or the data yields nothing, in which case nothing changes).
 */
export async function recomputeBatchNormStatistics<Batch>(
  model: tfl.LayersModel,
  task: TaskStep & { prepare(batch: Batch): StepBatch },
  data: TrainingData<Batch>,
  options: BatchNormStatisticsOptions,
): Promise<number> {
  const { examples = 512, batchSize, epoch, seed, moments } = options;
  if (moments !== undefined) return recomputeFromMoments(model, task, data, moments, { examples, batchSize, epoch, seed });
  const layers = batchNormLayers(model) as unknown as MomentumLayer[];
  if (layers.length === 0) return 0;
  const saved = layers.map((l) => l.momentum);
  const batchOptions: BatchOptions = { epoch, batchSize, seed, skip: 0, shuffle: true };
  let seen = 0;
  let batches = 0;
  try {
    for await (const batch of data.batches(batchOptions)) {
      const prepared = task.prepare(batch);
      batches += 1;
      // moving ← moving · (k − 1)/k + batch/k after batch k: the running mean of the batches' statistics.
      for (const l of layers) l.momentum = (batches - 1) / batches;
      tf.tidy(() => {
        const inputs = toTensors(prepared.tensors);
        task.loss(model, inputs); // the forward pass in training mode updates the statistics; the loss is not used
      });
      seen += prepared.examples;
      if (seen >= examples) break;
    }
  } finally {
    layers.forEach((l, i) => (l.momentum = saved[i]));
  }
  return seen;
}

/** recomputeBatchNormStatistics with the batches' statistics from `moments`: their running mean (in doubles), written once at the end. */
async function recomputeFromMoments<Batch>(
  model: tfl.LayersModel,
  task: { prepare(batch: Batch): StepBatch },
  data: TrainingData<Batch>,
  moments: BatchMoments,
  { examples, batchSize, epoch, seed }: Required<Omit<BatchNormStatisticsOptions, 'moments'>>,
): Promise<number> {
  const layers = batchNormLayers(model);
  if (layers.length === 0) return 0;
  const sums = layers.map((l) => {
    const channels = movingStatistic(l, 'moving_mean').shape[0] as number;
    return { mean: new Float64Array(channels), variance: new Float64Array(channels) };
  });
  let seen = 0;
  let batches = 0;
  for await (const batch of data.batches({ epoch, batchSize, seed, skip: 0, shuffle: true })) {
    const prepared = task.prepare(batch);
    const stats = await moments(prepared);
    if (stats.length !== layers.length) throw new RangeError(`batch-norm statistics: the engine gave ${stats.length} layers' statistics for the model's ${layers.length} batch-norm layers.`);
    stats.forEach((s, l) => {
      const sum = sums[l];
      if (s.mean.length !== sum.mean.length || s.variance.length !== sum.variance.length) {
        throw new RangeError(`batch-norm statistics: layer '${layers[l].name}' has ${sum.mean.length} channels; the engine gave ${s.mean.length} means and ${s.variance.length} variances.`);
      }
      for (let c = 0; c < sum.mean.length; c++) {
        sum.mean[c] += s.mean[c];
        sum.variance[c] += s.variance[c];
      }
    });
    batches += 1;
    seen += prepared.examples;
    if (seen >= examples) break;
  }
  if (batches === 0) return 0;
  layers.forEach((l, i) => {
    for (const [which, values] of [['moving_mean', sums[i].mean], ['moving_variance', sums[i].variance]] as const) {
      const v = movingStatistic(l, which);
      const averaged = tf.tensor(Float32Array.from(values, (x) => x / batches), v.shape as number[]);
      v.write(averaged);
      averaged.dispose();
    }
  });
  return seen;
}
