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
  const { examples = 512, batchSize, epoch, seed } = options;
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
