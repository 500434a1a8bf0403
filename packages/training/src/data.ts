/**
 * What training consumes: a dataset that yields the batches of an epoch, in a seeded order. The batch
 * type is the task's; classification's (images with integer labels) and the batch options are the
 * contract `@mobilenets/datasets` produces (@mobilenets/contracts).
 */
import type { BatchOptions, ClassificationBatch } from '@mobilenets/contracts';

export type { BatchOptions, ClassificationBatch };

/** A dataset fit can train on, with batches of the task's type. */
export interface TrainingData<Batch = ClassificationBatch> {
  /** Examples in one epoch. */
  size: number;
  /** The batches of one epoch; the same options give the same batches in the same order. */
  batches(options: BatchOptions): AsyncIterable<Batch>;
}

/** Classification data: its batches carry labels in [0, classes). */
export interface ClassificationData extends TrainingData<ClassificationBatch> {
  classes: number;
}

/** Checks a batch's shape against its arrays, so that a bad data source fails with a clear message. */
export function checkBatch(batch: ClassificationBatch, classes: number, where: string): void {
  const { images, shape, labels, paths } = batch;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${where}: batch.shape must be [batch, height, width, channels] of positive integers. Received ${JSON.stringify(shape)}.`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(images instanceof Float32Array) || images.length !== size) {
    throw new RangeError(`${where}: batch.images must be a Float32Array of ${size} values for shape [${shape}]. Received ${images?.constructor?.name ?? typeof images} of length ${images?.length}.`);
  }
  if (!(labels instanceof Int32Array) || labels.length !== shape[0]) {
    throw new RangeError(`${where}: batch.labels must be an Int32Array with one label per image (${shape[0]}). Received ${labels?.constructor?.name ?? typeof labels} of length ${labels?.length}.`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw new RangeError(`${where}: batch.labels[${i}] (${paths?.[i] ?? 'image'}) is ${labels[i]}, expected a class index in [0, ${classes}).`);
    }
  }
}
