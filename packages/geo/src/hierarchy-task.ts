/**
 * GeoEstimation's multi-partition classifier as a task of the training core (Müller-Budack et al.,
 * ECCV 2018): the model has one softmax output per partition of an {@link S2Hierarchy}, coarse → fine,
 * and the loss is the sum of the heads' cross-entropies.
 *
 * Batches are the classification task's, labelled with FINE cells. `prepare` derives each coarser
 * head's label on the host from `hierarchy.ancestors[p][fineLabel]` and ships it as the batch tensor
 * `labels<p>` (the fine head reads `labels`), so the step itself needs no hierarchy: data-parallel workers
 * and the ONNX engine's split step split and feed those tensors like any other. A fine cell with no
 * ancestor in partition p (-1: its photos' mean lies in no cell of p) leaves head p's term out for that
 * image: the term contributes 0, and each part stays a mean over the batch (the sum over its images
 * divided by the batch size), so that parts of micro-batches and shards add up as the step expects.
 *
 * Each head's cross-entropy is a named part (`crossEntropy0` coarsest … `crossEntropy<n-1>` finest),
 * with label smoothing as the classification task does it ((1 − ε)·y + ε/cells of that head); the
 * training metric is the fine head's accuracy. Validation is {@link evaluateGeo} with the hierarchy: the
 * heads' probabilities are multiplied into fine-cell scores and the image is located on the fine partition.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationBatch, ClassificationData, StepBatch, Task, TaskLoss, TaskStep, TrainingData, checkBatch } from '@mobilenets/training';
import { describe } from './checks';
import { S2Hierarchy } from './hierarchy';
import { GeoTaskOptions, GeoValidation, checkGeoOptions, checkHierarchyOutputs, evaluateGeo } from './task';

export interface GeoHierarchyTaskOptions extends Omit<GeoTaskOptions, 'partition'> {
  /** The partitions, coarse → fine; the model has one softmax output per partition, in this order. */
  hierarchy: S2Hierarchy;
}

/** The options of the step a data-parallel worker rebuilds (JSON). */
export interface GeoHierarchyStepOptions {
  /** Number of heads (partitions). */
  heads: number;
  labelSmoothing: number;
}

/** The batch tensor that carries head p's labels: `labels` for the fine head, `labels<p>` for the coarser ones. */
export const headLabelsName = (p: number, heads: number): string => (p === heads - 1 ? 'labels' : `labels${p}`);

/** The loss part of head p (0 = coarsest). */
export const headLossName = (p: number): string => `crossEntropy${p}`;

const EPSILON = 1e-7;

function checkSmoothing(labelSmoothing: unknown, where: string): number {
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new RangeError(`${where}: labelSmoothing must be in [0, 1). Received ${describe(labelSmoothing)}.`);
  }
  return labelSmoothing;
}

/**
 * The training step of the hierarchy task: the sum over heads of each head's cross-entropy. It is all a
 * worker needs; the factory data-parallel workers call (options are JSON).
 */
export function geoHierarchyStep(options: GeoHierarchyStepOptions): TaskStep {
  const where = 'geoHierarchyStep';
  const { heads } = options ?? ({} as GeoHierarchyStepOptions);
  if (!Number.isInteger(heads) || heads < 1) throw new RangeError(`${where}: options.heads must be an integer ≥ 1 (one per partition). Received ${describe(heads)}.`);
  const labelSmoothing = checkSmoothing(options.labelSmoothing ?? 0, where);
  return {
    loss(model: tfl.LayersModel, batch: tf.NamedTensorMap): TaskLoss {
      const { images } = batch;
      if (images === undefined) throw new TypeError(`${where}: a step batch needs 'images'.`);
      const out = model.apply(images, { training: true });
      const outputs = (Array.isArray(out) ? out : [out]) as tf.Tensor2D[];
      if (outputs.length !== heads) throw new RangeError(`${where}: the model gave ${outputs.length} output(s); expected ${heads}, one softmax per partition (coarse → fine).`);
      const losses: Record<string, tf.Scalar> = {};
      let accuracy: tf.Scalar | null = null;
      outputs.forEach((probabilities, p) => {
        const name = headLabelsName(p, heads);
        const labels = batch[name] as tf.Tensor1D | undefined;
        if (labels === undefined) throw new TypeError(`${where}: a step batch needs '${name}' (head ${p}'s labels, from the task's prepare).`);
        const n = probabilities.shape[1];
        const batchSize = probabilities.shape[0];
        // -1 (no ancestor in this partition): one-hot of -1 is all zeros, and the mask drops the smoothing term too.
        const present = tf.cast(tf.greaterEqual(labels, 0), 'float32');
        const oneHot = tf.oneHot(labels, n);
        const targets = labelSmoothing > 0 ? tf.add(tf.mul(oneHot, 1 - labelSmoothing), labelSmoothing / n) : oneHot;
        const perImage = tf.neg(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probabilities, EPSILON, 1 - EPSILON))), -1));
        losses[headLossName(p)] = tf.div(tf.sum(tf.mul(perImage, present)), batchSize) as tf.Scalar;
        if (p === heads - 1) accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, -1), labels), 'float32')) as tf.Scalar;
      });
      return { losses, metrics: { accuracy: accuracy! } };
    },
  };
}

/**
 * The hierarchical geolocation task: one softmax head per partition of `hierarchy` (coarse → fine),
 * trained on the sum of their cross-entropies, validated in kilometres on the combined fine-cell scores,
 * keeping the checkpoint with the lowest `medianKm`.
 */
export function geoHierarchyTask(options: GeoHierarchyTaskOptions): Task<ClassificationBatch, GeoValidation> {
  const where = 'geoHierarchyTask';
  if (options !== null && typeof options === 'object' && (options as { partition?: unknown }).partition !== undefined) {
    throw new TypeError(`${where}: options.partition is not used; the hierarchy's finest partition gives the cells. Leave it out.`);
  }
  const settings = checkGeoOptions(options, where);
  const hierarchy = settings.hierarchy;
  if (hierarchy === null) throw new TypeError(`${where}: options.hierarchy must be an S2Hierarchy (new S2Hierarchy(partitions) or fromJson). Received ${describe(options?.hierarchy)}.`);
  const heads = hierarchy.partitions.length;
  const labelSmoothing = checkSmoothing(options.labelSmoothing ?? 0, where);
  const stepOptions: GeoHierarchyStepOptions = { heads, labelSmoothing };
  const step = geoHierarchyStep(stepOptions);
  const fineCells = hierarchy.fine.cells.length;
  return {
    name: 'geo-hierarchy',
    best: { name: 'medianKm', mode: 'min' },
    worker: { module: __filename, factory: 'geoHierarchyStep', options: stepOptions },

    check(model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, role: 'training' | 'validation'): void {
      checkHierarchyOutputs(model, hierarchy, `geo ${role}`);
      const classes = (data as Partial<ClassificationData>).classes;
      if (classes !== fineCells) {
        throw new RangeError(`geo ${role}: the ${role} data has ${describe(classes)} classes; expected ${fineCells}, the cells of the hierarchy's finest partition (labels are fine cells).`);
      }
    },

    prepare(batch: ClassificationBatch): StepBatch {
      checkBatch(batch, fineCells, 'geo hierarchy: training data');
      const n = batch.labels.length;
      const tensors: StepBatch['tensors'] = { images: { data: batch.images, shape: [...batch.shape] }, labels: { data: batch.labels, shape: [n] } };
      for (let p = 0; p < heads - 1; p++) {
        const ancestors = hierarchy.ancestors[p];
        tensors[headLabelsName(p, heads)] = { data: Int32Array.from(batch.labels, (fine) => ancestors[fine]), shape: [n] };
      }
      return { tensors, examples: n };
    },

    loss: (model: tfl.LayersModel, batch: tf.NamedTensorMap) => step.loss(model, batch),

    validate: (model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, { batchSize }: { batchSize: number }) =>
      evaluateGeo(model, data, { hierarchy, truth: settings.truth, mode: settings.mode, topK: settings.topK, batchSize }),
  };
}
