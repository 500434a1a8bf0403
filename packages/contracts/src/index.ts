/**
 * The shapes that data sources and training agree on, declared once: `@mobilenets/datasets` produces
 * them and `@mobilenets/training` consumes them, without either importing the other. Types only.
 */

/** Which batches of which epoch to produce. */
export interface BatchOptions {
  /** 0-based epoch: with `seed`, it fixes the order (and the augmentation) of the epoch. */
  epoch: number;
  /** Examples per batch, ≥ 1; the last batch of an epoch may be smaller. */
  batchSize: number;
  /** Run seed. */
  seed: number;
  /** Whole batches to leave out at the start of the epoch (resuming mid-epoch). */
  skip: number;
  /** Seeded shuffle; default true for training data, false keeps the order (evaluation). */
  shuffle?: boolean;
}

/** A batch of images with integer labels, channels last. */
export interface ClassificationBatch {
  /** [batch, height, width, channels] pixels, already scaled (MobileNet: RGB in [-1, 1]). */
  images: Float32Array;
  shape: [number, number, number, number];
  /** Class index of each image, in [0, classes). */
  labels: Int32Array;
  /** Where each image came from (for error messages and per-image reports). */
  paths: string[];
  /** Position of this batch in its epoch, counting skipped ones, when the source knows it. */
  index?: number;
}

/**
 * A batch of images with their objects, channels last. Boxes are xyxy normalised to the batch image
 * ([0, 1] across its width and height, after any augmentation), so they do not depend on the input size.
 */
export interface DetectionBatch {
  /** [batch, height, width, channels] pixels, already scaled (MobileNet: RGB in [-1, 1]). */
  images: Float32Array;
  shape: [number, number, number, number];
  /** Per image: its objects' boxes, xyxy in [0, 1] of the batch image, 4 numbers a box. */
  boxesXyxy: Float32Array[];
  /** Per image: its objects' class indices, in [0, classes) (no background class here). */
  labels: Int32Array[];
  /** Per image: 1 for objects to ignore (COCO crowds, VOC difficult): neither positives nor negatives. */
  ignore: Uint8Array[];
  /** Per image: where it came from, its id (COCO image id) and its size on disk [width, height] in pixels. */
  paths: string[];
  imageIds: number[];
  originalSizes: [number, number][];
  /**
   * Per image, when the batch shows whole images (no augmentation): its objects' areas in pixels of
   * its size on disk — the data's own (COCO `area`), which COCO evaluation's size ranges read. Absent:
   * evaluation uses the boxes' areas.
   */
  areas?: Float32Array[];
  /** Position of this batch in its epoch, counting skipped ones, when the source knows it. */
  index?: number;
}
export { checkDetectionBatch } from './check';
