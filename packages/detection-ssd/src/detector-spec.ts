/**
 * `detector.json`: everything besides the network's weights that turns an SSD's raw outputs into
 * detections, saved next to the model (model.json + weights.bin, or an ONNX file) so that any engine
 * can run it: the classes, how logits become scores, the anchors (as the generator's full settings,
 * so they are regenerated exactly, plus their count as a check), the box coder, the NMS threshold and
 * the image preprocessing. Versioned: a reader refuses a version it does not know.
 */
import {
  resolveSsdAnchorConfig,
  ssdAnchorCount,
  ssdAnchorsPerLocation,
  type BoxCoderConfig,
  type ResolvedSsdAnchorConfig,
  type SsdAnchorConfig,
} from '@mobilenets/box-math';
import type { ScoreFunction } from './postprocess';
import type { SsdHead, SsdModel } from './ssd-model';
import type { Interpolation } from './resample';

export const DETECTOR_SPEC_FORMAT = 'mobilenets-ssd';
export const DETECTOR_SPEC_VERSION = 1;
/** The spec's file name in a model folder. */
export const DETECTOR_JSON = 'detector.json';

/**
 * How an image becomes the square network input:
 * - 'stretch': both sides resized to inputSize (aspect ratio not kept), as @mobilenets/datasets
 *   prepares training and evaluation images; boxes scale back by width and height;
 * - 'pad-faceapi': face-api's: zeros at the bottom or right to a square, then resized; boxes map back
 *   as face-api maps them, through the rounded size of the image inside the resized square.
 */
export type DetectorResize = 'stretch' | 'pad-faceapi';

export interface DetectorPreprocessing {
  resize: DetectorResize;
  /** 'lanczos3': sharp's resize (datasets'); 'bilinear': tf.image.resizeBilinear's (face-api's). See resample.ts. */
  interpolation: Interpolation;
  /** Network input = byte · scale + offset. */
  scale: number;
  offset: number;
}

/** What @mobilenets/datasets does to training and evaluation images: stretched with sharp, x / 127.5 − 1. */
export const DATASETS_PREPROCESSING: Readonly<DetectorPreprocessing> = Object.freeze({ resize: 'stretch', interpolation: 'lanczos3', scale: 1 / 127.5, offset: -1 });

export type DetectorArch = 'v1' | 'v2';

/** The contents of detector.json (version 1). */
export interface DetectorSpec {
  format: typeof DETECTOR_SPEC_FORMAT;
  version: typeof DETECTOR_SPEC_VERSION;
  head: SsdHead;
  arch: DetectorArch;
  widthMultiplier: number;
  /** Side of the square network input, in pixels. */
  inputSize: number;
  /**
   * One name per object class (the class logits have one more column, the background, first): label
   * k is logit k + 1. null: the network has the class but the detector never reports it (face-api's
   * unused third logit).
   */
  labels: (string | null)[];
  scoreFunction: ScoreFunction;
  /** [height, width] of each predictor's feature map, in output order. */
  featureMapSizes: [number, number][];
  anchorsPerLocation: number[];
  /** box-math's ssdAnchorsCxcywh(featureMapSizes, generator) gives the anchors; count checks them. */
  anchors: { count: number; generator: ResolvedSsdAnchorConfig };
  /** The box coder's [yScale, xScale, heightScale, widthScale] (TF: 10, 10, 5, 5). */
  boxCoderScales: [number, number, number, number];
  nms: { iouThreshold: number };
  preprocessing: DetectorPreprocessing;
}

export interface SsdDetectorSpecOptions {
  /** One name per object class of the model, label = index (null: never reported). */
  labels: readonly (string | null)[];
  /** How the model's logits were trained: as ssdTask's scoreFunction. */
  scoreFunction: ScoreFunction;
  arch: DetectorArch;
  widthMultiplier: number;
  /** The anchor generator the model was trained with (ssdTask's anchors came from it). Default box-math's defaults. */
  anchors?: SsdAnchorConfig;
  /** NMS IoU threshold. Default 0.6 (TF's SSD configs, ssdTask's validation). */
  iouThreshold?: number;
  /** Box coder scales. Default TF's 10, 10, 5, 5. */
  boxCoder?: Pick<BoxCoderConfig, 'yScale' | 'xScale' | 'heightScale' | 'widthScale'>;
  /** Default DATASETS_PREPROCESSING: what training and evaluation saw. */
  preprocessing?: DetectorPreprocessing;
}

/** The spec of a detector built by createSsd and trained with ssdTask (pure: writes nothing). */
export function ssdDetectorSpec(ssd: SsdModel, options: SsdDetectorSpecOptions): DetectorSpec {
  const inputShape = ssd.model.inputs[0].shape;
  const { yScale = 10, xScale = 10, heightScale = 5, widthScale = 5 } = options.boxCoder ?? {};
  const spec = {
    format: DETECTOR_SPEC_FORMAT,
    version: DETECTOR_SPEC_VERSION,
    head: ssd.head,
    arch: options.arch,
    widthMultiplier: options.widthMultiplier,
    inputSize: inputShape[1],
    labels: [...options.labels],
    scoreFunction: options.scoreFunction,
    featureMapSizes: ssd.featureMapSizes.map(([h, w]) => [h, w]),
    anchorsPerLocation: [...ssd.anchorsPerLocation],
    anchors: { count: ssd.anchors, generator: resolveSsdAnchorConfig({ numLayers: ssd.featureMapSizes.length, ...options.anchors }) },
    boxCoderScales: [yScale, xScale, heightScale, widthScale],
    nms: { iouThreshold: options.iouThreshold ?? 0.6 },
    preprocessing: { ...(options.preprocessing ?? DATASETS_PREPROCESSING) },
  };
  if (inputShape[2] !== inputShape[1]) throw new RangeError(`ssdDetectorSpec: the model's input must be square [batch, size, size, 3]. Received [${inputShape.join(', ')}].`);
  if (spec.labels.length !== ssd.classes) throw new RangeError(`ssdDetectorSpec: labels must name each of the model's ${ssd.classes} classes. Received ${spec.labels.length} names.`);
  return parseDetectorSpec(spec, 'ssdDetectorSpec');
}

/** Fails with the file, the field, what was received and what was expected. */
class SpecReader {
  constructor(readonly file: string) {}

  fail(field: string, expected: string, received: unknown, kind: 'type' | 'range' = 'range'): never {
    const message = `${this.file}: '${field}' must be ${expected}. Received ${describe(received)}.`;
    throw kind === 'type' ? new TypeError(message) : new RangeError(message);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'an object', value, 'type');
    return value as Record<string, unknown>;
  }

  number(value: unknown, field: string, expected: string, ok: (n: number) => boolean): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, expected, value, 'type');
    if (!ok(value as number)) this.fail(field, expected, value);
    return value as number;
  }

  integer(value: unknown, field: string, min: number): number {
    return this.number(value, field, `an integer ≥ ${min}`, (n) => Number.isInteger(n) && n >= min);
  }

  choice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
    if (!(choices as readonly unknown[]).includes(value)) this.fail(field, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value, typeof value === 'string' ? 'range' : 'type');
    return value as T;
  }

  array(value: unknown, field: string, expected: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, expected, value, 'type');
    return value as unknown[];
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

const ANCHOR_NUMBER_FIELDS = ['numLayers', 'minScale', 'maxScale', 'interpolatedScaleAspectRatio', 'baseAnchorHeight', 'baseAnchorWidth', 'imageHeight', 'imageWidth'] as const;
const ANCHOR_LIST_FIELDS = ['scales', 'aspectRatios', 'heightStride', 'widthStride', 'heightOffset', 'widthOffset'] as const;

function readAnchorGenerator(r: SpecReader, value: unknown): ResolvedSsdAnchorConfig {
  const field = 'anchors.generator';
  const g = r.object(value, field);
  const config: SsdAnchorConfig = {};
  const writable = config as Record<string, unknown>;
  for (const key of ANCHOR_NUMBER_FIELDS) {
    if (g[key] !== undefined) writable[key] = r.number(g[key], `${field}.${key}`, 'a finite number', () => true);
  }
  for (const key of ANCHOR_LIST_FIELDS) {
    if (g[key] === undefined) continue;
    const list = r.array(g[key], `${field}.${key}`, 'an array of numbers');
    writable[key] = list.map((v, i) => r.number(v, `${field}.${key}[${i}]`, 'a finite number', () => true));
  }
  if (g.reduceBoxesInLowestLayer !== undefined) {
    if (typeof g.reduceBoxesInLowestLayer !== 'boolean') r.fail(`${field}.reduceBoxesInLowestLayer`, 'true or false', g.reduceBoxesInLowestLayer, 'type');
    config.reduceBoxesInLowestLayer = g.reduceBoxesInLowestLayer as boolean;
  }
  if (g.boxSpecs !== undefined) {
    config.boxSpecs = r.array(g.boxSpecs, `${field}.boxSpecs`, 'an array (one a layer) of arrays of { scale, aspectRatio }').map((layer, k) =>
      r.array(layer, `${field}.boxSpecs[${k}]`, 'an array of { scale, aspectRatio }').map((spec, j) => {
        const at = `${field}.boxSpecs[${k}][${j}]`;
        const o = r.object(spec, at);
        return { scale: r.number(o.scale, `${at}.scale`, 'a number > 0', (n) => n > 0), aspectRatio: r.number(o.aspectRatio, `${at}.aspectRatio`, 'a number > 0', (n) => n > 0) };
      }));
  }
  if (g.interpolatedAnchorPlacement !== undefined) config.interpolatedAnchorPlacement = r.choice(g.interpolatedAnchorPlacement, `${field}.interpolatedAnchorPlacement`, ['last', 'after-ratio-1'] as const);
  try {
    return resolveSsdAnchorConfig(config);
  } catch (error) {
    // box-math names the setting ("numLayers: expected …"); say where it is.
    throw new RangeError(`${r.file}: ${field}.${(error as Error).message}`);
  }
}

/**
 * Checks that `json` (detector.json's parsed contents) is a complete and consistent version-1 spec and
 * returns it typed. Errors (TypeError for a wrong kind of value, RangeError for a bad value) name
 * `file`, the field, the value received and the value expected.
 */
export function parseDetectorSpec(json: unknown, file: string): DetectorSpec {
  const r = new SpecReader(file);
  const o = r.object(json, '(top level)');
  if (o.format !== DETECTOR_SPEC_FORMAT) r.fail('format', `'${DETECTOR_SPEC_FORMAT}' (this is not a MobileNets.ts SSD detector spec)`, o.format);
  if (o.version !== DETECTOR_SPEC_VERSION) {
    const newer = typeof o.version === 'number' && o.version > DETECTOR_SPEC_VERSION;
    r.fail('version', `${DETECTOR_SPEC_VERSION}${newer ? ' (the file was written by a newer MobileNets.ts: update @mobilenets/detection-ssd to read it)' : ''}`, o.version);
  }
  const head = r.choice(o.head, 'head', ['ssd', 'ssdlite'] as const);
  const arch = r.choice(o.arch, 'arch', ['v1', 'v2'] as const);
  const widthMultiplier = r.number(o.widthMultiplier, 'widthMultiplier', 'a number > 0', (n) => n > 0);
  const inputSize = r.integer(o.inputSize, 'inputSize', 1);
  const labelsExpected = 'a non-empty array with one name per object class (a string, or null for a class never reported)';
  const labels = r.array(o.labels, 'labels', labelsExpected).map((l, i) => {
    if (l !== null && typeof l !== 'string') r.fail(`labels[${i}]`, 'a string or null', l, 'type');
    return l as string | null;
  });
  if (labels.length === 0) r.fail('labels', labelsExpected, o.labels);
  if (labels.every((l) => l === null)) r.fail('labels', 'at least one name that is not null (a detector that reports nothing)', o.labels);
  const scoreFunction = r.choice(o.scoreFunction, 'scoreFunction', ['softmax', 'sigmoid'] as const);

  const featureMapSizes = r.array(o.featureMapSizes, 'featureMapSizes', 'an array of [height, width] pairs').map((pair, i) => {
    const p = r.array(pair, `featureMapSizes[${i}]`, 'a [height, width] pair of integers ≥ 1');
    if (p.length !== 2) r.fail(`featureMapSizes[${i}]`, 'a [height, width] pair of integers ≥ 1', pair);
    return [r.integer(p[0], `featureMapSizes[${i}][0]`, 1), r.integer(p[1], `featureMapSizes[${i}][1]`, 1)] as [number, number];
  });
  if (featureMapSizes.length === 0) r.fail('featureMapSizes', 'a non-empty array of [height, width] pairs', o.featureMapSizes);
  const anchorsPerLocation = r.array(o.anchorsPerLocation, 'anchorsPerLocation', 'an array of integers ≥ 1').map((a, i) => r.integer(a, `anchorsPerLocation[${i}]`, 1));
  if (anchorsPerLocation.length !== featureMapSizes.length) {
    r.fail('anchorsPerLocation', `one integer per feature map (${featureMapSizes.length}, as featureMapSizes)`, o.anchorsPerLocation);
  }
  const anchorsObject = r.object(o.anchors, 'anchors');
  const count = r.integer(anchorsObject.count, 'anchors.count', 1);
  const generator = readAnchorGenerator(r, anchorsObject.generator);
  if (generator.numLayers !== featureMapSizes.length) {
    r.fail('anchors.generator.numLayers', `the number of feature maps (${featureMapSizes.length}, as featureMapSizes)`, generator.numLayers);
  }
  const generated = ssdAnchorsPerLocation(generator);
  if (generated.some((n, i) => n !== anchorsPerLocation[i])) {
    r.fail('anchorsPerLocation', `what anchors.generator makes per cell ([${generated.join(', ')}])`, anchorsPerLocation);
  }
  const expectedCount = ssdAnchorCount(featureMapSizes, generator);
  if (count !== expectedCount) r.fail('anchors.count', `${expectedCount}: Σ height · width · anchorsPerLocation over featureMapSizes`, count);

  const scales = r.array(o.boxCoderScales, 'boxCoderScales', '[yScale, xScale, heightScale, widthScale], four numbers > 0');
  if (scales.length !== 4) r.fail('boxCoderScales', '[yScale, xScale, heightScale, widthScale], four numbers > 0', o.boxCoderScales);
  const boxCoderScales = scales.map((s, i) => r.number(s, `boxCoderScales[${i}]`, 'a number > 0', (n) => n > 0)) as [number, number, number, number];
  const nms = r.object(o.nms, 'nms');
  const iouThreshold = r.number(nms.iouThreshold, 'nms.iouThreshold', 'a number in [0, 1]', (n) => n >= 0 && n <= 1);
  const p = r.object(o.preprocessing, 'preprocessing');
  const preprocessing: DetectorPreprocessing = {
    resize: r.choice(p.resize, 'preprocessing.resize', ['stretch', 'pad-faceapi'] as const),
    interpolation: r.choice(p.interpolation, 'preprocessing.interpolation', ['lanczos3', 'bilinear'] as const),
    scale: r.number(p.scale, 'preprocessing.scale', 'a number ≠ 0 (input = byte · scale + offset)', (n) => n !== 0),
    offset: r.number(p.offset, 'preprocessing.offset', 'a finite number (input = byte · scale + offset)', () => true),
  };
  return {
    format: DETECTOR_SPEC_FORMAT,
    version: DETECTOR_SPEC_VERSION,
    head,
    arch,
    widthMultiplier,
    inputSize,
    labels,
    scoreFunction,
    featureMapSizes,
    anchorsPerLocation,
    anchors: { count, generator },
    boxCoderScales,
    nms: { iouThreshold },
    preprocessing,
  };
}
