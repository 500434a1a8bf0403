/** Attributes carry their ONNX type explicitly: a whole-valued float stays a FLOAT, and onnxruntime accepts it. */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { OnnxGraphBuilder } from './graph-builder';
import { createSession, float32Output } from './session';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-graph-builder-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('typed attributes', () => {
  it('Gemm with alpha 1.0 and beta 1.0 (FLOAT) and transB 1 (INT), and Elu with alpha 2.0, run in onnxruntime', async () => {
    const g = new OnnxGraphBuilder();
    const x = g.addInput('x', ['batch', 2]);
    const w = g.addFloatInitializer('w', [1, 2, 3, 4, 5, 6], [3, 2]); // [out, in], used transposed
    const b = g.addFloatInitializer('b', [0.5, -0.5, 1], [3]);
    const gemm = g.addNode('Gemm', [x, w, b], 'gemm', { alpha: { float: 1 }, beta: { float: 1 }, transB: { int: 1 } })[0];
    g.addOutput(g.addNode('Elu', [gemm], 'elu', { alpha: { float: 2 } })[0], 'y', ['batch', 3]);
    const bytes = g.toBytes('typed-attributes', {});

    const nodes = onnx.ModelProto.decode(bytes).graph!.node!;
    const T = onnx.AttributeProto.AttributeType;
    const types = Object.fromEntries(nodes.flatMap((n) => (n.attribute ?? []).map((a) => [`${n.opType}.${a.name}`, a.type])));
    expect(types).toEqual({ 'Gemm.alpha': T.FLOAT, 'Gemm.beta': T.FLOAT, 'Gemm.transB': T.INT, 'Elu.alpha': T.FLOAT });

    const file = path.join(dir, 'gemm.onnx');
    await fs.writeFile(file, bytes);
    const session = await createSession(file);
    const y = float32Output(await session.run({ x: { data: Float32Array.from([1, -1, -2, 0.5]), dims: [2, 2] } }), 'y');
    await session.dispose();
    // x·wᵀ + b = [[-0.5, -1.5, 0], [-0.5, -5.5, -6.5]]; Elu(α = 2) = 2(eˣ − 1) below zero.
    const linear = [-1 + 0.5, -1 - 0.5, -1 + 1, -1 + 0.5, -4 - 0.5, -7 + 1];
    const expected = linear.map((v) => (v > 0 ? v : 2 * Math.expm1(v)));
    expected.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });

  it('rejects a non-integer INT, an attribute of no type and one of several types', () => {
    const g = new OnnxGraphBuilder();
    const x = g.addInput('x', [1]);
    expect(() => g.addNode('Flatten', [x], 'f', { axis: { int: 1.5 } })).toThrow(RangeError);
    expect(() => g.addNode('Flatten', [x], 'f', { axis: { int: 1.5 } })).toThrow("attribute 'axis' of Flatten is an INT holding 1.5; expected a whole number (use { float: … } for a FLOAT attribute)");
    expect(() => g.addNode('Flatten', [x], 'f', { axis: {} as { int: number } })).toThrow(TypeError);
    expect(() => g.addNode('Flatten', [x], 'f', { axis: { int: 1, float: 1 } as unknown as { int: number } })).toThrow('has keys [int, float]; expected exactly one of int, ints, float, floats, string');
    expect(() => g.addNode('Elu', [x], 'e', { alpha: { float: '2' as unknown as number } })).toThrow(TypeError);
  });

  it('keeps reserved output names for the outputs, and names clashing inputs clearly', () => {
    const g = new OnnxGraphBuilder();
    const x = g.addInput('x', [1]);
    g.reserveOutputName('y');
    const inner = g.addNode('Relu', [x], 'y')[0];
    expect(inner).not.toBe('y');
    expect(g.addOutput(inner, 'y', [1])).toBe('y');
    expect(() => g.addInput('x', [1])).toThrow("input name 'x' is already used");
  });
});
