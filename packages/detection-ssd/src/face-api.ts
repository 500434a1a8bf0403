/**
 * face-api's SSD MobileNetV1 face detector (the TF Object Detection API export shipped in
 * `@vladmandic/face-api` and justadudewhohacks/face-api.js) in our SSD builder, and face-api's own
 * inference pipeline around it (reference: shared/reference/detection.md §4):
 *
 *   model       MobileNetV1 α = 1 at 512 × 512, SSD head with 2 classes (face-api's 3 logits: the
 *               background, the face, an unused third), anchors per location [3, 6, 6, 6, 6, 6] →
 *               5118 anchors on maps 32, 16, 8, 4, 2, 1;
 *   weights     TF-slim names (`MobilenetV1/…`, `Prediction/…`); every batch norm after a full or
 *               pointwise conv is folded into a bias (`convolution_bn_offset`), loaded into our BN
 *               layer as γ = 1, β = offset, mean 0, variance 1 − ε. With ε = 1e-3, float32(1 − ε) +
 *               float32(ε) rounds to exactly 1 in float32, so the layer computes (x − 0) · 1 · rsqrt(1)
 *               + offset = x + offset with no rounding error at all;
 *   anchors     not generated: stored in the weights as `Output/extra_dim` [1, 5118, 4] yxyx;
 *   pipeline    pad to square (zeros at the bottom or right), tf.image.resizeBilinear to 512
 *               (alignCorners false, halfPixelCenters false), x / 127.5 − 1, the model, decode with
 *               scales 10, 10, 5, 5, score = sigmoid(logit 1), greedy NMS (score > minConfidence,
 *               IoU > 0.5 suppresses, at most maxResults), boxes clipped to [0, 1], mapped through
 *               the padding back to the image and scaled to pixels.
 *
 * Only tfjs-core and tfjs-layers: the caller picks the backend and reads the weight files (e.g. with
 * readFaceApiWeights of @mobilenets/runtime) and passes the named tensors in.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadSlimMobileNetV1Weights, mobilenetV1 } from '@mobilenets/backbone';
import { convertBoxes, decodeBoxesTfOrder, nonMaxSuppressionXyxy } from '@mobilenets/box-math';
import { createSsd, type SsdModel } from './ssd-model';

/** The face-api detector's architecture and inference constants. */
export const FACE_API_SSD = {
  inputSize: 512,
  widthMultiplier: 1,
  /** Object classes without the background: face-api's class predictor emits 3 logits an anchor (background, face, unused). */
  classes: 2,
  /** The class whose sigmoid is the face score (index into the logits, background = 0). */
  faceLogit: 1,
  anchorsPerLocation: [3, 6, 6, 6, 6, 6] as readonly number[],
  extraLayerDepths: [512, 256, 256, 128] as readonly number[],
  anchors: 5118,
  /** Batch-norm ε of the folded batch norms (TF's default, also face-api's depthwise BN). */
  batchNormEpsilon: 1e-3,
  boxCoder: { yScale: 10, xScale: 10, heightScale: 5, widthScale: 5 },
  iouThreshold: 0.5,
  minConfidence: 0.5,
  maxResults: 100,
} as const;

/** Builds the face-api detector's architecture (weights fresh: load them with {@link loadFaceApiSsdWeights}). */
export function createFaceApiSsd(): SsdModel {
  const backbone = mobilenetV1({ inputSize: FACE_API_SSD.inputSize, widthMultiplier: FACE_API_SSD.widthMultiplier, includeTop: false });
  return createSsd({
    backbone,
    classes: FACE_API_SSD.classes,
    anchorsPerLocation: FACE_API_SSD.anchorsPerLocation,
    extraLayerDepths: FACE_API_SSD.extraLayerDepths,
  });
}

/** Our layer names for face-api's `Prediction/Conv2d_{k}_pointwise`, k = 0..7 (1×1 then 3×3 stride 2 per extra map). */
export function faceApiExtraLayerNames(extraLayerDepths: readonly number[] = FACE_API_SSD.extraLayerDepths, base = 'Conv2d_13_pointwise'): string[] {
  return extraLayerDepths.flatMap((depth, k) => [`${base}_1_Conv2d_${k + 2}_1x1_${depth / 2}`, `${base}_2_Conv2d_${k + 2}_3x3_s2_${depth}`]);
}

function required(weights: tf.NamedTensorMap, name: string): tf.Tensor {
  const t = weights[name];
  if (t === undefined) throw new RangeError(`loadFaceApiSsdWeights: the weight map has no '${name}' (is this face-api's ssd_mobilenetv1_model?)`);
  return t;
}

/** Sets `layerName`'s weights after checking each shape; `sources` name the tensors for the error message. */
function setLayer(model: tfl.LayersModel, layerName: string, values: tf.Tensor[], sources: string[]): void {
  const layer = model.getLayer(layerName);
  if (layer.weights.length !== values.length) throw new RangeError(`loadFaceApiSsdWeights: layer '${layerName}' has ${layer.weights.length} weights, ${values.length} given (${sources.join(', ')})`);
  layer.weights.forEach((w, i) => {
    const expected = JSON.stringify(w.shape);
    const received = JSON.stringify(values[i].shape);
    if (expected !== received) throw new RangeError(`loadFaceApiSsdWeights: '${sources[i]}' has shape ${received}, layer '${layerName}' weight '${w.originalName}' needs ${expected}`);
  });
  layer.setWeights(values);
}

/**
 * Loads face-api's SSD weights (named tensors, dequantized: tf.io.decodeWeights of its manifest and
 * .bin) into a model built by {@link createFaceApiSsd}, and returns its 5118 anchors, normalised
 * cxcywh (from `Output/extra_dim`, yxyx), in the model's anchor order. Throws a RangeError naming the
 * tensor when one is missing or mis-shaped.
 */
export function loadFaceApiSsdWeights(ssd: SsdModel, weights: tf.NamedTensorMap): Float64Array {
  const { model } = ssd;
  // Check the anchors first: the cheapest sign of a wrong weight map or a wrong model.
  const extraDim = required(weights, 'Output/extra_dim');
  if (extraDim.size !== ssd.anchors * 4 || extraDim.shape[extraDim.shape.length - 1] !== 4) {
    throw new RangeError(`loadFaceApiSsdWeights: 'Output/extra_dim' has shape ${JSON.stringify(extraDim.shape)}, the model has ${ssd.anchors} anchors ([1, ${ssd.anchors}, 4] expected)`);
  }

  // Every head tensor present before any layer changes (the backbone's are checked by its loader).
  const extraLayers = faceApiExtraLayerNames();
  extraLayers.forEach((_name, k) => ['weights', 'convolution_bn_offset'].forEach((w) => required(weights, `Prediction/Conv2d_${k}_pointwise/${w}`)));
  ssd.featureMapSizes.forEach((_size, i) => {
    for (const kind of ['BoxEncodingPredictor', 'ClassPredictor']) for (const w of ['weights', 'biases']) required(weights, `Prediction/BoxPredictor_${i}/${kind}/${w}`);
  });

  const report = loadSlimMobileNetV1Weights(model, weights, 'MobilenetV1');
  if (report.missing.length > 0) throw new RangeError(`loadFaceApiSsdWeights: the weight map has no MobilenetV1 weights for ${report.missing.join(', ')}`);

  const temporaries: tf.Tensor[] = [];
  try {
    extraLayers.forEach((layerName, k) => {
      const scope = `Prediction/Conv2d_${k}_pointwise`;
      const kernel = required(weights, `${scope}/weights`);
      const offset = required(weights, `${scope}/convolution_bn_offset`);
      setLayer(model, layerName, [kernel], [`${scope}/weights`]);
      const channels = offset.shape[0] as number;
      const bn = model.getLayer(`${layerName}_BatchNorm`);
      const epsilon = (bn.getConfig() as { epsilon: number }).epsilon;
      const byName: Record<string, tf.Tensor> = {
        gamma: tf.ones([channels]),
        beta: offset,
        moving_mean: tf.zeros([channels]),
        // float32(1 − ε) + float32(ε) === 1 in float32 for ε = 1e-3: the BN is exactly x + offset.
        moving_variance: tf.fill([channels], 1 - epsilon),
      };
      temporaries.push(byName.gamma, byName.moving_mean, byName.moving_variance);
      const names = bn.weights.map((w) => w.originalName.split('/').pop() as string);
      setLayer(model, `${layerName}_BatchNorm`, names.map((n) => byName[n]), names.map((n) => (n === 'beta' ? `${scope}/convolution_bn_offset` : `${scope} (folded BN ${n})`)));
    });
    ssd.featureMapSizes.forEach((_size, i) => {
      for (const kind of ['BoxEncodingPredictor', 'ClassPredictor']) {
        const scope = `Prediction/BoxPredictor_${i}/${kind}`;
        setLayer(model, `BoxPredictor_${i}_${kind}`, [required(weights, `${scope}/weights`), required(weights, `${scope}/biases`)], [`${scope}/weights`, `${scope}/biases`]);
      }
    });
  } finally {
    tf.dispose(temporaries);
  }
  return convertBoxes(extraDim.dataSync() as Float32Array, 'yxyx', 'cxcywh');
}

/** An RGB image: `pixels` row-major, 3 bytes a pixel. */
export interface RgbImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface FaceApiDetectOptions {
  /** A face needs a score strictly above this. Default 0.5 (face-api's SsdMobilenetv1Options). */
  minConfidence?: number;
  /** At most this many faces. Default 100. */
  maxResults?: number;
}

/** A face in image pixels, as face-api's FaceDetection gives it (`box` and `score`). */
export interface FaceApiDetection {
  box: { x: number; y: number; width: number; height: number };
  score: number;
}

/**
 * face-api's input tensor for an image: pad to square with zeros at the bottom or right, bilinear
 * resize to `inputSize` (alignCorners false, halfPixelCenters false), then x / 127.5 − 1, as
 * [1, inputSize, inputSize, 3] float32.
 */
export function faceApiInputTensor(image: RgbImage, inputSize: number = FACE_API_SSD.inputSize): tf.Tensor4D {
  const { pixels, width, height } = image;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new RangeError(`faceApiInputTensor: width and height must be positive integers. Received ${width} × ${height}.`);
  if (pixels.length !== width * height * 3) throw new RangeError(`faceApiInputTensor: a ${width} × ${height} RGB image has ${width * height * 3} bytes, received ${pixels.length}.`);
  return tf.tidy(() => {
    let x = tf.cast(tf.tensor4d(pixels, [1, height, width, 3], 'int32'), 'float32');
    if (height !== width) {
      const padding: [number, number][] = height > width ? [[0, 0], [0, 0], [0, height - width], [0, 0]] : [[0, 0], [0, width - height], [0, 0], [0, 0]];
      x = tf.pad(x, padding, 0);
    }
    const side = Math.max(width, height);
    if (side !== inputSize) x = tf.image.resizeBilinear(x, [inputSize, inputSize], false, false);
    return tf.sub(tf.div(x, 127.5), 1);
  });
}

/**
 * Faces in `image` the way face-api's `detectAllFaces(tensor, new SsdMobilenetv1Options(…))` finds
 * them, with a detector built by {@link createFaceApiSsd} and loaded by {@link loadFaceApiSsdWeights}
 * (`anchorsCxcywh`: what it returned). Best first.
 */
export async function detectFacesFaceApiStyle(ssd: SsdModel, anchorsCxcywh: ArrayLike<number>, image: RgbImage, options: FaceApiDetectOptions = {}): Promise<FaceApiDetection[]> {
  const { minConfidence = FACE_API_SSD.minConfidence, maxResults = FACE_API_SSD.maxResults } = options;
  if (!(minConfidence > 0 && minConfidence < 1)) throw new RangeError(`detectFacesFaceApiStyle: minConfidence must be in (0, 1). Received ${minConfidence}.`);
  if (!(Number.isInteger(maxResults) && maxResults >= 0)) throw new RangeError(`detectFacesFaceApiStyle: maxResults must be a non-negative integer. Received ${maxResults}.`);
  if (anchorsCxcywh.length !== ssd.anchors * 4) throw new RangeError(`detectFacesFaceApiStyle: the model has ${ssd.anchors} anchors, ${anchorsCxcywh.length / 4} given.`);
  const inputSize = ssd.model.inputs[0].shape[1] as number;
  const input = faceApiInputTensor(image, inputSize);
  const [boxCodes, classLogits] = ssd.model.predict(input) as tf.Tensor[];
  const [codes, logits] = await Promise.all([boxCodes.data(), classLogits.data()]);
  tf.dispose([input, boxCodes, classLogits]);

  const width = ssd.classes + 1;
  const scores = new Float64Array(ssd.anchors);
  for (let a = 0; a < ssd.anchors; a++) scores[a] = 1 / (1 + Math.exp(-logits[a * width + FACE_API_SSD.faceLogit]));
  const boxesXyxy = convertBoxes(decodeBoxesTfOrder(codes, anchorsCxcywh, FACE_API_SSD.boxCoder), 'cxcywh', 'xyxy');
  // face-api's NMS: candidates score > minConfidence, by descending score (stable), suppressed by IoU > 0.5
  // with a kept box (zero-area boxes never overlap), at most maxResults: box-math's semantics exactly.
  const kept = nonMaxSuppressionXyxy(boxesXyxy, scores, { iouThreshold: FACE_API_SSD.iouThreshold, scoreThreshold: minConfidence, maxDetections: maxResults });

  // face-api's locateFaces: clip to [0, 1], undo the padding (padX = inputSize / reshapedWidth), scale to the image.
  const scale = inputSize / Math.max(image.width, image.height);
  const padX = inputSize / Math.round(image.width * scale);
  const padY = inputSize / Math.round(image.height * scale);
  return Array.from(kept, (i) => {
    const o = 4 * i;
    const left = Math.max(0, boxesXyxy[o]) * padX;
    const top = Math.max(0, boxesXyxy[o + 1]) * padY;
    const right = Math.min(1, boxesXyxy[o + 2]) * padX;
    const bottom = Math.min(1, boxesXyxy[o + 3]) * padY;
    return {
      box: { x: left * image.width, y: top * image.height, width: (right - left) * image.width, height: (bottom - top) * image.height },
      score: scores[i],
    };
  });
}
