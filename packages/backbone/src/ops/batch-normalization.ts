/**
 * tfjs-layers' BatchNormalization (same class name, arguments, config, weights and math; it extends
 * tfjs-layers' own class) whose training step runs as one fused kernel where the backend has one
 * (see ./fused-kernels). What the fused path does not cover — normalising over an axis other than the
 * last — runs tfjs-layers' own code.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormTraining, registerFusedGradients } from './fused-kernels';

type Kwargs = { training?: boolean };

/** tfjs-layers' BatchNormalizationLayerArgs: axis, momentum (0.99), epsilon (1e-3), center, scale, initializers, regularizers, constraints. */
export type BatchNormalizationArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;
/** tfjs-layers' BatchNormalization, with the settings its typings keep private. */
interface TfjsBatchNormalization extends tfl.layers.Layer {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
}
/** The weights tfjs-layers' BatchNormalization creates in build() (private in its typings). */
interface BatchNormalizationWeights {
  gamma?: tfl.LayerVariable;
  beta?: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/** Marks the class below, so that a second copy of this module still finds tfjs-layers' class under it. */
const FUSED_BATCH_NORMALIZATION = Symbol.for('@mobilenets/backbone/fused-batch-normalization');

/**
 * tfjs-layers does not export its BatchNormalization class, only a factory; the class is the one it
 * registers for deserialisation. Only read here: nothing is registered on import.
 */
function tfjsBatchNormalizationClass(): new (args?: BatchNormalizationArgs) => TfjsBatchNormalization {
  let cls = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization?.[0] as unknown as ((new (...args: never[]) => unknown) & Record<symbol, unknown>) | undefined;
  while (cls !== undefined && cls !== null && cls[FUSED_BATCH_NORMALIZATION] === true) cls = Object.getPrototypeOf(cls);
  if (typeof cls !== 'function') {
    throw new Error("@mobilenets/backbone: tfjs-layers' BatchNormalization is not registered with tfjs-core's serialization map; are two copies of @tensorflow/tfjs-core installed?");
  }
  return cls as unknown as new (args?: BatchNormalizationArgs) => TfjsBatchNormalization;
}

export class BatchNormalization extends tfjsBatchNormalizationClass() {
  static className = 'BatchNormalization';
  static readonly [FUSED_BATCH_NORMALIZATION] = true;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const axis = this.axis >= 0 ? this.axis : x.rank + this.axis;
    // The fused kernel normalises over every axis but the last; anything else is tfjs-layers' own path.
    if (kwargs.training !== true || axis !== x.rank - 1) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const { gamma, beta, movingMean, movingVariance } = this as unknown as BatchNormalizationWeights;
      const channels = x.shape[axis];
      const scale = (gamma?.read() ?? tf.ones([channels])) as tf.Tensor1D;
      const offset = (beta?.read() ?? tf.zeros([channels])) as tf.Tensor1D;
      const { y, mean, variance } = batchNormTraining(x, scale, offset, this.epsilon);
      const update = (variable: tfl.LayerVariable, batchValue: tf.Tensor) =>
        variable.write(tf.tidy(() => tf.add(tf.mul(variable.read(), this.momentum), tf.mul(batchValue, 1 - this.momentum))));
      update(movingMean, mean);
      update(movingVariance, variance);
      return y;
    });
  }
}

/** tfjs-layers' 'relu6' activation is minimum(6, relu(x)): two kernels and a four-kernel gradient. This one is one Relu6 kernel. */
class Relu6Activation extends tf.serialization.Serializable {
  static className = 'relu6';
  override getClassName(): string {
    return 'relu6';
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.relu6(x);
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

let installed = false;

/**
 * Makes 'BatchNormalization' layers (also in models loaded from model.json) and the 'relu6' activation
 * the fused versions above, and installs the fused gradients (registerFusedGradients). This changes
 * tfjs' global registries for the whole process, so importing the backbone does not do it:
 * `setup()` from @mobilenets/runtime calls it. Idempotent.
 */
export function installFusedLayers(): void {
  if (installed) return;
  installed = true;
  registerFusedGradients();
  tf.serialization.registerClass(BatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  tf.serialization.registerClass(Relu6Activation as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}
