/**
 * Resource profile of a model, counted the way the MobileNet papers count (V1 Table 2, eqs. 2–6):
 * Mult-Adds are the multiply-adds of convolutions and fully connected layers only — first conv and FC
 * included; batch norm, activations, pooling and biases excluded. `params` counts convolution and FC
 * weights and biases; batch-norm parameters (γ, β, moving mean and variance) are reported apart.
 */
import * as tfl from '@tensorflow/tfjs-layers';

/** conv: a k×k (k > 1) convolution; pointwise: a 1×1 convolution; depthwise: a depthwise convolution; fc: dense. */
export type LayerType = 'conv' | 'depthwise' | 'pointwise' | 'fc';
export const LAYER_TYPES: readonly LayerType[] = ['conv', 'depthwise', 'pointwise', 'fc'];

export interface ProfileRow {
  name: string;
  type: LayerType;
  /** Kernel as the paper's Table 1 writes its filter shape, e.g. '3×3×3×32', '3×3×32 dw', '1024×1000'. */
  kernel: string;
  /** Output shape without the batch dimension. */
  outputShape: number[];
  stride: number;
  multAdds: number;
  params: number;
}

export interface TypeTotals {
  layers: number;
  multAdds: number;
  params: number;
  /** Share of the model's Mult-Adds, in percent. */
  multAddsPercent: number;
  /** Share of the model's params, in percent. */
  paramsPercent: number;
}

export interface ModelProfile {
  model: string;
  inputShape: number[];
  multAdds: number;
  params: number;
  bnParams: number;
  layers: ProfileRow[];
  byType: Record<LayerType, TypeTotals>;
}

export function profile(model: tfl.LayersModel): ModelProfile {
  const rows: ProfileRow[] = [];
  let bnParams = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    const row = countLayer(layer, className);
    if (row !== null) rows.push(row);
    else if (className === 'BatchNormalization') bnParams += weightCount(layer);
    else if (weightCount(layer) > 0) {
      throw new TypeError(`profile: cannot count Mult-Adds for layer '${layer.name}' of class ${className}; layers with weights it counts: Conv2D, DepthwiseConv2D, Dense, BatchNormalization.`);
    }
  }
  const multAdds = sum(rows.map((r) => r.multAdds));
  const params = sum(rows.map((r) => r.params));
  const byType = Object.fromEntries(
    LAYER_TYPES.map((type) => {
      const of = rows.filter((r) => r.type === type);
      const m = sum(of.map((r) => r.multAdds));
      const p = sum(of.map((r) => r.params));
      return [type, { layers: of.length, multAdds: m, params: p, multAddsPercent: percent(m, multAdds), paramsPercent: percent(p, params) }];
    }),
  ) as Record<LayerType, TypeTotals>;
  const inputShape = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
  return { model: model.name, inputShape, multAdds, params, bnParams, layers: rows, byType };
}

function countLayer(layer: tfl.layers.Layer, className: string): ProfileRow | null {
  const outputShape = (layer.outputShape as (number | null)[]).slice(1) as number[];
  const spatial = outputShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const params = weightCount(layer);
  const config = layer.getConfig() as { strides?: number | number[] };
  const stride = Array.isArray(config.strides) ? config.strides[0] : (config.strides ?? 1);
  if (className === 'Conv2D') {
    const [kh, kw, cin, cout] = kernelShape(layer, 'kernel');
    const type: LayerType = kh * kw === 1 ? 'pointwise' : 'conv';
    return { name: layer.name, type, kernel: `${kh}×${kw}×${cin}×${cout}`, outputShape, stride, multAdds: spatial * kh * kw * cin * cout, params };
  }
  if (className === 'DepthwiseConv2D') {
    const [kh, kw, cin, multiplier] = kernelShape(layer, 'depthwise_kernel');
    const kernel = `${kh}×${kw}×${cin}${multiplier > 1 ? `×${multiplier}` : ''} dw`;
    return { name: layer.name, type: 'depthwise', kernel, outputShape, stride, multAdds: spatial * kh * kw * cin * multiplier, params };
  }
  if (className === 'Dense') {
    const [units, cin] = [outputShape[outputShape.length - 1], kernelShape(layer, 'kernel')[0]];
    return { name: layer.name, type: 'fc', kernel: `${cin}×${units}`, outputShape, stride: 1, multAdds: spatial * cin * units, params };
  }
  return null;
}

function kernelShape(layer: tfl.layers.Layer, suffix: string): number[] {
  const weight = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.name.endsWith(`/${suffix}`));
  if (weight === undefined) throw new Error(`profile: layer '${layer.name}' has no '${suffix}' weight`);
  return weight.shape as number[];
}

function weightCount(layer: tfl.layers.Layer): number {
  return sum(layer.weights.map((w) => w.shape.reduce((a: number, b) => a * (b as number), 1)));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}
