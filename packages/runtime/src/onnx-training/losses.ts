/**
 * Task losses written into the step graph: each gives its named scalar parts and metrics and the
 * gradient of the total with respect to the model's outputs, which the layers' backward passes take
 * from there. A task whose loss is not written here trains on the tfjs engine.
 */
import type { StepOps, Value } from './ops';

export interface StepLossGraph {
  /** Scalar loss parts by name (means over the batch); the step's loss is their sum. */
  losses: Record<string, string>;
  /** Scalar training metrics by name. */
  metrics: Record<string, string>;
  /** d (sum of the parts) / d output, one per model output (null: the loss does not read it). */
  outputGradients: (string | null)[];
  /** Whole tensors the step also returns, by name (the split step's forward graph returns the model's outputs). */
  tensors?: Record<string, Value>;
}

export interface StepLoss {
  /** The batch tensors the model's inputs take, in the model's input order. */
  readonly modelInputs: readonly string[];
  /** The other batch tensors the loss reads, by name, with their element type. */
  readonly targets: Readonly<Record<string, 'float32' | 'int32'>>;
  /** Writes the loss of a batch of `examples` from the model's outputs (training mode) and the targets. */
  emit(ops: StepOps, outputs: readonly Value[], targets: Readonly<Record<string, Value>>, examples: number): StepLossGraph;
}

export interface ClassificationLossOptions {
  /** Label smoothing ε, as the classification task's option. Default 0. */
  labelSmoothing?: number;
}

/** Keras' clipping of probabilities before the logarithm (the classification task's crossEntropy). */
const CLIP = 1e-7;

/**
 * The classification task's loss on a softmax output: mean categorical cross-entropy of the clipped
 * probabilities against one-hot (or smoothed) labels, and top-1 accuracy — as `classificationTask`
 * computes them in tfjs, gradient included (none where a probability is clipped).
 */
export function classificationLoss(options: ClassificationLossOptions = {}): StepLoss {
  const { labelSmoothing = 0 } = options;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing < 1)) throw new RangeError(`classificationLoss: labelSmoothing must be in [0, 1). Received ${labelSmoothing}.`);
  return {
    modelInputs: ['images'],
    targets: { labels: 'int32' },
    emit(ops, outputs, targets, examples) {
      const [probabilities] = outputs;
      const labels = targets.labels;
      if (outputs.length !== 1 || probabilities.shape.length !== 2) throw new RangeError(`classificationLoss: the model must have one output [batch, classes]; it has ${outputs.length}, the first [${outputs[0]?.shape}].`);
      const classes = probabilities.shape[1];
      const classIds = ops.graph.addTypedInitializer('class_ids', 6 /* INT32 */, new Uint8Array(Int32Array.from({ length: classes }, (_, i) => i).buffer), [1, classes]);
      const oneHot = ops.node('Cast', [ops.node('Equal', [ops.reshape(labels.name, [examples, 1], 'labels_col'), classIds], 'labels_eq')], 'one_hot', { to: { int: 1 } });
      const target = labelSmoothing > 0 ? ops.add(ops.scale(oneHot, 1 - labelSmoothing, 'smooth_scale'), ops.float(labelSmoothing / classes), 'targets') : oneHot;
      const p = probabilities.name;
      const clippedP = ops.node('Clip', [p, ops.float(CLIP), ops.float(1 - CLIP)], 'p_clipped');
      const logP = ops.node('Log', [clippedP], 'log_p');
      const crossEntropy = ops.scale(ops.reduceSum(ops.mul(target, logP, 't_log_p'), [0, 1], 'ce_sum'), -1 / examples, 'cross_entropy');
      // d/dp of −Σ t·log(clip(p)) / N: −t / (N·p) where p is inside the clip range (bounds included), else 0.
      const inside = ops.node('Cast', [ops.node('And', [ops.node('GreaterOrEqual', [p, ops.float(CLIP)], 'p_ge'), ops.node('LessOrEqual', [p, ops.float(1 - CLIP)], 'p_le')], 'p_inside')], 'p_mask', { to: { int: 1 } });
      const dp = ops.mul(ops.scale(ops.div(target, clippedP, 't_over_p'), -1 / examples, 'dp_raw'), inside, 'd_probabilities');
      const predicted = ops.node('ArgMax', [p], 'predicted', { axis: { int: 1 }, keepdims: { int: 0 } });
      const correct = ops.node('Cast', [ops.node('Equal', [predicted, ops.node('Cast', [labels.name], 'labels_i64', { to: { int: 7 } })], 'correct_bool')], 'correct', { to: { int: 1 } });
      const accuracy = ops.scale(ops.reduceSum(correct, [0], 'correct_sum'), 1 / examples, 'accuracy');
      return { losses: { crossEntropy }, metrics: { accuracy }, outputGradients: [dp] };
    },
  };
}
