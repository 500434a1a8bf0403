/**
 * The SSD detector for inference: load → detect → dispose. The detector is the network (anything that
 * maps preprocessed images to the raw SSD outputs: a tfjs model here, an onnxruntime session in
 * @mobilenets/runtime) plus its spec (detector.json: classes, anchors, box coder, NMS, preprocessing);
 * everything around the network is plain TypeScript (resample.ts, postprocess.ts, box-math), so every
 * engine gives the same detections for the same raw outputs.
 *
 *   image bytes → preprocessing (spec.preprocessing) → network.run → postprocessSsd → detections
 *
 * Load-time configuration (the spec) is apart from call-time options (minScore, maxDetections,
 * iouThreshold). Nothing here picks a tfjs backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ssdAnchorsCxcywh } from '@mobilenets/box-math';
import { parseDetectorSpec, type DetectorSpec } from './detector-spec';
import { postprocessSsd } from './postprocess';
import { padToSquare, resizeBilinear, resizeLanczos3, rgbBytes, type PixelImage } from './resample';
import { SSD_OUTPUTS } from './ssd-model';

/**
 * What runs the network: `images` is [batch, inputSize, inputSize, 3] NHWC float32, preprocessed;
 * the outputs are [batch, anchors, 4] box encodings (TF order) and [batch, anchors, classes + 1] class
 * logits (background first), flattened. The same structural type as runtime's onnxruntime network.
 */
export interface SsdNetwork {
  readonly inputSize: number;
  run(images: Float32Array, batch: number): Promise<{ boxEncodings: Float32Array; classLogits: Float32Array }>;
  dispose(): void;
}

/**
 * A tfjs SSD model (createSsd's, or one loaded from model.json) as an SsdNetwork; dispose() disposes
 * the model. The model needs a square RGB input and the outputs 'BoxEncodings' and 'ClassLogits'.
 */
export function tfjsSsdNetwork(model: tfl.LayersModel): SsdNetwork {
  const shape = model.inputs[0]?.shape ?? [];
  const inputSize = shape[1];
  if (model.inputs.length !== 1 || shape.length !== 4 || typeof inputSize !== 'number' || shape[2] !== inputSize || shape[3] !== 3) {
    throw new RangeError(`tfjsSsdNetwork: model '${model.name}' must have one square RGB input [batch, size, size, 3]. Its inputs: ${model.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')}.`);
  }
  const boxIndex = model.outputNames.indexOf(SSD_OUTPUTS.boxEncodings);
  const logitIndex = model.outputNames.indexOf(SSD_OUTPUTS.classLogits);
  if (boxIndex < 0 || logitIndex < 0) {
    throw new RangeError(`tfjsSsdNetwork: model '${model.name}' must have the outputs '${SSD_OUTPUTS.boxEncodings}' and '${SSD_OUTPUTS.classLogits}' (createSsd's). Its outputs: ${model.outputNames.map((n) => `'${n}'`).join(', ')}.`);
  }
  let disposed = false;
  return {
    inputSize,
    async run(images, batch) {
      if (disposed) throw new Error('tfjsSsdNetwork: run() after dispose().');
      const perImage = inputSize * inputSize * 3;
      if (!(Number.isInteger(batch) && batch >= 1) || images.length !== batch * perImage) {
        throw new RangeError(`tfjsSsdNetwork: ${batch} image(s) of ${inputSize} × ${inputSize} × 3 need ${batch * perImage} numbers, received ${images.length}.`);
      }
      const x = tf.tensor4d(images, [batch, inputSize, inputSize, 3]);
      const outputs = model.predict(x) as tf.Tensor[];
      try {
        const [boxEncodings, classLogits] = await Promise.all([outputs[boxIndex].data<'float32'>(), outputs[logitIndex].data<'float32'>()]);
        return { boxEncodings, classLogits };
      } finally {
        tf.dispose([x, ...outputs]);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}

/** An image for {@link SsdDetector.detect}: 8-bit RGB or RGBA bytes, row-major, as decoded (EXIF orientation applied). */
export type DetectorImage = PixelImage;

/** Call-time options of {@link SsdDetector.detect}. */
export interface DetectOptions {
  /** A detection needs a score above this, in [0, 1]. Default 0.5. */
  minScore?: number;
  /** At most this many detections an image (best first). Default 100. */
  maxDetections?: number;
  /** Boxes of one class overlapping more than this are suppressed, in [0, 1]. Default the spec's nms.iouThreshold. */
  iouThreshold?: number;
}

/** One detection in image pixels: box [x1, y1, x2, y2] (clipped to the image), score, class index and name. */
export interface DetectedObject {
  boxXyxy: [number, number, number, number];
  score: number;
  label: number;
  labelName: string;
}

/** The network input for one image and how its normalised boxes map back to its pixels. */
export interface DetectorInput {
  /** inputSize × inputSize × 3, byte · scale + offset. */
  pixels: Float32Array;
  /** Normalised box coordinates × these = image pixels (x, y). */
  boxScale: [number, number];
  /** The image's size: boxes are clipped to it. */
  imageSize: [number, number];
}

/** Preprocesses one image as `spec.preprocessing` says (see detector-spec.ts and resample.ts). */
export function detectorInput(image: DetectorImage, spec: Pick<DetectorSpec, 'inputSize' | 'preprocessing'>, what = 'image'): DetectorInput {
  const rgb = rgbBytes(image, what);
  const { width, height } = image;
  const { inputSize } = spec;
  const { resize, interpolation, scale, offset } = spec.preprocessing;
  let source = rgb;
  let sourceWidth = width;
  let sourceHeight = height;
  let boxScale: [number, number] = [width, height];
  if (resize === 'pad-faceapi') {
    const padded = padToSquare(rgb, width, height);
    source = padded.rgb;
    sourceWidth = sourceHeight = padded.side;
    // face-api's locateFaces: normalised × inputSize / round(side · inputSize / max side) × side.
    const ratio = inputSize / padded.side;
    boxScale = [(inputSize / Math.round(width * ratio)) * width, (inputSize / Math.round(height * ratio)) * height];
  }
  const resized = interpolation === 'bilinear' ? resizeBilinear(source, sourceWidth, sourceHeight, inputSize, inputSize) : resizeLanczos3(source, sourceWidth, sourceHeight, inputSize, inputSize);
  const pixels = new Float32Array(resized.length);
  if (resized instanceof Uint8Array) {
    const table = new Float32Array(256).map((_, i) => i * scale + offset);
    for (let i = 0; i < resized.length; i++) pixels[i] = table[resized[i]];
  } else {
    for (let i = 0; i < resized.length; i++) pixels[i] = resized[i] * scale + offset;
  }
  return { pixels, boxScale, imageSize: [width, height] };
}

function resolveOptions(options: DetectOptions, spec: DetectorSpec): Required<DetectOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError(`SsdDetector.detect: options must be an object { minScore, maxDetections, iouThreshold }. Received ${String(options)}.`);
  const { minScore = 0.5, maxDetections = 100, iouThreshold = spec.nms.iouThreshold } = options;
  if (typeof minScore !== 'number' || !(minScore >= 0 && minScore <= 1)) throw new RangeError(`SsdDetector.detect: minScore must be a number in [0, 1]. Received ${String(minScore)}.`);
  if (!(Number.isInteger(maxDetections) && maxDetections >= 1)) throw new RangeError(`SsdDetector.detect: maxDetections must be an integer ≥ 1. Received ${String(maxDetections)}.`);
  if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1)) throw new RangeError(`SsdDetector.detect: iouThreshold must be a number in [0, 1]. Received ${String(iouThreshold)}.`);
  return { minScore, maxDetections, iouThreshold };
}

/** An SSD detector: a network and its spec. dispose() disposes the network. */
export class SsdDetector {
  readonly spec: DetectorSpec;
  private network: SsdNetwork | null;
  private readonly anchorsCxcywh: Float64Array;
  private readonly excludedClasses: number[];

  constructor(parts: { network: SsdNetwork; spec: DetectorSpec }) {
    const spec = parseDetectorSpec(parts?.spec, 'SsdDetector: spec');
    const { network } = parts;
    if (network === null || typeof network !== 'object' || typeof network.run !== 'function' || typeof network.dispose !== 'function') {
      throw new TypeError('SsdDetector: network must be an SsdNetwork { inputSize, run(images, batch), dispose() }.');
    }
    if (network.inputSize !== spec.inputSize) {
      throw new RangeError(`SsdDetector: the network's input is ${network.inputSize} × ${network.inputSize} but the spec's inputSize is ${spec.inputSize}: they belong to different models.`);
    }
    this.spec = spec;
    this.network = network;
    this.anchorsCxcywh = ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator);
    this.excludedClasses = spec.labels.flatMap((l, i) => (l === null ? [i] : []));
  }

  /** Side of the square network input, in pixels. */
  get inputSize(): number {
    return this.spec.inputSize;
  }

  /** The class names, label = index (null: a class never reported). */
  get labels(): readonly (string | null)[] {
    return this.spec.labels;
  }

  /** The objects in one image, best first. */
  async detect(image: DetectorImage, options: DetectOptions = {}): Promise<DetectedObject[]> {
    return (await this.detectBatch([image], options))[0];
  }

  /** The objects in each image (one network run for all of them), best first per image. */
  async detectBatch(images: readonly DetectorImage[], options: DetectOptions = {}): Promise<DetectedObject[][]> {
    const o = resolveOptions(options, this.spec);
    if (!Array.isArray(images) || images.length === 0) throw new RangeError('SsdDetector.detectBatch: images must be a non-empty array.');
    const network = this.network;
    if (network === null) throw new Error('SsdDetector: detect() after dispose(); load the detector again.');
    const inputs = images.map((image, i) => detectorInput(image, this.spec, images.length === 1 ? 'SsdDetector.detect: image' : `SsdDetector.detectBatch: images[${i}]`));
    const perImage = this.inputSize * this.inputSize * 3;
    const batch = new Float32Array(images.length * perImage);
    inputs.forEach((input, i) => batch.set(input.pixels, i * perImage));
    const { boxEncodings, classLogits } = await network.run(batch, images.length);

    const anchors = this.spec.anchors.count;
    const classes = this.spec.labels.length;
    const mismatch = (what: string, received: number, expected: number) =>
      new RangeError(`SsdDetector: the network returned ${received} ${what} for ${images.length} image(s); the spec's ${anchors} anchors and ${classes} classes need ${expected}: the network and the spec belong to different models.`);
    if (boxEncodings.length !== images.length * anchors * 4) throw mismatch('box-encoding numbers', boxEncodings.length, images.length * anchors * 4);
    if (classLogits.length !== images.length * anchors * (classes + 1)) throw mismatch('class logits', classLogits.length, images.length * anchors * (classes + 1));

    const [yScale, xScale, heightScale, widthScale] = this.spec.boxCoderScales;
    return inputs.map((input, i) => {
      const [sx, sy] = input.boxScale;
      const [width, height] = input.imageSize;
      const detections = postprocessSsd(boxEncodings.subarray(i * anchors * 4, (i + 1) * anchors * 4), classLogits.subarray(i * anchors * (classes + 1), (i + 1) * anchors * (classes + 1)), {
        anchorsCxcywh: this.anchorsCxcywh,
        classes,
        imageWidth: sx,
        imageHeight: sy,
        minScore: o.minScore,
        iouThreshold: o.iouThreshold,
        maxDetections: o.maxDetections,
        scoreFunction: this.spec.scoreFunction,
        boxCoder: { yScale, xScale, heightScale, widthScale },
        excludedClasses: this.excludedClasses,
      });
      return detections.map((d) => ({
        boxXyxy: [Math.min(d.boxXyxy[0], width), Math.min(d.boxXyxy[1], height), Math.min(d.boxXyxy[2], width), Math.min(d.boxXyxy[3], height)],
        score: d.score,
        label: d.label,
        labelName: this.spec.labels[d.label] as string,
      }));
    });
  }

  /** Releases the network (its tensors or session). Idempotent; detect() fails afterwards. */
  dispose(): void {
    this.network?.dispose();
    this.network = null;
  }
}
