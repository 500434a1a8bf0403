/** Builds an ONNX ModelProto with onnx-proto (protobufjs): initializers, nodes, inputs, outputs, metadata. */
import { onnx } from 'onnx-proto';

export const OPSET = 13;
const IR_VERSION = 7;

type Attribute = number | number[] | string | { floats: number[] };

export class OnnxGraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();

  /** A tensor name not used yet, derived from `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  addFloatInitializer(base: string, values: Float32Array | number[], dims: number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims, rawData: new Uint8Array(Float32Array.from(values).buffer) });
    return name;
  }

  addInt64Initializer(base: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType: onnx.TensorProto.DataType.INT64, dims, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
    return name;
  }

  addTypedInitializer(base: string, dataType: onnx.TensorProto.DataType, bytes: Uint8Array, dims: number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType, dims, rawData: bytes });
    return name;
  }

  /** Adds a node; returns its output names (fresh names derived from `name`). */
  addNode(opType: string, inputs: string[], name: string, attributes: Record<string, Attribute> = {}, outputCount = 1): string[] {
    const nodeName = this.unique(name);
    const outputs = Array.from({ length: outputCount }, (_, i) => (i === 0 ? nodeName : this.unique(`${nodeName}:${i}`)));
    this.nodes.push({ opType, name: nodeName, input: inputs, output: outputs, attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)) });
    return outputs;
  }

  addInput(name: string, shape: (number | string)[]): string {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, shape));
    return name;
  }

  /**
   * Declares `tensor` a graph output called `name` (through an Identity when the names differ; when an
   * inner tensor already has that name, the output is called `<name>_output`).
   */
  addOutput(tensor: string, name: string, shape: (number | string)[]): void {
    let out = tensor;
    if (tensor !== name) {
      out = this.usedNames.has(name) ? this.unique(`${name}_output`) : this.unique(name);
      this.nodes.push({ opType: 'Identity', name: `${out}_identity`, input: [tensor], output: [out] });
    }
    this.outputs.push(valueInfo(out, shape));
  }

  toBytes(graphName: string, metadata: Record<string, string>): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'mobilenets.ts',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: OPSET }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, value: Attribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'object') return { name, type: T.FLOATS, floats: value.floats };
  return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
}

function valueInfo(name: string, shape: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}
