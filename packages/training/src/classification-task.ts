/**
 * Image classification as a task of the training core: a batch is images with integer labels, the
 * loss is the categorical cross-entropy of the model's softmax output (probabilities clipped to
 * [1e-7, 1 − 1e-7], as Keras does; optional label smoothing), the training metric is top-1 accuracy,
 * validation measures top-1, top-5 and the loss, and the best checkpoint has the highest top-1.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationBatch, ClassificationData, TrainingData, checkBatch } from './data';
import { EvaluationResult, evaluate } from './metrics';
import type { StepBatch, Task, TaskLoss } from './task';

export interface ClassificationTaskOptions {
  /** Label smoothing ε: targets become (1 − ε)·y + ε/classes. Default 0 (the V1 paper uses none). */
  labelSmoothing?: number;
}

/** Mean cross-entropy of `probabilities` [batch, classes] against one-hot or smoothed `targets`. */
export function crossEntropy(probabilities: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probabilities, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar);
}

function classesOf(model: tfl.LayersModel, where: string): number {
  const shape = model.outputs[0].shape;
  if (model.outputs.length !== 1 || shape.length !== 2 || typeof shape[1] !== 'number') {
    throw new RangeError(`${where}: the model '${model.name}' must have one output [batch, classes] (a softmax over the classes); it has ${model.outputs.length} output(s), the first [${shape}].`);
  }
  return shape[1];
}

export function classificationTask(options: ClassificationTaskOptions = {}): Task<ClassificationBatch, EvaluationResult> {
  const { labelSmoothing = 0 } = options;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new RangeError(`classificationTask: labelSmoothing must be in [0, 1). Received ${labelSmoothing}.`);
  }
  let classes: number | null = null;
  return {
    name: 'classification',
    best: { name: 'top1', mode: 'max' },
    worker: { module: __filename, factory: 'classificationTask', options: { labelSmoothing } },

    check(model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, role: 'training' | 'validation'): void {
      const outputs = classesOf(model, 'classification');
      const dataClasses = (data as Partial<ClassificationData>).classes;
      if (typeof dataClasses !== 'number') throw new TypeError(`classification: the ${role} data must say how many classes it has (data.classes).`);
      if (dataClasses < 2) throw new RangeError(`classification: the ${role} data has ${dataClasses} class; a classifier needs at least 2 classes to tell apart.`);
      if (outputs !== dataClasses) {
        throw new RangeError(`classification: the model '${model.name}' outputs [batch, ${outputs}] but the ${role} data has ${dataClasses} classes; expected output [batch, ${dataClasses}].`);
      }
      classes = dataClasses;
    },

    prepare(batch: ClassificationBatch): StepBatch {
      checkBatch(batch, classes ?? Number.MAX_SAFE_INTEGER, 'classification: training data');
      return { tensors: { images: { data: batch.images, shape: [...batch.shape] }, labels: { data: batch.labels, shape: [batch.labels.length] } }, examples: batch.shape[0] };
    },

    loss(model: tfl.LayersModel, { images, labels }: tf.NamedTensorMap): TaskLoss {
      if (images === undefined || labels === undefined) throw new TypeError("classification: a step batch needs 'images' and 'labels'.");
      const probabilities = model.apply(images, { training: true }) as tf.Tensor2D;
      const n = probabilities.shape[1];
      const oneHot = tf.oneHot(labels as tf.Tensor1D, n);
      const targets = labelSmoothing > 0 ? tf.add(tf.mul(oneHot, 1 - labelSmoothing), labelSmoothing / n) : oneHot;
      const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, -1), labels), 'float32')) as tf.Scalar;
      return { losses: { crossEntropy: crossEntropy(probabilities, targets) }, metrics: { accuracy } };
    },

    async validate(model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, options): Promise<{ metrics: Record<string, number>; details: EvaluationResult }> {
      const r = await evaluate(model, data as ClassificationData, options);
      return { metrics: { top1: r.top1, top5: r.top5, loss: r.loss }, details: r };
    },
  };
}
