/**
 * The Faster R-CNN training task for @mobilenets/training's `fit` (TF Object Detection API's
 * faster_rcnn_meta_arch; torchvision's named losses):
 *
 *   prepare   on the host, per image: RPN targets (targets.ts: matcher 0.7 / 0.3 with forced matches,
 *             256 anchors sampled at half positives) and the ground truth padded to the batch's most
 *             objects — all batch-first, so fit can split a batch into micro-batches and worker shards;
 *   loss      first stage in training mode → `rpnObjectness` (softmax cross-entropy of the sampled
 *             anchors) and `rpnBox` (smooth L1 of the sampled positives), each per image over its
 *             sampled anchors; the RPN's outputs (constants here) → proposals (decode, clip, NMS 0.7,
 *             300), with the ground truth added (torchvision does: early on, the RPN proposes nothing
 *             useful) → 64 sampled at a quarter positives (matcher 0.5) → crop-and-resize from the
 *             features (gradient into the backbone) → second stage in training mode → `classifier`
 *             (softmax cross-entropy) and `box` (smooth L1 of the positives' codes of their own class),
 *             over the sampled proposals. Weights: TF's Faster R-CNN configs (objectness 1, RPN box 2,
 *             classifier 1, box 2);
 *   validate  both stages in inference mode (inference.ts), post-processing and COCO box AP.
 *
 * Sampling draws from generators seeded by the batch's own ground truth: a resumed run draws the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { COCO_SUMMARY_NAMES, CocoBoxAccumulator, convertBoxes, type AccumulatedEvaluation, type BoxCoderConfig } from '@mobilenets/box-math';
import { checkDetectionBatch, type DetectionBatch } from '@mobilenets/contracts';
import { hashSeed, mulberry32 } from '@mobilenets/random';
import type { StepBatch, Task, TaskLoss, TrainingData, ValidationResult } from '@mobilenets/training';
import { validationBatches } from '@mobilenets/training';
import { stagesOf } from './faster-rcnn-model';
import { runFasterRcnn } from './inference';
import { postprocessFasterRcnn } from './postprocess';
import { cropProposals } from './roi-crop';
import { rpnProposals, rpnTargets, secondStageTargets, type ProposalOptions } from './targets';

/** COCO summary names, in pycocotools' order, as validation reports them. */
export const FASTER_RCNN_VALIDATION_METRICS = COCO_SUMMARY_NAMES;

export interface FasterRcnnLossWeights {
  rpnObjectness: number;
  rpnBox: number;
  classifier: number;
  box: number;
}

/** TF's faster_rcnn_*_coco configs: first_stage_localization_loss_weight 2, objectness 1; second stage localization 2, classification 1. */
export const FASTER_RCNN_LOSS_WEIGHTS: Readonly<FasterRcnnLossWeights> = { rpnObjectness: 1, rpnBox: 2, classifier: 1, box: 2 };

export interface FasterRcnnTaskOptions {
  /** The first stage's anchors, normalised cxcywh in its output order (fasterRcnnAnchorsCxcywh). */
  anchorsCxcywh: Float64Array | Float32Array | readonly number[];
  classes: number;
  /** The crop side the second stage takes. Default 14. */
  cropSize?: number;
  /** RPN anchors sampled an image. Default 256. */
  rpnBatchSize?: number;
  /** Proposals sampled an image for the second stage. Default 64. */
  secondStageBatchSize?: number;
  /** Proposals in training (before the second stage's sampling) and at validation. Default TF's: pre-NMS 1000, NMS 0.7, 300 kept. */
  proposals?: ProposalOptions;
  lossWeights?: Partial<FasterRcnnLossWeights>;
  boxCoder?: BoxCoderConfig;
  /** Validation: score threshold (low, as for mAP). Default 0.01. */
  minScore?: number;
  /** Validation: per-class NMS IoU. Default 0.6. */
  iouThreshold?: number;
  /** Validation: detections kept an image. Default 100 (COCO's maxDets). */
  maxDetections?: number;
  /** Mixed into the samplers' seeds. Default 0. */
  seed?: number;
}

/** Per category id (class index + 1) AP and AP50, and how many images and detections were evaluated. */
export type FasterRcnnValidationDetails = Omit<AccumulatedEvaluation, 'metrics'>;

function huber(predicted: tf.Tensor, target: tf.Tensor): tf.Tensor {
  const d = tf.abs(tf.sub(predicted, target));
  const m = tf.minimum(d, 1);
  return tf.add(tf.mul(tf.square(m), 0.5), tf.sub(d, m));
}

/** A seed from numbers (quantised to 1e-6), for samplers that must draw the same on a resumed run. */
function seedOf(seed: number, values: ArrayLike<number>, salt: number): number {
  const parts = [seed, salt, values.length];
  const step = Math.max(1, Math.floor(values.length / 64));
  for (let i = 0; i < values.length; i += step) parts.push(Math.round(values[i] * 1e6));
  return hashSeed(...parts);
}

/** The RPN's two losses from its outputs and prepared targets: per image over its sampled anchors, then the mean over images. */
export function rpnLoss(boxEncodings: tf.Tensor, objectnessLogits: tf.Tensor, labels: tf.Tensor, boxTargets: tf.Tensor): { objectness: tf.Scalar; box: tf.Scalar; positives: tf.Scalar } {
  const sampled = tf.cast(tf.greaterEqual(labels, 0), 'float32');
  const positive = tf.cast(tf.greater(labels, 0), 'float32');
  const perImage = tf.maximum(tf.sum(sampled, 1), 1);
  const oneHot = tf.oneHot(tf.cast(positive, 'int32') as tf.Tensor2D, 2);
  const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(objectnessLogits)), -1));
  const objectness = tf.mean(tf.div(tf.sum(tf.mul(crossEntropy, sampled), 1), perImage)) as tf.Scalar;
  const box = tf.mean(tf.div(tf.sum(tf.mul(tf.sum(huber(boxEncodings, boxTargets), -1), positive), 1), perImage)) as tf.Scalar;
  return { objectness, box, positives: tf.div(tf.sum(positive), labels.shape[0]) as tf.Scalar };
}

/** The second stage's two losses over sampled proposals: cross-entropy of all, smooth L1 of the positives' own-class codes; both over the sampled count. */
export function secondStageLoss(classLogits: tf.Tensor, boxEncodings: tf.Tensor, classTargets: tf.Tensor, boxTargets: tf.Tensor, weights: tf.Tensor): { classifier: tf.Scalar; box: tf.Scalar } {
  const classes = boxEncodings.shape[1] as number;
  const count = tf.maximum(tf.sum(weights), 1);
  const oneHot = tf.oneHot(tf.cast(classTargets, 'int32') as tf.Tensor1D, classes + 1);
  const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(classLogits)), -1));
  const classifier = tf.div(tf.sum(tf.mul(crossEntropy, weights)), count) as tf.Scalar;
  // [R, classes]: 1 at the target class of a positive.
  const own = tf.mul(tf.slice(oneHot, [0, 1], [-1, classes]), tf.expandDims(weights, 1));
  const perClass = tf.sum(huber(boxEncodings, tf.expandDims(boxTargets, 1)), -1);
  const box = tf.div(tf.sum(tf.mul(perClass, own)), count) as tf.Scalar;
  return { classifier, box };
}

/** Padding label of the prepared ground truth (and the label of ignored objects, which the second stage does not learn). */
const NO_OBJECT = -1;

/** What the second stage learns from in one step: the sampled proposals, their image, targets and weights. */
export interface SecondStageSamples {
  /** [proposals · 4] normalised xyxy. */
  proposalsXyxy: Float32Array;
  /** The image of each proposal. */
  boxIndex: Int32Array;
  /** 0 background, c + 1 for class c. */
  classTargets: Int32Array;
  /** [proposals · 4] box codes of each proposal's matched object (0 for background). */
  boxTargets: Float32Array;
  /**
   * 1 for a sampled proposal, 0 for a stand-in: every image has exactly `secondStageBatchSize` rows (a fixed
   * shape for compiled steps; the stand-ins, whole-image crops, count in the second stage's batch statistics).
   */
  weights: Float32Array;
  positivesPerImage: number;
}

/**
 * The second stage's sampler of a task (the same options as fasterRcnnTask): from the RPN's outputs of a
 * batch ([n, anchors, 4] codes and [n, anchors, 2] logits, training mode) and the prepared ground truth
 * (`gtBoxes` [n, objects, 4], `gtLabels` [n, objects], −1 padding), the proposals (decode, clip, NMS),
 * with the ground truth added, sampled at a quarter positives. Both engines' training steps use it.
 */
export function secondStageSampler(options: FasterRcnnTaskOptions): (rpnBoxEncodings: ArrayLike<number>, rpnObjectnessLogits: ArrayLike<number>, gtBoxes: ArrayLike<number>, gtLabels: ArrayLike<number>, n: number) => SecondStageSamples {
  const { secondStageBatchSize = 64, proposals = {}, boxCoder = {}, seed = 0 } = options;
  const anchorsCxcywh = Float64Array.from(options.anchorsCxcywh);
  const anchors = anchorsCxcywh.length / 4;
  const proposalOptions: ProposalOptions = { ...proposals, boxCoder };
  return (codes, logits, gtBoxValues, gtLabelValues, n) => {
    const objects = gtLabelValues.length / n;
    if (codes.length !== n * anchors * 4 || logits.length !== n * anchors * 2 || !Number.isInteger(objects) || gtBoxValues.length !== n * objects * 4) {
      throw new RangeError(`Faster R-CNN second-stage sampling: ${n} images of ${anchors} anchors need ${n * anchors * 4} box codes and ${n * anchors * 2} logits, and 4 box numbers a label; received ${codes.length}, ${logits.length}, ${gtBoxValues.length} box numbers and ${gtLabelValues.length} labels.`);
    }
    const random = mulberry32(seedOf(seed, gtBoxValues, 1 + n));
    const boxes: number[] = [];
    const boxIndex: number[] = [];
    const classTargets: number[] = [];
    const boxCodes: number[] = [];
    const weights: number[] = [];
    let positives = 0;
    const slice = (values: ArrayLike<number>, from: number, to: number) => (values instanceof Float32Array ? values.subarray(from, to) : Float32Array.from({ length: to - from }, (_, k) => values[from + k]));
    for (let i = 0; i < n; i++) {
      const gt: number[] = [];
      const gtClass: number[] = [];
      for (let g = 0; g < objects; g++) {
        if (gtLabelValues[i * objects + g] === NO_OBJECT) continue;
        for (let k = 0; k < 4; k++) gt.push(gtBoxValues[(i * objects + g) * 4 + k]);
        gtClass.push(gtLabelValues[i * objects + g]);
      }
      const p = rpnProposals(slice(codes, i * anchors * 4, (i + 1) * anchors * 4), slice(logits, i * anchors * 2, (i + 1) * anchors * 2), anchorsCxcywh, proposalOptions);
      const candidates = [...p.boxesXyxy, ...gt];
      const t = secondStageTargets(candidates, gt, gtClass, { batchSizePerImage: secondStageBatchSize, boxCoder, random });
      for (const j of t.indices) boxes.push(candidates[4 * j], candidates[4 * j + 1], candidates[4 * j + 2], candidates[4 * j + 3]);
      classTargets.push(...t.classTargets);
      boxCodes.push(...t.boxTargets);
      positives += t.positives;
      // Short of candidates, the image's rows are padded as TF pads its proposals: stand-ins of weight 0 (whole-image crops).
      for (let k = 0; k < secondStageBatchSize; k++) {
        boxIndex.push(i);
        weights.push(k < t.indices.length ? 1 : 0);
        if (k >= t.indices.length) {
          boxes.push(0, 0, 1, 1);
          classTargets.push(0);
          boxCodes.push(0, 0, 0, 0);
        }
      }
    }
    return {
      proposalsXyxy: Float32Array.from(boxes), boxIndex: Int32Array.from(boxIndex), classTargets: Int32Array.from(classTargets),
      boxTargets: Float32Array.from(boxCodes), weights: Float32Array.from(weights), positivesPerImage: positives / n,
    };
  };
}

/**
 * The Faster R-CNN task. The model must come from createFasterRcnn (or its JSON): inputs [image, crops],
 * five outputs. Best checkpoint: the highest validation mAP.
 */
export function fasterRcnnTask(options: FasterRcnnTaskOptions): Task<DetectionBatch, FasterRcnnValidationDetails> {
  const { classes, cropSize = 14, rpnBatchSize = 256, proposals = {}, boxCoder = {}, minScore = 0.01, iouThreshold = 0.6, maxDetections = 100, seed = 0 } = options;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`fasterRcnnTask: classes must be an integer ≥ 1. Received ${classes}.`);
  if (options.anchorsCxcywh === undefined || options.anchorsCxcywh.length === 0 || options.anchorsCxcywh.length % 4 !== 0) {
    throw new RangeError(`fasterRcnnTask: anchorsCxcywh must hold 4 numbers an anchor. Received ${options.anchorsCxcywh?.length} numbers.`);
  }
  const weights: FasterRcnnLossWeights = { ...FASTER_RCNN_LOSS_WEIGHTS, ...options.lossWeights };
  for (const [name, w] of Object.entries(weights)) if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`fasterRcnnTask: lossWeights.${name} must be a finite number ≥ 0. Received ${w}.`);
  const anchorsCxcywh = Float64Array.from(options.anchorsCxcywh);
  const anchorsXyxy = convertBoxes(anchorsCxcywh, 'cxcywh', 'xyxy');
  const anchors = anchorsCxcywh.length / 4;
  const proposalOptions: ProposalOptions = { ...proposals, boxCoder };
  const workerOptions = { ...options, anchorsCxcywh: Array.from(anchorsCxcywh) };
  const sample = secondStageSampler(options);

  return {
    name: 'faster-rcnn',
    best: { name: 'mAP', mode: 'max' },
    worker: { module: __filename, factory: 'fasterRcnnTask', options: workerOptions },

    check(model: tfl.LayersModel) {
      const { firstStage } = stagesOf(model);
      const [box, objectness] = firstStage.outputs.map((t) => t.shape);
      const [cls] = model.outputs.slice(3).map((t) => t.shape);
      if (box[1] !== anchors || objectness[1] !== anchors || cls[1] !== classes + 1) {
        throw new RangeError(`fasterRcnnTask: the model has ${box[1]} anchors and ${Number(cls[1]) - 1} classes; the task was made for ${anchors} anchors and ${classes} classes.`);
      }
    },

    prepare(b: DetectionBatch): StepBatch {
      const n = checkDetectionBatch(b, 'fasterRcnnTask.prepare');
      const random = mulberry32(seedOf(seed, b.boxesXyxy.flatMap((x) => Array.from(x)), n));
      const labels = new Int32Array(n * anchors);
      const boxTargets = new Float32Array(n * anchors * 4);
      const objects = Math.max(1, ...b.labels.map((l) => l.length));
      const gtBoxes = new Float32Array(n * objects * 4);
      const gtLabels = new Int32Array(n * objects).fill(NO_OBJECT);
      for (let i = 0; i < n; i++) {
        const t = rpnTargets(b.boxesXyxy[i], b.ignore[i], anchorsXyxy, { batchSizePerImage: rpnBatchSize, boxCoder, random });
        labels.set(t.labels, i * anchors);
        boxTargets.set(t.boxTargets, i * anchors * 4);
        gtBoxes.set(b.boxesXyxy[i], i * objects * 4);
        b.labels[i].forEach((label, g) => {
          if (!(Number.isInteger(label) && label >= 0 && label < classes)) throw new RangeError(`fasterRcnnTask.prepare: image ${i} has label ${label}; labels must be in [0, ${classes}).`);
          gtLabels[i * objects + g] = b.ignore[i][g] ? NO_OBJECT : label;
        });
      }
      return {
        tensors: {
          images: { data: b.images, shape: [...b.shape] },
          rpnLabels: { data: labels, shape: [n, anchors] },
          rpnBoxTargets: { data: boxTargets, shape: [n, anchors, 4] },
          gtBoxes: { data: gtBoxes, shape: [n, objects, 4] },
          gtLabels: { data: gtLabels, shape: [n, objects] },
        },
        examples: n,
      };
    },

    loss(model: tfl.LayersModel, { images, rpnLabels, rpnBoxTargets, gtBoxes, gtLabels }: tf.NamedTensorMap): TaskLoss {
      const { firstStage, secondStage } = stagesOf(model);
      const [rpnBox, rpnObjectness, features] = firstStage.apply(images, { training: true }) as tf.Tensor[];
      const rpn = rpnLoss(rpnBox, rpnObjectness, rpnLabels, rpnBoxTargets);

      // Proposals and their targets on the host; the RPN's outputs are constants for the second stage.
      const r = sample(rpnBox.dataSync(), rpnObjectness.dataSync(), gtBoxes.dataSync(), gtLabels.dataSync(), images.shape[0]);
      const crops = cropProposals(features as tf.Tensor4D, r.proposalsXyxy, r.boxIndex, cropSize);
      const [classLogits, boxEncodings] = secondStage.apply(crops, { training: true }) as tf.Tensor[];
      const second = secondStageLoss(classLogits, boxEncodings, tf.tensor1d(r.classTargets, 'int32'), tf.tensor2d(r.boxTargets, [r.boxIndex.length, 4]), tf.tensor1d(r.weights));
      return {
        losses: {
          rpnObjectness: tf.mul(rpn.objectness, weights.rpnObjectness) as tf.Scalar,
          rpnBox: tf.mul(rpn.box, weights.rpnBox) as tf.Scalar,
          classifier: tf.mul(second.classifier, weights.classifier) as tf.Scalar,
          box: tf.mul(second.box, weights.box) as tf.Scalar,
        },
        metrics: { rpnPositives: rpn.positives, roiPositives: tf.scalar(r.positivesPerImage) },
      };
    },

    async validate(model: tfl.LayersModel, data: TrainingData<DetectionBatch>, options): Promise<ValidationResult<FasterRcnnValidationDetails>> {
      const stages = stagesOf(model);
      const coco = new CocoBoxAccumulator(classes);
      for await (const b of validationBatches(data, options)) {
        const n = checkDetectionBatch(b, 'fasterRcnnTask.validate');
        const outputs = runFasterRcnn(stages, anchorsCxcywh, b.images, b.shape, { ...proposalOptions, cropSize });
        for (let i = 0; i < n; i++) {
          const [w, h] = b.originalSizes?.[i] ?? [b.shape[2], b.shape[1]];
          const id = coco.addImage({ widthPx: w, heightPx: h, boxesXyxy: b.boxesXyxy[i], labels: b.labels[i], ignore: b.ignore[i], areas: b.areas?.[i] });
          const o = outputs[i];
          if (o.classLogits.length > 0) coco.addDetections(id, postprocessFasterRcnn(o.proposalsXyxy, o.classLogits, o.boxCodes, { classes, imageWidth: w, imageHeight: h, minScore, iouThreshold, maxDetections, boxCoder }));
        }
      }
      const { metrics, ...details } = coco.evaluate();
      return { metrics, details };
    },
  };
}
