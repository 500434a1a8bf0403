/**
 * The SSD / SSDLite training task for @mobilenets/training's `fit` (issue 12), as the TF Object
 * Detection API trains `ssd_mobilenet_v1` and torchvision trains SSDLite (shared/reference/detection.md
 * §1.11–1.13, §2.6):
 *
 *   prepare    on the host with box-math, per image: IoU(ground truth, anchors) → argmax matcher
 *              (matched 0.5, unmatched 0.5, each ground truth forced onto its best anchor) → box targets
 *              [B, N, 4] (TF box coder, scales 10, 10, 5, 5) and class targets [B, N] (0 background,
 *              c + 1 object c, −1 ignored), all batch-first so that fit can split a batch;
 *   loss       forward in training mode; `localization`: smooth L1 (Huber, δ = 1) summed over the 4
 *              codes of the positives; `classification`: cross-entropy of the positives and of the
 *              hardest negatives, at most `negativesPerPositive` (3) a positive per image (SSD paper,
 *              TF HardExampleMiner with num_hard_examples None and iou_threshold 1, torchvision's
 *              neg_to_pos_ratio); both divided by the batch's positives (at least 1);
 *   validate   post-processing (postprocess.ts) and COCO box AP (box-math's evaluateCocoBoxes).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  argmaxMatchGtByAnchor,
  convertBoxes,
  COCO_SUMMARY_NAMES,
  CocoBoxAccumulator,
  encodeBoxesTfOrder,
  iouMatrixXyxy,
  type AccumulatedEvaluation,
  type BoxCoderConfig,
} from '@mobilenets/box-math';
import { checkDetectionBatch, type DetectionBatch } from '@mobilenets/contracts';
import type { StepBatch, Task, TaskLoss, TrainingData, ValidationResult } from '@mobilenets/training';
import { predictOutputs, validationBatches } from '@mobilenets/training';
import { postprocessSsd, type ScoreFunction } from './postprocess';

/** Options of {@link ssdTask}. Everything but the anchors has TF's / torchvision's SSD default. */
export interface SsdTaskOptions {
  /** The model's anchors, normalised cxcywh in its output order (box-math's ssdAnchorsCxcywh of its featureMapSizes). */
  anchorsCxcywh: Float64Array | Float32Array | readonly number[];
  /** Object classes, without the background (the model's class logits have classes + 1). */
  classes: number;
  /** An anchor whose best IoU with a ground truth is at least this is a positive. Default 0.5. */
  matchedThreshold?: number;
  /** Below this an anchor is a negative; in between, ignored. Default 0.5 (no ignored band, as TF's SSD configs). */
  unmatchedThreshold?: number;
  /** Each ground truth also takes its best anchor whatever its IoU (TF force_match_for_each_row, torchvision's SSDMatcher). Default true. */
  forceMatch?: boolean;
  /** Hard negatives kept per positive, per image. Default 3. */
  negativesPerPositive?: number;
  /**
   * How class logits become a loss (and scores at validation): 'softmax' — cross-entropy over the
   * background and the classes (torchvision SSD/SSDLite, the SSD paper) — or 'sigmoid' — independent
   * binary cross-entropies over the classes + 1 one-hot columns, summed (TF's ssd_mobilenet_v1 config,
   * WeightedSigmoidClassificationLoss). Default 'softmax', as torchvision's SSD/SSDLite recipe and the
   * SSD paper train: with hard negative mining only the mined anchors carry a loss, and softmax ties the
   * background to every class, so one mined negative pushes all its class scores down at once. The
   * overfit test of task.test.ts does not separate them (both: AP50 1.0, mAP 0.86 after 20 steps), so
   * the default follows the training recipe; pass 'sigmoid' to fine-tune TF checkpoints (coco-ssd,
   * face-api), whose logits were trained with it (and post-process with the same function).
   */
  scoreFunction?: ScoreFunction;
  /** Weight of the localization part. Default 1 (TF config, torchvision). */
  localizationWeight?: number;
  /** Weight of the classification part. Default 1. */
  classificationWeight?: number;
  /** Box coder scales. Default TF's 10, 10, 5, 5. */
  boxCoder?: BoxCoderConfig;
  /** Validation: detections need a score above this. Default 0.01 (low, as for mAP; torchvision SSD's score_thresh). */
  minScore?: number;
  /** Validation: NMS IoU threshold. Default 0.6 (TF's SSD configs). */
  iouThreshold?: number;
  /** Validation: detections kept per image. Default 100 (COCO's maxDets). */
  maxDetections?: number;
}

/** What validation adds to the metrics: the evaluator's per-category summary, by category id (label + 1). */
/** Per category id (class index + 1) AP and AP50, and how many images and detections were evaluated. */
export type SsdValidationDetails = Omit<AccumulatedEvaluation, 'metrics'>;

/** COCO summary names, in pycocotools' order, as validation reports them. */
export const SSD_VALIDATION_METRICS = COCO_SUMMARY_NAMES;

/** Class target of an anchor that is neither positive nor negative. */
export const SSD_IGNORED_TARGET = -1;

/** Per-image matching result of {@link ssdTargets}. */
export interface SsdTargets {
  /** [anchors, 4] codes (TF order) of the matched ground truth for positives, 0 elsewhere. */
  boxTargets: Float32Array;
  /** [anchors]: 0 background, c + 1 for class c, −1 ignored. */
  classTargets: Int32Array;
  positives: number;
}

function checkOptions(options: SsdTaskOptions): Required<Omit<SsdTaskOptions, 'boxCoder'>> & { boxCoder: BoxCoderConfig } {
  const {
    anchorsCxcywh,
    classes,
    matchedThreshold = 0.5,
    unmatchedThreshold = matchedThreshold,
    forceMatch = true,
    negativesPerPositive = 3,
    scoreFunction = 'softmax',
    localizationWeight = 1,
    classificationWeight = 1,
    boxCoder = {},
    minScore = 0.01,
    iouThreshold = 0.6,
    maxDetections = 100,
  } = options;
  if (anchorsCxcywh === undefined || anchorsCxcywh.length === 0 || anchorsCxcywh.length % 4 !== 0) {
    throw new RangeError(`ssdTask: anchorsCxcywh must hold 4 numbers an anchor (normalised cxcywh). Received ${anchorsCxcywh?.length} numbers.`);
  }
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`ssdTask: classes must be an integer ≥ 1 (object classes, without the background). Received ${classes}.`);
  if (!(matchedThreshold > 0 && matchedThreshold <= 1)) throw new RangeError(`ssdTask: matchedThreshold must be in (0, 1]. Received ${matchedThreshold}.`);
  if (!(unmatchedThreshold >= 0 && unmatchedThreshold <= matchedThreshold)) throw new RangeError(`ssdTask: unmatchedThreshold must be in [0, matchedThreshold]. Received ${unmatchedThreshold}.`);
  if (!(negativesPerPositive >= 0 && Number.isFinite(negativesPerPositive))) throw new RangeError(`ssdTask: negativesPerPositive must be a finite number ≥ 0. Received ${negativesPerPositive}.`);
  if (scoreFunction !== 'softmax' && scoreFunction !== 'sigmoid') throw new RangeError(`ssdTask: scoreFunction must be 'softmax' or 'sigmoid'. Received '${String(scoreFunction)}'.`);
  for (const [name, w] of [['localizationWeight', localizationWeight], ['classificationWeight', classificationWeight]] as const) {
    if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`ssdTask: ${name} must be a finite number ≥ 0. Received ${w}.`);
  }
  return { anchorsCxcywh, classes, matchedThreshold, unmatchedThreshold, forceMatch, negativesPerPositive, scoreFunction, localizationWeight, classificationWeight, boxCoder, minScore, iouThreshold, maxDetections };
}

/**
 * The targets of one image: matches its ground truth (normalised xyxy, 4 numbers a box) to the anchors
 * and encodes them. Anchors matched to an ignored ground truth (crowd, difficult) are ignored (−1),
 * neither positives nor negatives: the ignored boxes take part in the matching, so an anchor on a crowd
 * does not become a negative either (TF gives such matches a zero weight).
 */
export function ssdTargets(
  boxesXyxy: ArrayLike<number>,
  labels: ArrayLike<number>,
  ignore: ArrayLike<number> | undefined,
  anchorsCxcywh: ArrayLike<number>,
  options: { matchedThreshold?: number; unmatchedThreshold?: number; forceMatch?: boolean; boxCoder?: BoxCoderConfig; anchorsXyxy?: ArrayLike<number> } = {},
): SsdTargets {
  const { matchedThreshold = 0.5, unmatchedThreshold = matchedThreshold, forceMatch = true, boxCoder = {} } = options;
  const anchors = anchorsCxcywh.length / 4;
  const gts = labels.length;
  if (boxesXyxy.length !== 4 * gts) throw new RangeError(`ssdTargets: ${gts} labels need ${4 * gts} box numbers, received ${boxesXyxy.length}.`);
  if (ignore !== undefined && ignore.length !== gts) throw new RangeError(`ssdTargets: ${gts} labels need ${gts} ignore flags, received ${ignore.length}.`);
  const boxTargets = new Float32Array(anchors * 4);
  const classTargets = new Int32Array(anchors);
  if (gts === 0) return { boxTargets, classTargets, positives: 0 };
  const anchorsXyxy = options.anchorsXyxy ?? convertBoxes(anchorsCxcywh, 'cxcywh', 'xyxy');
  const iou = iouMatrixXyxy(boxesXyxy, anchorsXyxy);
  const matches = argmaxMatchGtByAnchor(iou, gts, anchors, { matchedThreshold, unmatchedThreshold, forceMatchForEachRow: forceMatch });
  const positive: number[] = [];
  for (let a = 0; a < anchors; a++) {
    const g = matches[a];
    if (g >= 0 && !ignore?.[g]) {
      classTargets[a] = labels[g] + 1;
      positive.push(a);
    } else if (g !== -1) {
      classTargets[a] = SSD_IGNORED_TARGET; // IGNORED (−2) by the matcher, or matched to an ignored box
    }
  }
  if (positive.length > 0) {
    const matchedXyxy = new Float64Array(4 * positive.length);
    const matchedAnchors = new Float64Array(4 * positive.length);
    positive.forEach((a, i) => {
      const g = matches[a];
      for (let k = 0; k < 4; k++) {
        matchedXyxy[4 * i + k] = boxesXyxy[4 * g + k];
        matchedAnchors[4 * i + k] = anchorsCxcywh[4 * a + k];
      }
    });
    const codes = encodeBoxesTfOrder(convertBoxes(matchedXyxy, 'xyxy', 'cxcywh'), matchedAnchors, boxCoder);
    positive.forEach((a, i) => boxTargets.set(codes.subarray(4 * i, 4 * i + 4), 4 * a));
  }
  return { boxTargets, classTargets, positives: positive.length };
}

/** Smooth L1 (Huber, δ = 1) of each element, ½d² below 1 and d − ½ above, written without a comparison (which has no gradient in tfjs). */
function huber(predicted: tf.Tensor, target: tf.Tensor): tf.Tensor {
  const d = tf.abs(tf.sub(predicted, target));
  const m = tf.minimum(d, 1);
  return tf.add(tf.mul(tf.square(m), 0.5), tf.sub(d, m));
}

/** Per-anchor classification loss [B, N] for targets ≥ 0 (ignored anchors get class 0; they are masked out later). */
function classificationLossPerAnchor(logits: tf.Tensor, targets: tf.Tensor, width: number, scoreFunction: ScoreFunction): tf.Tensor {
  const oneHot = tf.oneHot(tf.cast(tf.maximum(targets, 0), 'int32') as tf.Tensor2D, width);
  if (scoreFunction === 'softmax') return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1));
  // sigmoid_cross_entropy_with_logits, summed over the classes + 1 columns: max(x, 0) − x·z + log(1 + e^−|x|).
  return tf.sum(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, oneHot)), tf.softplus(tf.neg(tf.abs(logits)))), -1);
}

/**
 * Hard negatives [B, N] (1 for a kept negative): per image the negatives (target 0) with the highest
 * loss, at most `ratio` a positive of that image. A custom gradient of zero makes the selection a
 * constant for tf.variableGrads (topk and the comparisons have no gradients).
 */
const hardNegativeMask = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [losses, targets, ratio] = args as tf.Tensor[];
  const value = tf.tidy(() => {
    const anchors = losses.shape[1] as number;
    const negative = tf.equal(targets, 0);
    const positives = tf.sum(tf.cast(tf.greater(targets, 0), 'float32'), -1, true);
    const negatives = tf.sum(tf.cast(negative, 'float32'), -1, true);
    const keep = tf.minimum(tf.floor(tf.mul(positives, ratio)), negatives);
    // Rank of each anchor by loss among the negatives (non-negatives last): the inverse of the sort permutation.
    const candidates = tf.where(negative, losses, tf.fill(losses.shape, -Infinity));
    const order = tf.topk(candidates, anchors).indices;
    const rank = tf.topk(tf.neg(tf.cast(order, 'float32')), anchors).indices;
    return tf.cast(tf.logicalAnd(negative, tf.less(tf.cast(rank, 'float32'), keep)), 'float32');
  });
  return { value, gradFunc: () => [tf.zerosLike(losses), tf.zerosLike(targets), tf.zerosLike(ratio)] };
});

/**
 * The SSD loss of raw outputs against prepared targets (exported for tests and custom loops): named
 * parts `localization` and `classification`, each divided by the batch's positives (at least 1) and
 * weighted; metrics `positives` and `negatives` (kept hard negatives), per image.
 */
export function ssdLoss(
  boxEncodings: tf.Tensor,
  classLogits: tf.Tensor,
  boxTargets: tf.Tensor,
  classTargets: tf.Tensor,
  options: { negativesPerPositive?: number; scoreFunction?: ScoreFunction; localizationWeight?: number; classificationWeight?: number } = {},
): TaskLoss {
  const { negativesPerPositive = 3, scoreFunction = 'softmax', localizationWeight = 1, classificationWeight = 1 } = options;
  const images = classTargets.shape[0];
  const positive = tf.cast(tf.greater(classTargets, 0), 'float32');
  const positives = tf.sum(positive);
  const normaliser = tf.maximum(positives, 1);
  const localization = tf.sum(tf.mul(tf.sum(huber(boxEncodings, boxTargets), -1), positive));
  const perAnchor = classificationLossPerAnchor(classLogits, classTargets, classLogits.shape[2] as number, scoreFunction);
  const hard = hardNegativeMask(perAnchor, classTargets, tf.scalar(negativesPerPositive));
  const classification = tf.sum(tf.mul(perAnchor, tf.add(positive, hard)));
  return {
    losses: {
      localization: tf.mul(tf.div(localization, normaliser), localizationWeight) as tf.Scalar,
      classification: tf.mul(tf.div(classification, normaliser), classificationWeight) as tf.Scalar,
    },
    metrics: { positives: tf.div(positives, images) as tf.Scalar, negatives: tf.div(tf.sum(hard), images) as tf.Scalar },
  };
}

/**
 * The SSD training task. `options.anchorsCxcywh` must be the model's anchors in its output order, e.g.
 * `ssdAnchorsCxcywh(ssd.featureMapSizes)`. Best checkpoint: the highest validation `mAP` (COCO AP@[.5:.95]).
 *
 * Micro-batches (fit's `accumulate`) and data-parallel shards each normalise by their own positives,
 * so their averaged gradient differs slightly from the whole batch's when positives are unevenly spread.
 */
export function ssdTask(options: SsdTaskOptions): Task<DetectionBatch, SsdValidationDetails> {
  const o = checkOptions(options);
  const anchorsCxcywh = Float64Array.from(o.anchorsCxcywh);
  const anchorsXyxy = convertBoxes(anchorsCxcywh, 'cxcywh', 'xyxy');
  const anchors = anchorsCxcywh.length / 4;
  const width = o.classes + 1;
  const workerOptions: Record<string, unknown> = { ...o, anchorsCxcywh: Array.from(anchorsCxcywh) };

  return {
    name: 'ssd',
    best: { name: 'mAP', mode: 'max' },
    worker: { module: __filename, factory: 'ssdTask', options: workerOptions },

    check(model: tfl.LayersModel) {
      const shapes = model.outputs.map((t) => t.shape);
      if (shapes.length !== 2 || shapes[0][1] !== anchors || shapes[0][2] !== 4 || shapes[1][1] !== anchors || shapes[1][2] !== width) {
        throw new RangeError(`ssdTask: the model's outputs must be [boxEncodings [batch, ${anchors}, 4], classLogits [batch, ${anchors}, ${width}]] (${anchors} anchors, ${o.classes} classes + background). Received ${JSON.stringify(shapes)}.`);
      }
    },

    prepare(b: DetectionBatch): StepBatch {
      const n = checkDetectionBatch(b, 'ssdTask.prepare');
      const boxTargets = new Float32Array(n * anchors * 4);
      const classTargets = new Int32Array(n * anchors);
      for (let i = 0; i < n; i++) {
        const t = ssdTargets(b.boxesXyxy[i], b.labels[i], b.ignore[i], anchorsCxcywh, { ...o, anchorsXyxy });
        boxTargets.set(t.boxTargets, i * anchors * 4);
        classTargets.set(t.classTargets, i * anchors);
        for (const label of b.labels[i]) {
          if (!(Number.isInteger(label) && label >= 0 && label < o.classes)) throw new RangeError(`ssdTask.prepare: image ${i} has label ${label}; labels must be in [0, ${o.classes}).`);
        }
      }
      return {
        tensors: {
          images: { data: b.images, shape: [...b.shape] },
          boxTargets: { data: boxTargets, shape: [n, anchors, 4] },
          classTargets: { data: classTargets, shape: [n, anchors] },
        },
        examples: n,
      };
    },

    loss(model: tfl.LayersModel, { images, boxTargets, classTargets }: tf.NamedTensorMap): TaskLoss {
      const [boxEncodings, classLogits] = model.apply(images, { training: true }) as tf.Tensor[];
      return ssdLoss(boxEncodings, classLogits, boxTargets, classTargets, o);
    },

    async validate(model: tfl.LayersModel, data: TrainingData<DetectionBatch>, options): Promise<ValidationResult<SsdValidationDetails>> {
      const coco = new CocoBoxAccumulator(o.classes);
      for await (const b of validationBatches(data, options)) {
        const n = checkDetectionBatch(b, 'ssdTask.validate');
        const [codes, logits] = await predictOutputs(model, b.images, b.shape, options.predict);
        for (let i = 0; i < n; i++) {
          const [w, h] = b.originalSizes?.[i] ?? [b.shape[2], b.shape[1]];
          // The data's own areas (COCO `area`) where the batch carries them, as pycocotools reads the size ranges.
          const id = coco.addImage({ widthPx: w, heightPx: h, boxesXyxy: b.boxesXyxy[i], labels: b.labels[i], ignore: b.ignore[i], areas: b.areas?.[i] });
          coco.addDetections(id, postprocessSsd(codes.subarray(i * anchors * 4, (i + 1) * anchors * 4), logits.subarray(i * anchors * width, (i + 1) * anchors * width), {
            anchorsCxcywh,
            classes: o.classes,
            imageWidth: w,
            imageHeight: h,
            minScore: o.minScore,
            iouThreshold: o.iouThreshold,
            maxDetections: o.maxDetections,
            scoreFunction: o.scoreFunction,
            boxCoder: o.boxCoder,
          }));
        }
      }
      const { metrics, ...details } = coco.evaluate();
      return { metrics, details };
    },
  };
}
