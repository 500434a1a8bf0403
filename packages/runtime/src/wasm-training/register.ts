/**
 * The training kernel pack for tfjs' wasm backend, registered by `setup()`: the gradient kernels wasm
 * lacks (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput/Filter, crop-and-resize's image gradient), a GEMM Conv2DBackpropInput in
 * place of wasm's direct loop, channels-innermost CropAndResize and MaxPoolGrad, and the fused batch-norm and ReLU kernels of `@mobilenets/backbone`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, CROP_AND_RESIZE_GRAD_IMAGE, RELU6_GRAD, RELU_GRAD } from '@mobilenets/backbone';
import { conv2dBackpropFilter } from './conv2d-backprop-filter';
import { conv2dBackpropInput } from './conv2d-backprop-input';
import { cropAndResize, cropAndResizeGradImage } from './crop-and-resize';
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from './depthwise-backprop';
import { batchNormTraining, batchNormTrainingGrad, relu6Grad, reluGrad } from './fused';
import { maxPoolGrad } from './max-pool-grad';

const kernel = (kernelName: string, kernelFunc: unknown): tf.KernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });

export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  kernel(tf.Conv2DBackpropFilter, conv2dBackpropFilter),
  kernel(tf.Conv2DBackpropInput, conv2dBackpropInput),
  kernel(tf.DepthwiseConv2dNativeBackpropInput, depthwiseConv2dBackpropInput),
  kernel(tf.DepthwiseConv2dNativeBackpropFilter, depthwiseConv2dBackpropFilter),
  kernel(BATCH_NORM_TRAINING, batchNormTraining),
  kernel(BATCH_NORM_TRAINING_GRAD, batchNormTrainingGrad),
  kernel(RELU6_GRAD, relu6Grad),
  kernel(RELU_GRAD, reluGrad),
  kernel(tf.CropAndResize, cropAndResize),
  kernel(CROP_AND_RESIZE_GRAD_IMAGE, cropAndResizeGradImage),
  kernel(tf.MaxPoolGrad, maxPoolGrad),
];

let done = false;

/** Registers the pack for the wasm backend (once), replacing tfjs' own kernels of the same names. */
export function registerWasmTrainingKernels(): void {
  if (done) return;
  done = true;
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}
