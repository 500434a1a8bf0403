/** tfjs-layers activation functions as ONNX nodes, with tfjs' constants (ELU α = 1, hard sigmoid 0.2x + 0.5, …). */
import type { ConversionContext, TensorLayout } from './converter';
import { onnxAxis } from './converter';

/** Where the activation applies: the tensor, its tfjs rank and its layout (softmax runs over the last tfjs axis). */
export interface ActivationInput {
  name: string;
  rank: number;
  layout: TensorLayout;
}

type Emit = (x: ActivationInput, ctx: ConversionContext, node: string) => string;

const constant = (ctx: ConversionContext, node: string, what: string, value: number) => ctx.graph.addFloatInitializer(`${node}/${what}`, [value], []);

const op = (type: string): Emit => (x, ctx, node) => ctx.graph.addNode(type, [x.name], node)[0];

/** Activations by their tfjs identifier (the `activation` of a layer's config). */
const ACTIVATIONS: Record<string, Emit> = {
  linear: (x) => x.name,
  relu: op('Relu'),
  relu6: (x, ctx, node) => ctx.graph.addNode('Clip', [x.name, constant(ctx, node, 'min', 0), constant(ctx, node, 'max', 6)], node)[0],
  sigmoid: op('Sigmoid'),
  tanh: op('Tanh'),
  softplus: op('Softplus'),
  softsign: op('Softsign'),
  selu: op('Selu'), // ONNX's default α and γ are tfjs' constants (in float32)
  elu: (x, ctx, node) => ctx.graph.addNode('Elu', [x.name], node, { alpha: { float: 1 } })[0],
  hardSigmoid: (x, ctx, node) => ctx.graph.addNode('HardSigmoid', [x.name], node, { alpha: { float: 0.2 }, beta: { float: 0.5 } })[0],
  softmax: (x, ctx, node) => ctx.graph.addNode('Softmax', [x.name], node, { axis: { int: onnxAxis(-1, x.rank, x.layout) } })[0],
  logSoftmax: (x, ctx, node) => ctx.graph.addNode('LogSoftmax', [x.name], node, { axis: { int: onnxAxis(-1, x.rank, x.layout) } })[0],
  swish: (x, ctx, node) => ctx.graph.addNode('Mul', [x.name, ctx.graph.addNode('Sigmoid', [x.name], `${node}_sigmoid`)[0]], node)[0],
  mish: (x, ctx, node) => {
    const g = ctx.graph;
    const softplus = g.addNode('Softplus', [x.name], `${node}_softplus`)[0];
    return g.addNode('Mul', [x.name, g.addNode('Tanh', [softplus], `${node}_tanh`)[0]], node)[0];
  },
  /** x · ½(1 + erf(x / √2)) */
  gelu: (x, ctx, node) => {
    const g = ctx.graph;
    const erf = g.addNode('Erf', [g.addNode('Div', [x.name, constant(ctx, node, 'sqrt2', Math.SQRT2)], `${node}_scaled`)[0]], `${node}_erf`)[0];
    const cdf = g.addNode('Mul', [g.addNode('Add', [erf, constant(ctx, node, 'one', 1)], `${node}_add`)[0], constant(ctx, node, 'half', 0.5)], `${node}_cdf`)[0];
    return g.addNode('Mul', [x.name, cdf], node)[0];
  },
  /** ½x(1 + tanh(√(2/π)(x + 0.044715x³))) */
  gelu_new: (x, ctx, node) => {
    const g = ctx.graph;
    const cube = g.addNode('Mul', [x.name, g.addNode('Mul', [x.name, x.name], `${node}_square`)[0]], `${node}_cube`)[0];
    const inner = g.addNode('Add', [x.name, g.addNode('Mul', [cube, constant(ctx, node, 'c', 0.044715)], `${node}_cubic`)[0]], `${node}_inner`)[0];
    const tanh = g.addNode('Tanh', [g.addNode('Mul', [inner, constant(ctx, node, 'k', Math.sqrt(2 / Math.PI))], `${node}_k`)[0]], `${node}_tanh`)[0];
    const halfX = g.addNode('Mul', [x.name, constant(ctx, node, 'half', 0.5)], `${node}_half`)[0];
    return g.addNode('Mul', [halfX, g.addNode('Add', [tanh, constant(ctx, node, 'one', 1)], `${node}_add`)[0]], node)[0];
  },
};

export const SUPPORTED_ACTIVATIONS: readonly string[] = Object.keys(ACTIVATIONS);

/**
 * Adds the nodes of tfjs activation `activation` (undefined is linear) of layer `layerName` applied to
 * `x`, the last one named `node`; returns the output tensor's name (x's own for 'linear'). The layout is unchanged.
 */
export function addActivation(ctx: ConversionContext, x: ActivationInput, activation: string | undefined, layerName: string, node = layerName): string {
  const name = activation ?? 'linear';
  if (!Object.prototype.hasOwnProperty.call(ACTIVATIONS, name)) {
    throw new TypeError(`exportOnnx: activation '${name}' of layer '${layerName}' is not supported; supported: ${SUPPORTED_ACTIVATIONS.join(', ')}.`);
  }
  return ACTIVATIONS[name](x, ctx, node);
}
