/**
 * tfjs-layers model → ONNX (opset 13). Each layer is turned into nodes by a converter looked up by its
 * class name (DEFAULT_CONVERTERS, with the caller's merged over them); every tensor records its layout
 * (see TensorLayout), so convolutional bodies run channels-first (NCHW) with no transposes inside,
 * and a transpose appears only where a layer needs the tfjs axis order back (a Reshape that moves the
 * channels, say). The ONNX model has the tfjs model's interface: named inputs and outputs with the
 * same shapes (4-D float inputs are NHWC images, transposed once on entry; outputs are returned in
 * the tfjs layout). Batch norm is folded into the convolution before it, dropout is dropped, TF 'SAME'
 * padding becomes explicit (asymmetric) pads.
 *
 * The input is exactly what the tfjs model takes — for the MobileNets here, and the SSD / SSDLite
 * detectors built on them, NHWC RGB already scaled to [-1, 1] — so both run on the same tensors. Image
 * preprocessing is not baked into the graph: `preprocessing` only records it in the metadata, where
 * OnnxModel.runImages reads it. A detector exports whole, like a classifier: its two outputs keep their
 * names and tfjs layouts (BoxEncodings [B, N, 4], ClassLogits [B, N, C + 1]); the predictors' Reshapes
 * bring their heads back to NHWC first (one Transpose each) and everything before them is channels-first.
 */
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type FileOps, ioError, nodeFileOps, writeFileAtomic } from '../io/atomic';
import type { ConversionContext, ExportTensor, Layer, LayerConverter, OnnxTensorRef, TensorLayout } from './converter';
import { layoutPermutation } from './converter';
import { DEFAULT_CONVERTERS } from './converters';
import { OnnxGraphBuilder, type OnnxDim, type OnnxElementType } from './graph-builder';
import { type ImagePreprocessing, PREPROCESSING_METADATA_KEY, checkPreprocessing } from './preprocessing';
import { type ActivationRange, addQdq, isQuantizedOutput } from './quantize';

export interface OnnxExportOptions {
  /**
   * Converters by tfjs class name, merged over DEFAULT_CONVERTERS: a task adds its own layers
   * (`{ converters: { AnchorDecoder: decodeAnchors } }`) or replaces a default one.
   */
  converters?: Readonly<Record<string, LayerConverter>>;
  /** Written into the model's metadata: architecture, width multiplier, input size… */
  metadata?: Readonly<Record<string, string | number>>;
  /** Class labels, stored as JSON in the metadata under 'labels'. */
  labels?: readonly string[];
  /**
   * How images are turned into the model's input, stored as JSON under 'preprocessing' (OnnxModel.runImages
   * applies it); MOBILENET_PREPROCESSING for the MobileNets here. Not written when absent.
   */
  preprocessing?: ImagePreprocessing;
  /**
   * Static int8 quantization (QDQ): calibrated activation ranges by layer name (see calibrateRanges).
   * Activations become uint8 (asymmetric), convolution weights int8 per output channel (symmetric),
   * biases int32 — the pattern onnxruntime turns into QLinearConv.
   */
  int8Ranges?: ReadonlyMap<string, ActivationRange>;
}

export interface OnnxFileExportOptions extends OnnxExportOptions {
  /** File operations for the atomic write; default node:fs/promises. Tests pass ones that fail on purpose. */
  fileOps?: FileOps;
}

/**
 * Writes the ONNX model to `file` atomically (a temporary file in the same directory, renamed into
 * place): `file` is the complete new model or what it was before, and no temporary file is left behind.
 */
export async function exportOnnx(model: tfl.LayersModel, file: string, options: OnnxFileExportOptions = {}): Promise<void> {
  const bytes = modelToOnnx(model, options);
  const ops = options.fileOps ?? nodeFileOps;
  const dir = path.dirname(path.resolve(file));
  try {
    await ops.mkdir(dir, { recursive: true });
  } catch (error) {
    throw ioError(`exportOnnx: cannot create the directory ${dir} for ${file}`, error);
  }
  try {
    await writeFileAtomic(file, bytes, ops);
  } catch (error) {
    throw new Error(`exportOnnx: ${(error as Error).message}`, { cause: (error as Error).cause ?? error });
  }
}

/** The ONNX ModelProto bytes of `model`. */
export function modelToOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const converters: Record<string, LayerConverter> = { ...DEFAULT_CONVERTERS };
  for (const [className, converter] of Object.entries(options.converters ?? {})) {
    if (typeof converter !== 'function') throw new TypeError(`exportOnnx: converters.${className} is ${converter === null ? 'null' : typeof converter}; expected a function (layer, inputs, ctx) => output tensor(s).`);
    converters[className] = converter;
  }
  const preprocessing = options.preprocessing === undefined ? undefined : checkPreprocessing(options.preprocessing, 'exportOnnx');
  const graph = new ModelExporter(model, converters, options.int8Ranges).build();

  const metadata: Record<string, string> = { model_name: model.name };
  if (preprocessing !== undefined) metadata[PREPROCESSING_METADATA_KEY] = JSON.stringify(preprocessing);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata[key] = String(value);
  if (options.labels !== undefined) metadata.labels = JSON.stringify(options.labels);
  return graph.toBytes(model.name, metadata);
}

const ELEMENT_TYPE: Partial<Record<tf.DataType, OnnxElementType>> = { float32: 'float32', int32: 'int32', bool: 'bool' };

function elementType(dtype: tf.DataType, what: string): OnnxElementType {
  const type = ELEMENT_TYPE[dtype];
  if (type === undefined) throw new TypeError(`exportOnnx: ${what} has dtype ${dtype}; supported: ${Object.keys(ELEMENT_TYPE).join(', ')}.`);
  return type;
}

/** ONNX dims of a tfjs shape: null becomes 'batch' for the first axis and `<name>_dim<i>` for others. */
const onnxDims = (shape: readonly (number | null)[], name: string): OnnxDim[] => shape.map((d, i) => (d !== null ? d : i === 0 ? 'batch' : `${name}_dim${i}`));

/** One application of a layer in a model: its input and output symbolic tensors. */
type LayerNode = Layer['inboundNodes'][number];

const asList = (result: OnnxTensorRef | readonly OnnxTensorRef[]): readonly OnnxTensorRef[] => (Array.isArray(result) ? (result as readonly OnnxTensorRef[]) : [result as OnnxTensorRef]);

/** One export: walks the model's nodes in order, asks converters for each layer and keeps the tensors' names and layouts. */
class ModelExporter implements ConversionContext {
  readonly graph = new OnnxGraphBuilder();
  /** The tensor of each tfjs symbolic tensor, by its id. */
  private readonly tensors = new Map<number, ExportTensor>();
  /** The same values in the other layout: tensor name → layout → name. */
  private readonly layouts = new Map<string, Map<TensorLayout, string>>();
  private readonly nodeOf = new Map<Layer, LayerNode>();
  private readonly consumers = new Map<Layer, Set<Layer>>();
  private readonly modelOutputLayers = new Set<Layer>();
  private readonly folded = new Set<Layer>();
  private readonly scales = new Map<string, number>();
  private converting: Layer | undefined;

  constructor(
    private readonly model: tfl.LayersModel,
    private readonly converters: Readonly<Record<string, LayerConverter>>,
    private readonly int8Ranges: ReadonlyMap<string, ActivationRange> | undefined,
  ) {
    for (const node of Object.values(model.nodesByDepth).flat()) {
      const layer = node.outboundLayer as Layer;
      if (this.nodeOf.has(layer)) throw new TypeError(`exportOnnx: layer '${layer.name}' is applied more than once in model '${model.name}'; shared layers are not supported (give each use its own layer).`);
      this.nodeOf.set(layer, node);
      for (const input of node.inputTensors) {
        const source = input.sourceLayer as Layer;
        this.consumers.set(source, (this.consumers.get(source) ?? new Set()).add(layer));
      }
    }
    for (const output of model.outputs) this.modelOutputLayers.add(output.sourceLayer as Layer);
  }

  build(): OnnxGraphBuilder {
    for (const input of this.model.inputs) this.addModelInput(input);
    // The ONNX outputs carry the tfjs output names; the nodes inside get other names.
    const outputNames = this.model.outputs.map((output, i) => this.model.outputNames[i] ?? output.sourceLayer.name);
    for (const name of new Set(outputNames)) this.graph.reserveOutputName(name);
    for (const layer of this.model.layers) if (layer.getClassName() !== 'InputLayer') this.convertLayer(layer);
    this.model.outputs.forEach((output, i) => {
      const tensor = this.tensorOf(output);
      const name = outputNames[i];
      this.graph.addOutput(this.inLayout(tensor, 'tfjs'), name, onnxDims(output.shape, name), elementType(output.dtype, `output '${name}'`));
    });
    return this.graph;
  }

  inLayout(tensor: ExportTensor, layout: TensorLayout): string {
    const perm = layoutPermutation(tensor.shape.length, tensor.layout, layout);
    if (perm === undefined) return tensor.name;
    const known = this.layouts.get(tensor.name)?.get(layout);
    if (known !== undefined) return known;
    const transposed = this.graph.addNode('Transpose', [tensor.name], `${tensor.name}_${layout === 'tfjs' ? 'tfjs' : 'nchw'}`, { perm: { ints: perm } })[0];
    this.remember(tensor.name, tensor.layout, transposed, layout);
    return transposed;
  }

  soleConsumer(layer: Layer): Layer | undefined {
    const readers = this.consumers.get(layer);
    if (readers === undefined || readers.size !== 1 || this.modelOutputLayers.has(layer)) return undefined;
    return [...readers][0];
  }

  fold(layer: Layer): void {
    const converting = this.converting;
    if (converting === undefined || this.soleConsumer(converting) !== layer || layer.inboundNodes.length === 0 || this.nodeOf.get(layer)?.inputTensors.length !== 1) {
      throw new RangeError(`exportOnnx: layer '${layer.name}' cannot be folded into '${converting?.name}'; only a single-input layer that alone reads the converted layer's output can be.`);
    }
    this.folded.add(layer);
  }

  quantizationScale(tensor: string): number | undefined {
    return this.scales.get(tensor);
  }

  private remember(a: string, aLayout: TensorLayout, b: string, bLayout: TensorLayout): void {
    for (const [name, layout, other] of [[a, bLayout, b], [b, aLayout, a]] as const) {
      this.layouts.set(name, (this.layouts.get(name) ?? new Map<TensorLayout, string>()).set(layout, other));
    }
  }

  /** A graph input with the tfjs input's name and shape; a 4-D float input (an NHWC image batch) goes channels-first at once. */
  private addModelInput(input: tfl.SymbolicTensor): void {
    const layer = input.sourceLayer as Layer;
    const shape = input.shape;
    const name = this.graph.addInput(layer.name, onnxDims(shape, layer.name), elementType(input.dtype, `input '${layer.name}'`));
    let tensor: ExportTensor = { name, layout: 'tfjs', shape, dtype: input.dtype };
    if (shape.length === 4 && input.dtype === 'float32') tensor = { ...tensor, name: this.inLayout(tensor, 'channels-first'), layout: 'channels-first' };
    this.tensors.set(input.id, this.quantized(layer, tensor));
  }

  private convertLayer(layer: Layer): void {
    const node = this.nodeOf.get(layer);
    if (node === undefined) throw new TypeError(`exportOnnx: layer '${layer.name}' is not connected in model '${this.model.name}'.`);
    const inputs = node.inputTensors.map((t) => this.tensorOf(t));
    let refs: readonly OnnxTensorRef[];
    if (this.folded.has(layer)) {
      refs = inputs;
    } else {
      const className = layer.getClassName();
      const convert = Object.prototype.hasOwnProperty.call(this.converters, className) ? this.converters[className] : undefined;
      if (convert === undefined) {
        throw new TypeError(`exportOnnx: layer '${layer.name}' of class ${className} is not supported (converters exist for ${Object.keys(this.converters).join(', ')}); pass one with modelToOnnx(model, { converters: { ${className}: … } }).`);
      }
      this.converting = layer;
      refs = asList(convert(layer, inputs, this));
      this.converting = undefined;
    }
    const outputs = node.outputTensors;
    if (refs.length !== outputs.length || refs.some((r) => typeof r?.name !== 'string' || !['tfjs', 'channels-first'].includes(r.layout))) {
      throw new TypeError(
        `exportOnnx: the converter for ${layer.getClassName()} returned ${JSON.stringify(refs.map((r) => ({ name: r?.name, layout: r?.layout })))} for layer '${layer.name}'; ` +
          `expected ${outputs.length} tensor(s) { name, layout: 'tfjs' | 'channels-first' }, one per output of the layer.`,
      );
    }
    outputs.forEach((output, k) => {
      const tensor: ExportTensor = { name: refs[k].name, layout: refs[k].layout, shape: output.shape, dtype: output.dtype };
      this.tensors.set(output.id, outputs.length === 1 ? this.quantized(layer, tensor) : tensor);
    });
  }

  /** With int8 ranges, a QuantizeLinear → DequantizeLinear pair after the outputs of the layers whose outputs are quantized. */
  private quantized(layer: Layer, tensor: ExportTensor): ExportTensor {
    const range = this.int8Ranges?.get(layer.name);
    if (range === undefined || !isQuantizedOutput(layer, this.soleConsumer(layer))) return tensor;
    const { name, scale } = addQdq(this.graph, tensor.name, range, layer.name);
    this.scales.set(name, scale);
    return { ...tensor, name };
  }

  private tensorOf(symbolic: tfl.SymbolicTensor): ExportTensor {
    const tensor = this.tensors.get(symbolic.id);
    if (tensor === undefined) throw new Error(`exportOnnx: tensor '${symbolic.name}' of layer '${symbolic.sourceLayer.name}' is used before it is computed; is the model's layer order topological?`);
    return tensor;
  }
}
