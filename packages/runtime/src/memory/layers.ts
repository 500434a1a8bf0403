/**
 * What a training step keeps in memory, read off a model's layers: the floats of every layer's output
 * per example (tfjs' autodiff keeps each op's output for the backward pass and each op's gradient until
 * the pass ends), the input, the largest scratch a gradient kernel allocates, and the weights. Inputs to
 * the estimates of ./estimate.ts.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

export interface ModelMemoryProfile {
  model: string;
  /** The model's input size, [H, W, C] per example. */
  inputShape: number[];
  /** Floats of the input per example. */
  inputFloats: number;
  /** Floats of all layers' outputs per example (the activations the backward pass needs, and their gradients). */
  activationFloats: number;
  /** The part of `activationFloats` in feature maps (outputs with spatial dimensions: they grow with the image). */
  spatialActivationFloats: number;
  /**
   * Floats per example of the largest temporary a gradient kernel allocates: the im2col patches of a k×k
   * convolution (kh·kw·Cin per output position), or the transposed input of a 1×1 convolution.
   */
  scratchFloats: number;
  /** Trainable floats (the gradients and the optimizer's slots are the same size) and the rest (batch-norm statistics). */
  trainableFloats: number;
  nonTrainableFloats: number;
}

const product = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/** Output shapes of a layer without the batch dimension (one per output). */
function outputShapes(layer: tfl.layers.Layer): number[][] {
  const shape = layer.outputShape as (number | null)[] | (number | null)[][];
  const shapes = Array.isArray(shape[0]) ? (shape as (number | null)[][]) : [shape as (number | null)[]];
  return shapes.map((s) => s.slice(1) as number[]);
}

export function modelMemoryProfile(model: tfl.LayersModel): ModelMemoryProfile {
  if (model.inputs.length !== 1) throw new TypeError(`modelMemoryProfile: expected a model with one input. Received ${model.inputs.length} inputs for '${model.name}'.`);
  const inputShape = (model.inputs[0].shape as (number | null)[]).slice(1);
  if (inputShape.some((d) => d === null)) {
    throw new RangeError(`modelMemoryProfile: '${model.name}' has an input of unknown size ${JSON.stringify(model.inputs[0].shape)}; build it with a fixed input size to estimate its memory.`);
  }
  let activationFloats = 0;
  let spatialActivationFloats = 0;
  let scratchFloats = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    const shapes = outputShapes(layer);
    const outputs = shapes.map(product);
    activationFloats += outputs.reduce((a, b) => a + b, 0);
    spatialActivationFloats += outputs.filter((_, i) => shapes[i].length >= 3).reduce((a, b) => a + b, 0);
    if (className === 'Conv2D') {
      const kernel = layer.weights.find((w) => w.originalName.endsWith('/kernel') || w.name.endsWith('/kernel'));
      if (kernel === undefined) continue;
      const [kh, kw, cin, cout] = kernel.shape as number[];
      const positions = outputs[0] / cout;
      scratchFloats = Math.max(scratchFloats, kh * kw * cin * positions);
    }
  }
  const count = (weights: tfl.LayerVariable[]) => weights.reduce((n, w) => n + product(w.shape), 0);
  return {
    model: model.name,
    inputShape: inputShape as number[],
    inputFloats: product(inputShape),
    activationFloats,
    spatialActivationFloats,
    scratchFloats,
    trainableFloats: count(model.trainableWeights),
    nonTrainableFloats: count(model.nonTrainableWeights),
  };
}

/**
 * The profile of the same model at another (square) input size: feature maps, input and scratch scale
 * with the image's area (exactly for MobileNets at multiples of 32, whose strides then divide evenly);
 * the pooled head does not.
 */
export function scaleProfileInput(profile: ModelMemoryProfile, inputSize: number): ModelMemoryProfile {
  const [h, w, c] = profile.inputShape;
  const area = (inputSize * inputSize) / (h * w);
  return {
    ...profile,
    inputShape: [inputSize, inputSize, c],
    inputFloats: inputSize * inputSize * c,
    activationFloats: profile.activationFloats + profile.spatialActivationFloats * (area - 1),
    spatialActivationFloats: profile.spatialActivationFloats * area,
    scratchFloats: profile.scratchFloats * area,
  };
}
