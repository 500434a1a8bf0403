/**
 * The SSD / SSDLite loss in step-graph form: what `ssdTask` of @mobilenets/detection-ssd computes in
 * tfjs, written into the compiled training step, gradient included.
 *
 *   localization     smooth L1 (Huber, δ = 1) summed over the 4 codes of the positive anchors
 *                    (class target > 0); its gradient is the difference clipped to [−1, 1];
 *   classification   cross-entropy (softmax over background + classes, or the sum of sigmoid binary
 *                    cross-entropies) of the positives and of the hardest negatives (target 0): per
 *                    image the negatives of highest loss, at most ⌊ratio · that image's positives⌋ —
 *                    ranked by TopK, ties to the lower anchor index as tfjs' topk breaks them; the
 *                    selection is a constant for the gradient, as in tfjs;
 *   both             divided by the batch's positives (at least 1) and weighted. Anchors whose target
 *                    is −1 (ignored) are neither positives nor negatives.
 *
 * Batch tensors: `images` (the model's input), `boxTargets` [batch, anchors, 4] float32 and
 * `classTargets` [batch, anchors] int32 (0 background, c + 1 for class c, −1 ignored) — ssdTask's
 * `prepare`. Model outputs: box encodings [batch, anchors, 4] and class logits [batch, anchors, classes + 1].
 */
import type { StepLoss } from './losses';

export interface SsdStepLossOptions {
  /** Hard negatives kept per positive, per image. Default 3. */
  negativesPerPositive?: number;
  /** 'softmax' (default) or 'sigmoid', as ssdTask's scoreFunction. */
  scoreFunction?: 'softmax' | 'sigmoid';
  /** Weight of the localization part. Default 1. */
  localizationWeight?: number;
  /** Weight of the classification part. Default 1. */
  classificationWeight?: number;
}

export function ssdStepLoss(options: SsdStepLossOptions = {}): StepLoss {
  const { negativesPerPositive = 3, scoreFunction = 'softmax', localizationWeight = 1, classificationWeight = 1 } = options;
  if (!(negativesPerPositive >= 0 && Number.isFinite(negativesPerPositive))) throw new RangeError(`ssdStepLoss: negativesPerPositive must be a finite number ≥ 0. Received ${negativesPerPositive}.`);
  if (scoreFunction !== 'softmax' && scoreFunction !== 'sigmoid') throw new RangeError(`ssdStepLoss: scoreFunction must be 'softmax' or 'sigmoid'. Received '${String(scoreFunction)}'.`);
  for (const [name, w] of [['localizationWeight', localizationWeight], ['classificationWeight', classificationWeight]] as const) {
    if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`ssdStepLoss: ${name} must be a finite number ≥ 0. Received ${w}.`);
  }
  return {
    modelInputs: ['images'],
    targets: { boxTargets: 'float32', classTargets: 'int32' },
    emit(ops, outputs, targets, examples) {
      const [boxes, logits] = outputs;
      if (outputs.length !== 2 || boxes.shape.length !== 3 || boxes.shape[2] !== 4 || logits.shape.length !== 3 || logits.shape[1] !== boxes.shape[1]) {
        throw new RangeError(`ssdStepLoss: the model must have two outputs, box encodings [batch, anchors, 4] and class logits [batch, anchors, classes + 1]; it has ${outputs.map((o) => `[${o.shape}]`).join(', ')}.`);
      }
      const [, anchors, width] = logits.shape;
      const classTargets = ops.node('Cast', [targets.classTargets.name], 'class_targets_f', { to: { int: 1 } });
      const isPositive = ops.node('Greater', [classTargets, ops.float(0)], 'is_positive');
      const isNegative = ops.node('Equal', [classTargets, ops.float(0)], 'is_negative');
      const positive = ops.node('Cast', [isPositive], 'positive', { to: { int: 1 } });
      const negative = ops.node('Cast', [isNegative], 'negative', { to: { int: 1 } });
      const positives = ops.reduceSum(positive, [0, 1], 'positives');
      const normaliser = ops.node('Max', [positives, ops.float(1)], 'normaliser');
      const unsqueeze = (x: string, name: string) => ops.reshape(x, [examples, anchors, 1], name);

      // Localization: Σ over positives and codes of huber(d), d = prediction − target.
      const d = ops.sub(boxes.name, targets.boxTargets.name, 'box_diff');
      const absD = ops.node('Abs', [d], 'box_abs');
      const small = ops.node('Min', [absD, ops.float(1)], 'box_small');
      const huber = ops.add(ops.scale(ops.mul(small, small, 'box_small_sq'), 0.5, 'box_quadratic'), ops.sub(absD, small, 'box_linear'), 'box_huber');
      const perAnchorHuber = ops.reduceSum(huber, [2], 'box_huber_anchor');
      const localizationSum = ops.reduceSum(ops.mul(perAnchorHuber, positive, 'box_huber_pos'), [0, 1], 'localization_sum');
      const localizationScale = ops.div(ops.float(localizationWeight), normaliser, 'localization_scale');
      const localization = ops.mul(localizationSum, localizationScale, 'localization');
      const dBoxes = ops.mul(ops.mul(ops.node('Clip', [d, ops.float(-1), ops.float(1)], 'box_clipped'), unsqueeze(positive, 'positive_3d'), 'box_grad_pos'), localizationScale, 'd_box_encodings');

      // Per-anchor classification loss against the one-hot target (ignored anchors take class 0; masked later).
      const classIds = ops.graph.addFloatInitializer('class_ids', Float32Array.from({ length: width }, (_, i) => i), [1, 1, width]);
      const oneHot = ops.node('Cast', [ops.node('Equal', [unsqueeze(ops.node('Max', [classTargets, ops.float(0)], 'class_targets_0'), 'class_targets_3d'), classIds], 'one_hot_bool')], 'one_hot', { to: { int: 1 } });
      let perAnchor: string;
      let dLogitsRaw: string;
      if (scoreFunction === 'softmax') {
        const logSoftmax = ops.node('LogSoftmax', [logits.name], 'log_softmax', { axis: { int: 2 } });
        perAnchor = ops.scale(ops.reduceSum(ops.mul(oneHot, logSoftmax, 'target_log_p'), [2], 'target_log_p_sum'), -1, 'class_loss_anchor');
        dLogitsRaw = ops.sub(ops.node('Exp', [logSoftmax], 'softmax'), oneHot, 'softmax_minus_target');
      } else {
        // max(x, 0) − x·z + log(1 + e^−|x|), summed over the columns; gradient σ(x) − z.
        const x = logits.name;
        const softplus = ops.node('Softplus', [ops.scale(ops.node('Abs', [x], 'logits_abs'), -1, 'logits_neg_abs')], 'logits_softplus');
        const elementwise = ops.add(ops.sub(ops.node('Relu', [x], 'logits_relu'), ops.mul(x, oneHot, 'logits_target'), 'bce_linear'), softplus, 'bce');
        perAnchor = ops.reduceSum(elementwise, [2], 'class_loss_anchor');
        dLogitsRaw = ops.sub(ops.node('Sigmoid', [x], 'sigmoid'), oneHot, 'sigmoid_minus_target');
      }

      // Hard negatives: each anchor's rank by loss among its image's negatives (the others last), kept
      // while the rank is below min(⌊ratio · positives⌋, negatives) of that image.
      const candidates = ops.node('Where', [isNegative, perAnchor, ops.float(-Infinity)], 'negative_losses');
      const [, order] = ops.graph.addNode('TopK', [candidates, ops.int64s([anchors])], 'negatives_sorted', { axis: { int: 1 }, largest: { int: 1 }, sorted: { int: 1 } }, 2);
      const positions = ops.graph.addFloatInitializer('anchor_positions', Float32Array.from({ length: examples * anchors }, (_, i) => i % anchors), [examples, anchors]);
      const rank = ops.node('ScatterElements', [ops.float(0, [examples, anchors]), order, positions], 'negative_rank', { axis: { int: 1 } });
      const keep = ops.node('Min', [
        ops.node('Floor', [ops.scale(ops.reduceSum(positive, [1], 'positives_image', true), negativesPerPositive, 'negatives_wanted')], 'negatives_wanted_int'),
        ops.reduceSum(negative, [1], 'negatives_image', true),
      ], 'negatives_kept');
      const hard = ops.node('Cast', [ops.node('And', [isNegative, ops.node('Less', [rank, keep], 'rank_kept')], 'hard_bool')], 'hard_negatives', { to: { int: 1 } });
      const selected = ops.add(positive, hard, 'class_selected');
      const classificationScale = ops.div(ops.float(classificationWeight), normaliser, 'classification_scale');
      const classification = ops.mul(ops.reduceSum(ops.mul(perAnchor, selected, 'class_loss_selected'), [0, 1], 'classification_sum'), classificationScale, 'classification');
      const dLogits = ops.mul(ops.mul(dLogitsRaw, unsqueeze(selected, 'class_selected_3d'), 'class_grad_selected'), classificationScale, 'd_class_logits');

      return {
        losses: { localization, classification },
        metrics: {
          positives: ops.scale(positives, 1 / examples, 'positives_per_image'),
          negatives: ops.scale(ops.reduceSum(hard, [0, 1], 'hard_sum'), 1 / examples, 'negatives_per_image'),
        },
        outputGradients: [dBoxes, dLogits],
      };
    },
  };
}
