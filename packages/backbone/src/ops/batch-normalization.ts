/**
 * A drop-in for tfjs-layers' BatchNormalization (same class name, config, weights and inference math)
 * whose training step runs as one fused kernel where the backend has it. Channels-last only (axis −1),
 * as every MobileNet layer is.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormTraining, registerFusedGradients } from './fused-kernels';

type Kwargs = { training?: boolean };

export interface BatchNormalizationArgs {
  name?: string;
  axis?: number;
  /** Moving-average momentum: moving = moving · momentum + batch · (1 − momentum). Default 0.99. */
  momentum?: number;
  /** Added to the variance. Default 1e-3. */
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  trainable?: boolean;
  inputShape?: tfl.Shape;
  batchInputShape?: tfl.Shape;
  dtype?: tf.DataType;
}

export class BatchNormalization extends tfl.layers.Layer {
  static className = 'BatchNormalization';
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private gamma: tfl.LayerVariable | null = null;
  private beta: tfl.LayerVariable | null = null;
  private movingMean!: tfl.LayerVariable;
  private movingVariance!: tfl.LayerVariable;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args as ConstructorParameters<typeof tfl.layers.Layer>[0]);
    this.supportsMasking = true;
    this.axis = args.axis ?? -1;
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
    const axis = this.axis >= 0 ? this.axis : shape.length + this.axis;
    if (axis !== shape.length - 1) throw new RangeError(`BatchNormalization '${this.name}': only the channels-last axis (-1) is supported. Received axis ${this.axis}.`);
    const channels = shape[axis];
    if (channels == null) throw new RangeError(`BatchNormalization '${this.name}': the channel dimension must be known. Received input shape ${JSON.stringify(shape)}.`);
    this.inputSpec = [new tfl.InputSpec({ ndim: shape.length, axes: { [axis]: channels } })];
    if (this.scale) this.gamma = this.addWeight('gamma', [channels], 'float32', tfl.initializers.ones(), undefined, true);
    if (this.center) this.beta = this.addWeight('beta', [channels], 'float32', tfl.initializers.zeros(), undefined, true);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', tfl.initializers.ones(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const channels = x.shape[x.rank - 1];
      const gamma = (this.gamma?.read() ?? tf.ones([channels])) as tf.Tensor1D;
      const beta = (this.beta?.read() ?? tf.zeros([channels])) as tf.Tensor1D;
      if (kwargs.training !== true) {
        return tf.batchNorm(x, this.movingMean.read(), this.movingVariance.read(), beta, gamma, this.epsilon);
      }
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, this.epsilon);
      const update = (variable: tfl.LayerVariable, batchValue: tf.Tensor) =>
        variable.write(tf.tidy(() => tf.add(tf.mul(variable.read(), this.momentum), tf.mul(batchValue, 1 - this.momentum))));
      update(this.movingMean, mean);
      update(this.movingVariance, variance);
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      // camelCase keys and `className`, as tfjs-layers' own getConfig returns them: serialization turns
      // keys into snake_case and leaves class names alone, so model.json says 'Zeros'/'Ones', which stock
      // tfjs-layers (without this class registered) can deserialize. Snake-case keys here would have had
      // their class names lower-cased ('zeros'), which stock tfjs-layers rejects.
      betaInitializer: { className: 'Zeros', config: {} },
      gammaInitializer: { className: 'Ones', config: {} },
      movingMeanInitializer: { className: 'Zeros', config: {} },
      movingVarianceInitializer: { className: 'Ones', config: {} },
    };
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
 * the fused versions above. Idempotent; called when the backbone is imported.
 */
export function installFusedLayers(): void {
  if (installed) return;
  installed = true;
  registerFusedGradients();
  tf.serialization.registerClass(BatchNormalization);
  tf.serialization.registerClass(Relu6Activation as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}
