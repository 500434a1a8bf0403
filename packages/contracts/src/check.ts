import type { DetectionBatch } from './index';

/**
 * Checks a DetectionBatch's shape and per-image arrays, the one check every detection task runs on the
 * batches it is given; errors start with `where`. Returns the batch's image count.
 */
export function checkDetectionBatch(b: DetectionBatch, where: string): number {
  const { images, shape } = b;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${where}: batch.shape must be [batch, height, width, channels] of positive integers. Received ${JSON.stringify(shape)}.`);
  }
  const n = shape[0];
  if (!(images instanceof Float32Array) || images.length !== shape.reduce((p, d) => p * d, 1)) {
    throw new RangeError(`${where}: batch.images must be a Float32Array of ${shape.reduce((p, d) => p * d, 1)} values for shape [${shape}]. Received length ${images?.length}.`);
  }
  for (const field of ['boxesXyxy', 'labels', 'ignore'] as const) {
    if (!Array.isArray(b[field]) || b[field].length !== n) throw new RangeError(`${where}: batch.${field} must hold one array an image (${n}). Received ${Array.isArray(b[field]) ? b[field].length : typeof b[field]}.`);
  }
  if (b.areas !== undefined && (!Array.isArray(b.areas) || b.areas.length !== n || b.areas.some((a, i) => a.length !== b.labels[i].length))) {
    throw new RangeError(`${where}: batch.areas, when given, must hold an area per object of each image (${n} images).`);
  }
  return n;
}
