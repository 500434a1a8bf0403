/**
 * The operations the training-step compiler writes with: thin helpers over the graph builder that
 * name every node after the layer it belongs to, and keep the shapes (all static: one graph per batch
 * size) so emitters can plan reshapes without asking onnxruntime.
 */
import type { OnnxAttribute } from '../onnx/graph-builder';
import { OnnxGraphBuilder } from '../onnx/graph-builder';

/** A tensor of the step graph: its name and static shape (4-D feature maps are NCHW). */
export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  /** The same tensor in onnxruntime's blocked NCHWc layout, when a layer computed it so (./nchwc.ts). */
  readonly nchwc?: string;
  /**
   * The tensor is scale·source + shift per channel (a batch norm's output): a following activation can
   * compute both in one pass from the source, and the tensor itself is then never computed (the step's
   * unused nodes are pruned).
   */
  readonly affine?: { source: Value; scale: string; shift: string };
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export class StepOps {
  private readonly constants = new Map<string, string>();

  constructor(readonly graph: OnnxGraphBuilder) {}

  /** One node with one output. */
  node(opType: string, inputs: readonly string[], name: string, attributes: Record<string, OnnxAttribute> = {}): string {
    return this.graph.addNode(opType, inputs, name, attributes)[0];
  }

  /** A float32 constant, shared by every node that asks for the same value and shape. */
  float(value: number, dims: readonly number[] = []): string {
    const key = `f${value}:${dims.join('x')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.graph.addFloatInitializer(`const_${value}`, new Float32Array(product(dims)).fill(value), dims);
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant (shapes, axes, pads), shared. */
  int64s(values: readonly number[]): string {
    const key = `i${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.graph.addInt64Initializer(`const_i64`, values);
      this.constants.set(key, name);
    }
    return name;
  }

  add(a: string, b: string, name: string): string {
    return this.node('Add', [a, b], name);
  }

  sub(a: string, b: string, name: string): string {
    return this.node('Sub', [a, b], name);
  }

  mul(a: string, b: string, name: string): string {
    return this.node('Mul', [a, b], name);
  }

  div(a: string, b: string, name: string): string {
    return this.node('Div', [a, b], name);
  }

  scale(a: string, factor: number, name: string): string {
    return factor === 1 ? a : this.mul(a, this.float(factor), name);
  }

  reshape(x: string, dims: readonly number[], name: string): string {
    return this.node('Reshape', [x, this.int64s(dims)], name);
  }

  transpose(x: string, perm: readonly number[], name: string): string {
    return this.node('Transpose', [x], name, { perm: { ints: perm } });
  }

  /** Sum over `axes` (ReduceSum takes them as an input from opset 13). */
  reduceSum(x: string, axes: readonly number[], name: string, keepDims = false): string {
    return this.node('ReduceSum', [x, this.int64s(axes)], name, { keepdims: { int: keepDims ? 1 : 0 } });
  }

  /**
   * Per-channel sum of an NCHW map, as a [C] vector: over H and W first, then over N — two passes that
   * onnxruntime runs 2–3× faster than one reduction over (0, 2, 3) (reference/ort_training.md).
   */
  channelSum(x: string, name: string): string {
    return this.reduceSum(this.reduceSum(x, [2, 3], `${name}_hw`), [0], name);
  }

  /** A [C] vector as [1, C, 1, 1], to broadcast over an NCHW map. */
  perChannel(v: string, channels: number, name: string): string {
    return this.reshape(v, [1, channels, 1, 1], name);
  }
}
