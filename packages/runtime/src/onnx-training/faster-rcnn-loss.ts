/**
 * The Faster R-CNN second stage's loss in step-graph form: what `fasterRcnnTask` of
 * @mobilenets/detection-faster-rcnn computes in tfjs over the sampled proposals, gradient included.
 *
 *   classifier   softmax cross-entropy over background + classes of every sampled proposal;
 *   box          smooth L1 (Huber, δ = 1) summed over the 4 codes a positive predicts for its own class;
 *   both         weighted by the proposal's weight (1, or 0 for the stand-in crop of a step that sampled
 *                nothing), divided by the weights' sum (at least 1), and scaled by the part's weight.
 *
 * The model is the second stage: input the crops [proposals, size, size, C], outputs class logits
 * [proposals, classes + 1] and box encodings [proposals, classes, 4]. Batch tensors: `roiClassTargets`
 * [proposals] int32 (0 background, c + 1 for class c), `roiBoxTargets` [proposals, 4], `roiWeights` [proposals].
 */
import type { StepLoss } from './losses';

export interface FasterRcnnSecondStageLossOptions {
  /** Weight of the classifier part. Default 1 (TF's configs). */
  classifierWeight?: number;
  /** Weight of the box part. Default 2 (TF's configs). */
  boxWeight?: number;
}

export function fasterRcnnSecondStageLoss(options: FasterRcnnSecondStageLossOptions = {}): StepLoss {
  const { classifierWeight = 1, boxWeight = 2 } = options;
  for (const [name, w] of [['classifierWeight', classifierWeight], ['boxWeight', boxWeight]] as const) {
    if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`fasterRcnnSecondStageLoss: ${name} must be a finite number ≥ 0. Received ${w}.`);
  }
  return {
    modelInputs: ['crops'],
    targets: { roiClassTargets: 'int32', roiBoxTargets: 'float32', roiWeights: 'float32' },
    emit(ops, outputs, targets, proposals) {
      const [logits, boxes] = outputs;
      if (outputs.length !== 2 || logits.shape.length !== 2 || boxes.shape.length !== 3 || boxes.shape[2] !== 4 || logits.shape[1] !== boxes.shape[1] + 1) {
        throw new RangeError(`fasterRcnnSecondStageLoss: the model must have two outputs, class logits [proposals, classes + 1] and box encodings [proposals, classes, 4]; it has ${outputs.map((o) => `[${o.shape}]`).join(', ')}.`);
      }
      const classes = boxes.shape[1];
      const weights = targets.roiWeights.name;
      const count = ops.node('Max', [ops.reduceSum(weights, [0], 'roi_weight_sum'), ops.float(1)], 'roi_count');
      const weightColumn = ops.reshape(weights, [proposals, 1], 'roi_weights_col');

      // Classifier: −Σ one-hot · log softmax, per proposal.
      const classIds = ops.graph.addFloatInitializer('roi_class_ids', Float32Array.from({ length: classes + 1 }, (_, i) => i), [1, classes + 1]);
      const targetColumn = ops.reshape(ops.node('Cast', [targets.roiClassTargets.name], 'roi_class_targets_f', { to: { int: 1 } }), [proposals, 1], 'roi_class_targets_col');
      const oneHot = ops.node('Cast', [ops.node('Equal', [targetColumn, classIds], 'roi_one_hot_bool')], 'roi_one_hot', { to: { int: 1 } });
      const logSoftmax = ops.node('LogSoftmax', [logits.name], 'roi_log_softmax', { axis: { int: 1 } });
      const crossEntropy = ops.scale(ops.reduceSum(ops.mul(oneHot, logSoftmax, 'roi_target_log_p'), [1], 'roi_target_log_p_sum'), -1, 'roi_cross_entropy');
      const classifierScale = ops.div(ops.float(classifierWeight), count, 'classifier_scale');
      const classifier = ops.mul(ops.reduceSum(ops.mul(crossEntropy, weights, 'roi_ce_weighted'), [0], 'classifier_sum'), classifierScale, 'classifier');
      const dLogits = ops.mul(ops.mul(ops.sub(ops.node('Exp', [logSoftmax], 'roi_softmax'), oneHot, 'roi_softmax_minus_target'), weightColumn, 'roi_dlogits_weighted'), classifierScale, 'd_class_logits');

      // Box: the positives' codes of their own class ([proposals, classes]: 1 at a positive's class, times its weight).
      const own = ops.mul(ops.node('Slice', [oneHot, ops.int64s([1]), ops.int64s([classes + 1]), ops.int64s([1])], 'roi_own_class'), weightColumn, 'roi_own');
      const d = ops.sub(boxes.name, ops.reshape(targets.roiBoxTargets.name, [proposals, 1, 4], 'roi_box_targets_3d'), 'roi_box_diff');
      const absD = ops.node('Abs', [d], 'roi_box_abs');
      const small = ops.node('Min', [absD, ops.float(1)], 'roi_box_small');
      const huber = ops.add(ops.scale(ops.mul(small, small, 'roi_box_small_sq'), 0.5, 'roi_box_quadratic'), ops.sub(absD, small, 'roi_box_linear'), 'roi_box_huber');
      const boxScale = ops.div(ops.float(boxWeight), count, 'box_scale');
      const box = ops.mul(ops.reduceSum(ops.mul(ops.reduceSum(huber, [2], 'roi_box_huber_class'), own, 'roi_box_huber_own'), [0, 1], 'box_sum'), boxScale, 'box');
      const dBoxes = ops.mul(ops.mul(ops.node('Clip', [d, ops.float(-1), ops.float(1)], 'roi_box_clipped'), ops.reshape(own, [proposals, classes, 1], 'roi_own_3d'), 'roi_box_grad_own'), boxScale, 'd_box_encodings');

      return { losses: { classifier, box }, metrics: {}, outputGradients: [dLogits, dBoxes] };
    },
  };
}
