/**
 * Loading MobileNetV1 weights named as TF-slim names them (`MobilenetV1/Conv2d_3_pointwise/weights`,
 * `…/BatchNorm/gamma`, …) into a model built by `mobilenetV1()`, whose layers carry the same end-point
 * names. Also reads the variant inside face-api's SSD MobileNetV1 (TF Object Detection API export),
 * where the first conv is called `Conv2d_0_pointwise` and the batch norms after full and pointwise
 * convolutions are folded into a bias (`convolution_bn_offset`): those load as γ = 1, β = offset,
 * moving mean 0 and moving variance 1 − ε, which computes exactly conv + offset at inference.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MOBILENET_V1_LAYERS } from '../mobilenet-v1';

export interface WeightLoadReport {
  /** Model layers that received weights. */
  loaded: string[];
  /** End points of the model for which the weight map had nothing. */
  missing: string[];
}

const BN_SUFFIX = '_BatchNorm';

/**
 * Copies the weights of every end point present in `weights` into `model` (built by mobilenetV1 with
 * the same α). Throws a RangeError naming the layer when a shape differs (e.g. another α).
 */
export function loadSlimMobileNetV1Weights(model: tfl.LayersModel, weights: tf.NamedTensorMap, prefix = 'MobilenetV1'): WeightLoadReport {
  const report: WeightLoadReport = { loaded: [], missing: [] };
  const layerNames = new Set(model.layers.map((l) => l.name));
  // γ, mean and variance made up for folded batch norms: the variables hold their values now, the tensors go.
  const temporaries: tf.Tensor[] = [];
  try {
    loadEndpoints(model, weights, prefix, layerNames, report, temporaries);
  } finally {
    tf.dispose(temporaries);
  }
  return report;
}

function loadEndpoints(model: tfl.LayersModel, weights: tf.NamedTensorMap, prefix: string, layerNames: Set<string>, report: WeightLoadReport, temporaries: tf.Tensor[]): void {
  MOBILENET_V1_LAYERS.forEach((spec, index) => {
    const endpoints = spec.kind === 'conv' ? [[`Conv2d_${index}`, 'weights']] : [[`Conv2d_${index}_depthwise`, 'depthwise_weights'], [`Conv2d_${index}_pointwise`, 'weights']];
    for (const [endpoint, kernelName] of endpoints) {
      if (!layerNames.has(endpoint)) continue; // shallow variant, or a full-conv model
      // face-api's export names the first (full) convolution Conv2d_0_pointwise.
      const scopes = index === 0 ? [`${prefix}/${endpoint}`, `${prefix}/Conv2d_0_pointwise`] : [`${prefix}/${endpoint}`];
      const scope = scopes.find((s) => weights[`${s}/${kernelName}`] !== undefined);
      if (scope === undefined) {
        report.missing.push(endpoint);
        continue;
      }
      setWeights(model, endpoint, [weights[`${scope}/${kernelName}`]]);
      setWeights(model, `${endpoint}${BN_SUFFIX}`, batchNormWeights(model, endpoint, scope, weights, temporaries));
      report.loaded.push(endpoint);
    }
  });
}

/** [γ, β, moving mean, moving variance] in the layer's weight order, from BatchNorm/* or a folded bias. */
function batchNormWeights(model: tfl.LayersModel, endpoint: string, scope: string, weights: tf.NamedTensorMap, temporaries: tf.Tensor[]): tf.Tensor[] {
  const bn = model.getLayer(`${endpoint}${BN_SUFFIX}`);
  const byName: Record<string, tf.Tensor | undefined> = {
    gamma: weights[`${scope}/BatchNorm/gamma`],
    beta: weights[`${scope}/BatchNorm/beta`],
    moving_mean: weights[`${scope}/BatchNorm/moving_mean`],
    moving_variance: weights[`${scope}/BatchNorm/moving_variance`],
  };
  const offset = weights[`${scope}/convolution_bn_offset`];
  const epsilon = (bn.getConfig() as { epsilon: number }).epsilon;
  const folded = (name: string, channels: number): tf.Tensor | undefined => {
    if (offset === undefined) return undefined;
    if (name === 'beta') return offset;
    const made = name === 'gamma' ? tf.ones([channels]) : name === 'moving_mean' ? tf.zeros([channels]) : tf.fill([channels], 1 - epsilon);
    temporaries.push(made);
    return made;
  };
  return bn.weights.map((w) => {
    const name = w.originalName.split('/').pop() as string;
    const value = byName[name] ?? folded(name, w.shape[0] as number);
    if (value === undefined) throw new RangeError(`loadSlimMobileNetV1Weights: no ${scope}/BatchNorm/${name} nor ${scope}/convolution_bn_offset in the weight map`);
    return value;
  });
}

function setWeights(model: tfl.LayersModel, layerName: string, values: tf.Tensor[]): void {
  const layer = model.getLayer(layerName);
  layer.weights.forEach((w, i) => {
    const expected = JSON.stringify(w.shape);
    const received = JSON.stringify(values[i].shape);
    if (expected !== received) {
      throw new RangeError(`loadSlimMobileNetV1Weights: layer '${layerName}' weight '${w.originalName}' has shape ${expected}, the weight map gives ${received} (a different width multiplier α?)`);
    }
  });
  layer.setWeights(values);
}
