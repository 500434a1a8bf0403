/**
 * What training consumes: a dataset that yields the batches of an epoch, in a seeded order. The batch
 * type is the task's; classification's (images with integer labels) is defined here, by the consumer,
 * and `@mobilenets/datasets` produces objects of its shape (matched structurally, no import either way).
 */

export interface ClassificationBatch {
  /** [batch, height, width, channels] pixels, channels last, already scaled (MobileNet: [-1, 1]). */
  images: Float32Array;
  shape: [number, number, number, number];
  /** Class index of each image, in [0, classes). */
  labels: Int32Array;
  /** Where each image came from (for error messages and per-image reports). */
  paths: string[];
}

export interface BatchOptions {
  /** 0-based epoch: with `seed`, determines the order (and augmentation) of the epoch. */
  epoch: number;
  batchSize: number;
  seed: number;
  /** Batches of this epoch to leave out at the start (resuming mid-epoch). */
  skip: number;
  /** Default true for training data. */
  shuffle?: boolean;
}

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
