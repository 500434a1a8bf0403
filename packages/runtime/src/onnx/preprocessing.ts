/** How a model expects its image input: the exporter writes this into the ONNX metadata, OnnxModel.runImages applies it. */

/** x · scale + offset maps a byte of an RGB image in [0, 255] to the model's input range, in NHWC order. */
export interface ImagePreprocessing {
  scale: number;
  offset: number;
  layout: 'NHWC';
  channels: 'RGB';
}

/** Preprocessing every MobileNet here expects: x / 127.5 − 1 maps [0, 255] to [-1, 1]. */
export const MOBILENET_PREPROCESSING: ImagePreprocessing = Object.freeze({ scale: 1 / 127.5, offset: -1, layout: 'NHWC', channels: 'RGB' });

/** The metadata key the preprocessing is stored under, as JSON. */
export const PREPROCESSING_METADATA_KEY = 'preprocessing';

/** Checks a preprocessing given by a caller or read from a file; `source` says where it came from. */
export function checkPreprocessing(value: unknown, source: string): ImagePreprocessing {
  const p = value as Partial<ImagePreprocessing> | null;
  if (p === null || typeof p !== 'object') throw new TypeError(`${source}: preprocessing must be an object { scale, offset, layout: 'NHWC', channels: 'RGB' }; received ${JSON.stringify(value)}.`);
  if (typeof p.scale !== 'number' || !Number.isFinite(p.scale) || typeof p.offset !== 'number' || !Number.isFinite(p.offset)) {
    throw new RangeError(`${source}: preprocessing needs finite numbers scale and offset (x · scale + offset); received scale ${String(p.scale)}, offset ${String(p.offset)}.`);
  }
  if (p.layout !== 'NHWC' || p.channels !== 'RGB') {
    throw new RangeError(`${source}: preprocessing layout '${String(p.layout)}' and channels '${String(p.channels)}' are not supported; expected layout 'NHWC' and channels 'RGB'.`);
  }
  return { scale: p.scale, offset: p.offset, layout: p.layout, channels: p.channels };
}
