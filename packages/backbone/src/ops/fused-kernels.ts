/**
 * Fused training kernels. tfjs composes batch-norm training and the ReLU gradients from many
 * whole-tensor ops (batch-norm's gradient alone tiles a per-channel vector to the activation's size);
 * these kernels do each in one or two passes. The math and the gradients live here, backend-free; a
 * backend opts in by registering kernels under these names (`@mobilenets/runtime` does for wasm).
 * Where no kernel is registered, the same math runs as standard tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerCropAndResizeGradient } from './crop-and-resize';

/** Inputs x [..., C], scale [C], offset [C]; attr epsilon. Outputs y (like x), batch mean [C], biased batch variance [C]. */
export const BATCH_NORM_TRAINING = 'MobileNetsBatchNormTraining';
/** Inputs dy, x, mean, variance, scale; attr epsilon. Outputs dx, dScale [C], dOffset [C]. */
export const BATCH_NORM_TRAINING_GRAD = 'MobileNetsBatchNormTrainingGrad';
/** Inputs dy, x. Output dy where 0 < x ≤ 6, else 0 (the gradient of tfjs' Relu6). */
export const RELU6_GRAD = 'MobileNetsRelu6Grad';
/** Inputs dy, x. Output dy where x > 0, else 0. */
export const RELU_GRAD = 'MobileNetsReluGrad';

export const FUSED_KERNEL_NAMES = [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, RELU6_GRAD, RELU_GRAD] as const;

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

export interface BatchNormTrainingResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Batch norm in training mode over every axis but the last: y = (x − mean) / √(variance + ε) · scale + offset
 * with the batch's own mean and (biased) variance, which are returned for the moving averages.
 * Differentiable with respect to x, scale and offset, through the batch statistics.
 */
export function batchNormTraining(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number): BatchNormTrainingResult {
  // The fused kernel only where its gradient is installed too (registerFusedGradients), so that training can differentiate it.
  if (hasKernel(BATCH_NORM_TRAINING) && tf.getGradient(BATCH_NORM_TRAINING) !== undefined) {
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, { epsilon }) as tf.Tensor[];
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.batchNorm(x, mean, variance, offset, scale, epsilon);
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

let registered = false;

/** Registers the gradients of the fused kernels, faster gradients for Relu and Relu6, and CropAndResize's (idempotent). */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  registerCropAndResizeGradient();
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, scale, mean, variance] = saved;
      const dy = Array.isArray(dys) ? dys[0] : dys;
      // One kernel computes all three; tfjs runs each input's thunk in its own tidy, so compute them here.
      const [dx, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, mean, variance, scale }, { epsilon: attrs.epsilon }) as tf.Tensor[];
      return { x: () => dx, scale: () => dScale, offset: () => dOffset };
    },
  });
  tf.registerGradient({
    kernelName: tf.Relu6,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved;
      const g = dy as tf.Tensor;
      return {
        x: () => (hasKernel(RELU6_GRAD) ? (tf.engine().runKernel(RELU6_GRAD, { dy: g, x }) as tf.Tensor) : tf.mul(g, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32'))),
      };
    },
  });
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved;
      const g = dy as tf.Tensor;
      return { x: () => (hasKernel(RELU_GRAD) ? (tf.engine().runKernel(RELU_GRAD, { dy: g, x }) as tf.Tensor) : tf.mul(g, tf.step(tf.cast(x, 'float32')))) };
    },
  });
}
