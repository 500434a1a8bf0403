/** OnnxModel: named, typed inputs and outputs; runImages with the stored preprocessing; clear errors. */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { mobilenetV1 } from '@mobilenets/backbone';
import { exportOnnx } from './export';
import { OnnxGraphBuilder } from './graph-builder';
import { MOBILENET_PREPROCESSING } from './preprocessing';
import { type OnnxModel, createSession, float32Output, int64ToNumbers } from './session';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-session-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** x float32 [batch, 3] and k int32 [batch, 3] → sum = x + k (float32), argmax of x (int64), x truncated (int32). */
async function typedModel(): Promise<OnnxModel> {
  const g = new OnnxGraphBuilder();
  const T = onnx.TensorProto.DataType;
  const x = g.addInput('x', ['batch', 3]);
  const k = g.addInput('k', ['batch', 3], 'int32');
  const sum = g.addNode('Add', [x, g.addNode('Cast', [k], 'k_float', { to: { int: T.FLOAT } })[0]], 'add')[0];
  g.addOutput(sum, 'sum', ['batch', 3]);
  g.addOutput(g.addNode('ArgMax', [x], 'argmax_node', { axis: { int: 1 }, keepdims: { int: 0 } })[0], 'argmax', ['batch'], 'int64');
  g.addOutput(g.addNode('Cast', [x], 'truncate', { to: { int: T.INT32 } })[0], 'as_int', ['batch', 3], 'int32');
  const file = path.join(dir, 'typed.onnx');
  await fs.writeFile(file, g.toBytes('typed', {}));
  return createSession(file);
}

describe('named inputs, typed outputs', () => {
  it('exposes input and output names, types and shapes', async () => {
    const model = await typedModel();
    expect(model.inputNames).toEqual(['x', 'k']);
    expect(model.outputNames).toEqual(['sum', 'argmax', 'as_int']);
    expect(model.inputs).toEqual([
      { name: 'x', type: 'float32', dims: ['batch', 3] },
      { name: 'k', type: 'int32', dims: ['batch', 3] },
    ]);
    expect(model.outputs.map((o) => o.type)).toEqual(['float32', 'int64', 'int32']);
    await model.dispose();
  });

  it('float32 outputs come back as Float32Array, int64 as BigInt64Array, int32 as Int32Array', async () => {
    const model = await typedModel();
    const out = await model.run({
      x: { data: Float32Array.from([0.5, 2.7, -1, 9.25, 3, 4]), dims: [2, 3] },
      k: { data: Int32Array.from([1, 2, 3, -4, 5, 6]), dims: [2, 3] },
    });
    expect(out.sum.type).toBe('float32');
    expect(out.sum.data).toBeInstanceOf(Float32Array);
    expect(Array.from(float32Output(out, 'sum'))).toEqual([1.5, 4.7, 2, 5.25, 8, 10].map(Math.fround));
    expect(out.argmax.type).toBe('int64');
    expect(out.argmax.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(out.argmax.data as BigInt64Array)).toEqual([1n, 0n]);
    expect(int64ToNumbers(out.argmax.data as BigInt64Array)).toEqual([1, 0]);
    expect(out.as_int.type).toBe('int32');
    expect(Array.from(out.as_int.data as Int32Array)).toEqual([0, 2, -1, 9, 3, 4]);
    expect(out.as_int.dims).toEqual([2, 3]);
    expect(() => float32Output(out, 'argmax')).toThrow("output 'argmax' is int64; expected float32");
    expect(() => float32Output(out, 'nope')).toThrow("no output 'nope'; the outputs are 'sum', 'argmax', 'as_int'");
    expect(() => int64ToNumbers(BigInt64Array.from([2n ** 60n]))).toThrow(RangeError);
    await model.dispose();
  });

  it('says which inputs are missing or unknown, and which type or shape an input must have', async () => {
    const model = await typedModel();
    const x = { data: new Float32Array(3), dims: [1, 3] };
    const k = { data: new Int32Array(3), dims: [1, 3] };
    await expect(model.run({ x })).rejects.toThrow("the model's inputs are 'x', 'k'; received 'x' (missing 'k')");
    await expect(model.run({ x, k, extra: x })).rejects.toThrow(RangeError);
    await expect(model.run({ x, k: { data: new Float32Array(3), dims: [1, 3] } })).rejects.toThrow("input 'k' is int32 [batch, 3]; its data must be a Int32Array, received Float32Array");
    await expect(model.run({ x: { data: new Float32Array(4), dims: [1, 4] }, k })).rejects.toThrow("input 'x' must have shape [batch, 3] (names are free sizes); received shape [1, 4]");
    await expect(model.run({ x: { data: new Float32Array(5), dims: [1, 3] }, k })).rejects.toThrow("input 'x': shape [1, 3] holds 3 values; received 5");
    await model.dispose();
  });
});

describe('MobileNet files', () => {
  it('runImages applies the stored preprocessing to RGB bytes; labels and metadata are read back', async () => {
    const net = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const file = path.join(dir, 'with-preprocessing.onnx');
    await exportOnnx(net, file, { labels: ['a', 'b', 'c'], metadata: { arch: 'v1' }, preprocessing: MOBILENET_PREPROCESSING });
    const model = await createSession(file);
    expect(model.labels).toEqual(['a', 'b', 'c']);
    expect(model.metadata.arch).toBe('v1');
    expect(model.preprocessing).toEqual(MOBILENET_PREPROCESSING);
    const bytes = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 7) % 256);
    const viaBytes = float32Output(await model.runImages([bytes]), 'Predictions');
    const viaFloats = float32Output(await model.run({ input: { data: Float32Array.from(bytes, (b) => b / 127.5 - 1), dims: [1, 32, 32, 3] } }), 'Predictions');
    expect(Array.from(viaBytes)).toEqual(Array.from(viaFloats));
    await expect(model.runImages([new Uint8Array(10)])).rejects.toThrow('image 0 has 10 bytes; expected 32×32×3 = 3072');
    await expect(model.run({ input: { data: new Float32Array(64 * 64 * 3), dims: [1, 64, 64, 3] } })).rejects.toThrow("input 'input' must have shape [batch, 32, 32, 3]");
    await model.dispose();
    net.dispose();
  });

  it('without stored preprocessing, runImages needs it passed and says how to store it', async () => {
    const net = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const file = path.join(dir, 'plain.onnx');
    await exportOnnx(net, file);
    const model = await createSession(file);
    expect(model.preprocessing).toBeUndefined();
    const bytes = new Uint8Array(32 * 32 * 3).fill(200);
    await expect(model.runImages([bytes])).rejects.toThrow(/has no image preprocessing in its metadata\. Export it with exportOnnx\(model, file, \{ preprocessing: MOBILENET_PREPROCESSING \}\)/);
    const scaled = { ...MOBILENET_PREPROCESSING, scale: 1 / 255, offset: 0 };
    const viaBytes = float32Output(await model.runImages([bytes], scaled), 'Predictions');
    const viaFloats = float32Output(await model.run({ input: { data: new Float32Array(32 * 32 * 3).fill(200 / 255), dims: [1, 32, 32, 3] } }), 'Predictions');
    expect(Array.from(viaBytes)).toEqual(Array.from(viaFloats));
    await model.dispose();
    net.dispose();
  });

  it('reports a missing file and a corrupt file clearly', async () => {
    await expect(createSession(path.join(dir, 'missing.onnx'))).rejects.toThrow(/cannot read ONNX model .*missing\.onnx/);
    const corrupt = path.join(dir, 'corrupt.onnx');
    await fs.writeFile(corrupt, Buffer.from('not a protobuf at all'));
    await expect(createSession(corrupt)).rejects.toThrow(/corrupt\.onnx is not a valid ONNX model/);
  });
});
