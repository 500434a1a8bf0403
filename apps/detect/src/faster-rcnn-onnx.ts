/**
 * A Faster R-CNN's training step on onnxruntime (runtime's staged runner), the same step as the task's
 * tfjs loss computes:
 *
 *   1. first stage, forward half (training mode): RPN box codes and objectness logits, and the features;
 *   2. host: the RPN's losses and their gradients (tfjs, small), then the proposals and the second stage's
 *      sample (the task's own sampler), and the crops of the features, max-pooled (the second stage's first
 *      layer, done here: the graph takes 4× fewer values and skips two layout changes of the 14×14 crops);
 *   3. second stage, one whole step on the pooled crops: its compiled loss (runtime's
 *      fasterRcnnSecondStageLoss), backward, update, and the gradient of the loss with respect to its input;
 *   4. host: that gradient through the max-pool and crop-and-resize onto the features;
 *   5. first stage, backward half from the gradients of its three outputs, and its update.
 *
 * The first stage runs its forward pass twice (steps 1 and 5), which is the split's price; the second
 * stage, most of the step's work, runs once. A graph is compiled per batch shape; the second stage's batch
 * is always the images × the proposals sampled an image (the sampler pads short images with stand-ins).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cropAndPoolGradient, cropAndPoolProposals, FASTER_RCNN_LOSS_WEIGHTS, type FasterRcnnTaskOptions, rpnLoss, secondStageSampler, stagesOf } from '@mobilenets/detection-faster-rcnn';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fasterRcnnSecondStageLoss, type LayerEmitter, onnxStagedTrainingRunner } from '@mobilenets/runtime';
import { type StepBatch, type StepRunnerFactory, WEIGHT_DECAY_LOSS } from '@mobilenets/training';

export interface FasterRcnnOnnxOptions {
  /** The task's options (the same object fasterRcnnTask was made with). */
  task: FasterRcnnTaskOptions;
  /** onnxruntime's intra-op threads (default: runtime's). */
  threads?: number;
}

const tensorOf = (batch: StepBatch, name: string) => {
  const t = batch.tensors[name];
  if (t === undefined) throw new RangeError(`Faster R-CNN onnxruntime step: the batch has no '${name}' (fasterRcnnTask.prepare makes it).`);
  return t;
};

/** The onnxruntime step runner of a Faster R-CNN trained with `fasterRcnnTask(options.task)`. */
export function fasterRcnnOnnxRunner(options: FasterRcnnOnnxOptions): StepRunnerFactory {
  const { task } = options;
  const cropSize = task.cropSize ?? 14;
  const weights = { ...FASTER_RCNN_LOSS_WEIGHTS, ...task.lossWeights };
  const sample = secondStageSampler(task);
  let pool = 1;
  return onnxStagedTrainingRunner({
    threads: options.threads,
    stages: (model) => {
      const { firstStage, secondStage } = stagesOf(model);
      pool = cropPoolOf(secondStage);
      return [
        { model: firstStage, loss: 'split', modelInputs: ['images'] },
        {
          model: secondStage, loss: fasterRcnnSecondStageLoss({ classifierWeight: weights.classifier, boxWeight: weights.box }), inputGradients: true,
          emitters: { MaxPooling2D: pooledOnHost },
        },
      ];
    },
    async step([first, second], batch) {
      const n = batch.examples;
      const [rpnBox, rpnObjectness, features] = await first.forward(batch);

      // The RPN's losses, weighted, and their gradients with respect to its two outputs.
      const labels = tensorOf(batch, 'rpnLabels');
      const boxTargets = tensorOf(batch, 'rpnBoxTargets');
      // (tf.tidy would walk every number of a typed array it returns: tensors are read out after it.)
      let parts = { rpnObjectness: 0, rpnBox: 0, rpnPositives: 0 };
      const rpnGradients = tf.tidy(() => {
        const labelTensor = tf.tensor(labels.data, [...labels.shape], 'int32');
        const targetTensor = tf.tensor(boxTargets.data, [...boxTargets.shape]);
        return tf.grads((b: tf.Tensor, l: tf.Tensor) => {
          const loss = rpnLoss(b, l, labelTensor, targetTensor);
          const objectness = tf.mul(loss.objectness, weights.rpnObjectness) as tf.Scalar;
          const boxLoss = tf.mul(loss.box, weights.rpnBox) as tf.Scalar;
          parts = { rpnObjectness: objectness.dataSync()[0], rpnBox: boxLoss.dataSync()[0], rpnPositives: loss.positives.dataSync()[0] };
          return tf.add(objectness, boxLoss);
        })([tf.tensor(rpnBox.data, rpnBox.shape), tf.tensor(rpnObjectness.data, rpnObjectness.shape)]);
      });
      const [dBox, dObjectness] = rpnGradients.map((g) => g.dataSync() as Float32Array);
      tf.dispose(rpnGradients);

      // The second stage's sample and crops, its step, and the crops' gradient on the features.
      const gtBoxes = tensorOf(batch, 'gtBoxes');
      const gtLabels = tensorOf(batch, 'gtLabels');
      const s = sample(rpnBox.data, rpnObjectness.data, gtBoxes.data, gtLabels.data, n);
      const proposals = s.boxIndex.length;
      const featureShape = features.shape as [number, number, number, number];
      const crops = cropAndPoolProposals(features.data, featureShape, s.proposalsXyxy, s.boxIndex, cropSize, pool);
      const secondResult = await second.step({
        examples: proposals,
        tensors: {
          crops: { data: crops.pooled, shape: crops.shape },
          roiClassTargets: { data: s.classTargets, shape: [proposals] },
          roiBoxTargets: { data: s.boxTargets, shape: [proposals, 4] },
          roiWeights: { data: s.weights, shape: [proposals] },
        },
      });
      const dFeatures = cropAndPoolGradient(secondResult.inputGradients.crops.data, crops, s.proposalsXyxy, s.boxIndex, featureShape, cropSize, pool);

      const firstResult = await first.backward(batch, [dBox, dObjectness, dFeatures]);
      const losses: Record<string, number> = {
        rpnObjectness: parts.rpnObjectness, rpnBox: parts.rpnBox,
        classifier: secondResult.losses.classifier, box: secondResult.losses.box,
      };
      // Each graph adds the penalty of the weights it updates: together, the whole model's.
      const decays = [firstResult.losses, secondResult.losses].filter((l) => WEIGHT_DECAY_LOSS in l);
      if (decays.length > 0) losses[WEIGHT_DECAY_LOSS] = decays.reduce((a, l) => a + l[WEIGHT_DECAY_LOSS], 0);
      return {
        loss: Object.values(losses).reduce((a, b) => a + b, 0),
        losses,
        metrics: { rpnPositives: parts.rpnPositives, roiPositives: s.positivesPerImage },
        examples: n,
      };
    },
  });
}


/** The crops' max-pool (the second stage's first layer) is done on the host with the crops: in the graph its input passes through. */
const pooledOnHost: LayerEmitter = (_layer, [x]) => ({ outputs: [x], backward: ([d]) => [d] });

/** The side of the second stage's max-pool of its crops (1: none). */
function cropPoolOf(secondStage: tfl.LayersModel): number {
  const first = secondStage.layers.find((l) => l.getClassName() !== 'InputLayer');
  if (first?.getClassName() !== 'MaxPooling2D') return 1;
  const { poolSize, strides, padding } = first.getConfig() as { poolSize: number[]; strides: number[]; padding: string };
  if (poolSize[0] !== poolSize[1] || strides[0] !== poolSize[0] || strides[1] !== poolSize[1] || padding !== 'valid') {
    throw new RangeError(`Faster R-CNN onnxruntime step: the second stage's ${first.name} pools ${poolSize} at strides ${strides} ('${padding}'); the host pools square windows at their own stride.`);
  }
  return poolSize[0];
}
