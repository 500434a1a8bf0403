/** Builds an ONNX ModelProto with onnx-proto (protobufjs): initializers, nodes, inputs, outputs, metadata. */
import { onnx } from 'onnx-proto';

export const OPSET = 13;
const IR_VERSION = 7;

/**
 * A node attribute with its ONNX type spelled out: `{ float: 1 }` is a FLOAT 1.0 (onnxruntime rejects
 * an INT where the operator expects a float, e.g. Gemm's alpha), `{ int: 1 }` an INT.
 */
export type OnnxAttribute = { int: number } | { ints: readonly number[] } | { float: number } | { floats: readonly number[] } | { string: string };

/** Element types of graph inputs, outputs and initializers, by onnxruntime's names. */
export type OnnxElementType = 'float32' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';

const DataType = onnx.TensorProto.DataType;

const ELEMENT_TYPES: Record<OnnxElementType, onnx.TensorProto.DataType> = {
  float32: DataType.FLOAT,
  int32: DataType.INT32,
  int64: DataType.INT64,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

/** A dimension of a graph input or output: a size, or a name for a size known only at run time ('batch'). */
export type OnnxDim = number | string;

export class OnnxGraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly reserved = new Set<string>();
  /** Operator domains besides the default one that nodes use, with their opset versions. */
  private readonly domains = new Map<string, number>();

  /**
   * `opset`: the default domain's opset (default {@link OPSET}); the IR version follows it (8 from opset
   * 15). The training step uses 15, for BatchNormalization's training mode.
   */
  constructor(private readonly opset: number = OPSET) {}

  /** A tensor name not used yet, derived from `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  addFloatInitializer(base: string, values: Float32Array | readonly number[], dims: readonly number[]): string {
    return this.addTypedInitializer(base, DataType.FLOAT, new Uint8Array(Float32Array.from(values).buffer), dims);
  }

  addInt64Initializer(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    for (const v of values) if (!Number.isSafeInteger(v)) throw new RangeError(`OnnxGraphBuilder: int64 initializer '${base}' holds ${v}; expected whole numbers within ±2^53.`);
    return this.addTypedInitializer(base, DataType.INT64, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer), dims);
  }

  /** An initializer from raw little-endian bytes of `dataType` elements. */
  addTypedInitializer(base: string, dataType: onnx.TensorProto.DataType, bytes: Uint8Array, dims: readonly number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType, dims: [...dims], rawData: bytes });
    return name;
  }

  /**
   * Adds a node; returns its output names (fresh names derived from `name`). `domain` names an operator
   * set other than ONNX's own (e.g. onnxruntime's 'com.microsoft.nchwc', version 1).
   */
  addNode(opType: string, inputs: readonly string[], name: string, attributes: Record<string, OnnxAttribute> = {}, outputCount = 1, domain?: { name: string; version: number }): string[] {
    const encoded = Object.entries(attributes).map(([key, value]) => attribute(opType, key, value));
    const nodeName = this.unique(name);
    const outputs = Array.from({ length: outputCount }, (_, i) => (i === 0 ? nodeName : this.unique(`${nodeName}:${i}`)));
    this.nodes.push({ opType, name: nodeName, input: [...inputs], output: outputs, attribute: encoded, ...(domain === undefined ? {} : { domain: domain.name }) });
    if (domain !== undefined) this.domains.set(domain.name, domain.version);
    return outputs;
  }

  addInput(name: string, shape: readonly OnnxDim[], elementType: OnnxElementType = 'float32'): string {
    if (this.usedNames.has(name)) throw new RangeError(`OnnxGraphBuilder: input name '${name}' is already used by another tensor; give every model input a distinct name.`);
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, shape, elementType));
    return name;
  }

  /** Keeps `name` free for an output added later with addOutput (nodes added meanwhile get other names). */
  reserveOutputName(name: string): void {
    if (this.usedNames.has(name)) throw new RangeError(`OnnxGraphBuilder: output name '${name}' is already used by another tensor; give every model input and output a distinct name.`);
    this.usedNames.add(name);
    this.reserved.add(name);
  }

  /**
   * Declares `tensor` a graph output called `name` (through an Identity when the names differ; when an
   * inner tensor already has that name and it was not reserved, the output is called `<name>_output`).
   * Returns the output's name.
   */
  addOutput(tensor: string, name: string, shape: readonly OnnxDim[], elementType: OnnxElementType = 'float32'): string {
    let out = tensor;
    if (this.reserved.has(name)) {
      this.reserved.delete(name);
      out = name;
      this.nodes.push({ opType: 'Identity', name: `${out}_identity`, input: [tensor], output: [out] });
    } else if (tensor !== name || this.outputs.some((o) => o.name === tensor) || this.inputs.some((i) => i.name === tensor)) {
      out = this.usedNames.has(name) ? this.unique(`${name}_output`) : this.unique(name);
      this.nodes.push({ opType: 'Identity', name: `${out}_identity`, input: [tensor], output: [out] });
    }
    this.outputs.push(valueInfo(out, shape, elementType));
    return out;
  }

  /**
   * Declares `tensor` a graph output called `name` by renaming it, when a node of this graph computes it,
   * it is no input or output yet and `name` is free: no Identity node, so onnxruntime copies nothing when
   * another node also reads the tensor. Otherwise as addOutput. Returns the output's name.
   */
  addOutputRenamed(tensor: string, name: string, shape: readonly OnnxDim[], elementType: OnnxElementType = 'float32'): string {
    const producer = this.nodes.find((n) => n.output?.includes(tensor));
    const isOutput = this.outputs.some((o) => o.name === tensor) || this.inputs.some((i) => i.name === tensor);
    if (producer === undefined || isOutput || this.usedNames.has(name)) return this.addOutput(tensor, name, shape, elementType);
    this.usedNames.add(name);
    for (const node of this.nodes) {
      node.input = node.input?.map((i) => (i === tensor ? name : i));
      node.output = node.output?.map((o) => (o === tensor ? name : o));
    }
    this.outputs.push(valueInfo(name, shape, elementType));
    return name;
  }

  /**
   * Removes the nodes no graph output depends on, and the initializers no remaining node reads
   * (onnxruntime runs every node it is given). Returns how many nodes it removed.
   */
  prune(): number {
    const needed = new Set(this.outputs.map((o) => o.name as string));
    const kept: onnx.INodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (!(node.output ?? []).some((o) => needed.has(o))) continue;
      kept.push(node);
      for (const input of node.input ?? []) needed.add(input);
    }
    const removed = this.nodes.length - kept.length;
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    const initializers = this.initializers.filter((t) => needed.has(t.name as string));
    this.initializers.splice(0, this.initializers.length, ...initializers);
    return removed;
  }

  toBytes(graphName: string, metadata: Record<string, string>): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: this.opset >= 15 ? 8 : IR_VERSION,
      producerName: 'mobilenets.ts',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: this.opset }, ...[...this.domains].map(([domain, version]) => ({ domain, version }))],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(opType: string, name: string, value: OnnxAttribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const where = `OnnxGraphBuilder: attribute '${name}' of ${opType}`;
  const keys = Object.keys(value);
  if (keys.length !== 1) throw new TypeError(`${where} has keys [${keys.join(', ')}]; expected exactly one of int, ints, float, floats, string (e.g. { float: 1 }).`);
  const integer = (v: unknown) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new RangeError(`${where} is an INT holding ${String(v)}; expected a whole number (use { float: … } for a FLOAT attribute).`);
    return v;
  };
  const real = (v: unknown) => {
    if (typeof v !== 'number') throw new TypeError(`${where} is a FLOAT holding ${typeof v} ${String(v)}; expected a number.`);
    return v;
  };
  if ('int' in value) return { name, type: T.INT, i: integer(value.int) };
  if ('ints' in value) return { name, type: T.INTS, ints: value.ints.map(integer) };
  if ('float' in value) return { name, type: T.FLOAT, f: real(value.float) };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats.map(real) };
  if ('string' in value && typeof value.string === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value.string) };
  throw new TypeError(`${where} is ${JSON.stringify(value)}; expected one of { int }, { ints }, { float }, { floats }, { string }.`);
}

function valueInfo(name: string, shape: readonly OnnxDim[], elementType: OnnxElementType): onnx.IValueInfoProto {
  const elemType = ELEMENT_TYPES[elementType];
  if (elemType === undefined) throw new RangeError(`OnnxGraphBuilder: '${name}' has element type '${String(elementType)}'; expected one of ${Object.keys(ELEMENT_TYPES).join(', ')}.`);
  return { name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}
