/**
 * Feature taps: the output of a named end point, with its channel count and stride, for heads that
 * attach to the backbone (SSD taps V1's Conv2d_11_pointwise and Conv2d_13_pointwise, SSDLite taps
 * V2's layer_15/expansion_output and layer_19).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV2EndpointLayers } from './mobilenet-v2';

export interface FeatureTap {
  /** The end point asked for, e.g. 'Conv2d_11_pointwise' or 'layer_15/expansion_output'. */
  endpoint: string;
  /** The layer whose output the end point is. */
  layerName: string;
  output: tfl.SymbolicTensor;
  /** Channels of the feature map. */
  channels: number;
  /** Feature map height and width. */
  height: number;
  width: number;
  /** Output stride: input pixels per feature-map cell (16 for Conv2d_11_pointwise at any input size). */
  stride: number;
}

const V1_ENDPOINT = /^Conv2d_\d+(_depthwise|_pointwise)?$/;

/** Name of the layer whose output is `endpoint` (V1: TF-slim end points; V2: slim `layer_N` names or Keras layer names). */
export function endpointLayerName(endpoint: string): string {
  if (V1_ENDPOINT.test(endpoint)) return `${endpoint}_relu`;
  return mobilenetV2EndpointLayers().get(endpoint) ?? endpoint;
}

/** The end points of `model` that {@link featureTap} can resolve, in network order. */
export function listEndpoints(model: tfl.LayersModel): string[] {
  const layerNames = new Set(model.layers.map((l) => l.name));
  const v1 = model.layers.filter((l) => l.name.endsWith('_relu') && V1_ENDPOINT.test(l.name.slice(0, -'_relu'.length))).map((l) => l.name.slice(0, -'_relu'.length));
  const v2 = [...mobilenetV2EndpointLayers()].filter(([, layer]) => layerNames.has(layer)).map(([endpoint]) => endpoint);
  return [...v1, ...v2];
}

/** Resolves an end point of a MobileNet built by this package (or loaded from a model it saved). */
export function featureTap(model: tfl.LayersModel, endpoint: string): FeatureTap {
  const layerName = endpointLayerName(endpoint);
  const layer = model.layers.find((l) => l.name === layerName);
  if (layer === undefined) {
    throw new RangeError(`featureTap: model '${model.name}' has no end point '${endpoint}'. Available: ${listEndpoints(model).join(', ')}.`);
  }
  const output = layer.output as tfl.SymbolicTensor;
  const [, height, width, channels] = output.shape as number[];
  const inputHeight = model.inputs[0].shape[1];
  if (inputHeight == null || height == null) throw new RangeError(`featureTap: model '${model.name}' needs a fixed input size to compute strides.`);
  return { endpoint, layerName, output, channels, height, width, stride: Math.round(inputHeight / height) };
}

/** Several taps at once, in the order asked for. */
export function featureTaps(model: tfl.LayersModel, endpoints: readonly string[]): FeatureTap[] {
  return endpoints.map((e) => featureTap(model, e));
}
