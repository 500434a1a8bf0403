/**
 * Export parity: onnxruntime runs the exported graph and gives what tfjs gives, for V1 and V2 at
 * α ∈ {1, 0.5, 0.25} × {224, 160, 96}, random weights and the trained face-api MobileNetV1 body.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadSlimMobileNetV1Weights, mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { readFaceApiWeights } from '../pretrained/face-api';
import { calibrateRanges, exportOnnx, modelToOnnx } from './export';
import { onnx } from 'onnx-proto';
import { createSession } from './session';
import { uniformArray as seededUniform } from '@mobilenets/random';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-export-'));
});

afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const images = (batch: number, size: number, seed: number) => seededUniform(batch * size * size * 3, seed);

async function compare(model: tfl.LayersModel, file: string, batch = 2): Promise<{ maxAbs: number; maxRelative: number }> {
  await exportOnnx(model, file);
  const session = await createSession(file);
  const size = model.inputs[0].shape[1] as number;
  const x = images(batch, size, 7);
  const expected = tf.tidy(() => (model.predict(tf.tensor(x, [batch, size, size, 3])) as tf.Tensor).dataSync().slice());
  const outputs = await session.run(x, [batch, size, size, 3]);
  await session.dispose();
  const actual = Object.values(outputs)[0].data;
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { maxAbs, maxRelative: maxAbs / scale };
}

const GRID: [string, number, number][] = [];
for (const arch of ['v1', 'v2']) for (const alpha of [1, 0.5, 0.25]) for (const size of [224, 160, 96]) GRID.push([arch, alpha, size]);

describe('onnxruntime matches tfjs', () => {
  it.each(GRID)('%s α=%f %i px: probabilities within 1e-4, logits within 1e-4 relative', async (arch, alpha, size) => {
    const build = arch === 'v1' ? mobilenetV1 : mobilenetV2;
    const model = build({ widthMultiplier: alpha, inputSize: size, classes: 10 });
    const logitsLayer = model.getLayer('Logits');
    const [kernel] = logitsLayer.getWeights(); // the layer's own variables: not to be disposed
    const bias = tf.tensor1d(images(1, 2, 3).slice(0, 10).map((v) => 2 * v)); // a trained-looking, non-zero bias
    logitsLayer.setWeights([kernel, bias]);
    bias.dispose();
    const probabilities = await compare(model, path.join(dir, `${arch}-${alpha}-${size}.onnx`));
    expect(probabilities.maxAbs).toBeLessThan(1e-4);
    const logits = tfl.model({ inputs: model.inputs, outputs: model.getLayer('Logits').output as tfl.SymbolicTensor });
    expect((await compare(logits, path.join(dir, `${arch}-${alpha}-${size}-logits.onnx`))).maxRelative).toBeLessThan(1e-4);
    model.dispose();
  });

  it('trained weights (face-api MobileNetV1 body), a 4-D NHWC feature-map output', async () => {
    const weights = await readFaceApiWeights('ssd_mobilenetv1_model');
    const model = mobilenetV1({ inputSize: 160, includeTop: false });
    loadSlimMobileNetV1Weights(model, weights);
    tf.dispose(Object.values(weights));
    const { maxRelative } = await compare(model, path.join(dir, 'face-api-body.onnx'), 1);
    expect(maxRelative).toBeLessThan(1e-4);
    model.dispose();
  });
});

describe('int8 (QDQ) export', () => {
  it.each([
    ['v1', () => mobilenetV1({ widthMultiplier: 0.5, inputSize: 96, includeTop: false, pooling: 'avg' })],
    ['v2', () => mobilenetV2({ widthMultiplier: 0.5, inputSize: 96, includeTop: false, pooling: 'avg' })],
  ])('%s: quantize/dequantize pairs around every convolution, outputs within a few percent of fp32', async (_arch, build) => {
    const model = build();
    const calibration = [0, 1, 2].map((k) => tf.tensor4d(images(4, 96, 100 + k), [4, 96, 96, 3]));
    const ranges = calibrateRanges(model, calibration);
    tf.dispose(calibration);
    const graph = onnx.ModelProto.decode(modelToOnnx(model, { int8Ranges: ranges })).graph!;
    const ops = graph.node!.map((n) => n.opType);
    const convs = ops.filter((o) => o === 'Conv').length;
    expect(ops.filter((o) => o === 'QuantizeLinear').length).toBeGreaterThanOrEqual(convs);
    expect(graph.initializer!.filter((t) => t.dataType === onnx.TensorProto.DataType.INT8 && t.dims!.length === 4)).toHaveLength(convs);

    const fp32 = path.join(dir, `${_arch}-fp32.onnx`);
    const int8 = path.join(dir, `${_arch}-int8.onnx`);
    await exportOnnx(model, fp32);
    await exportOnnx(model, int8, { int8Ranges: ranges });
    const x = images(2, 96, 7);
    const run = async (file: string) => {
      const session = await createSession(file);
      const out = Object.values(await session.run(x, [2, 96, 96, 3]))[0].data;
      await session.dispose();
      return out;
    };
    const [a, b] = [await run(fp32), await run(int8)];
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += a[i] ** 2;
    }
    const relativeError = Math.sqrt(num / den);
    expect(relativeError).toBeGreaterThan(0); // it really is quantized
    expect(relativeError).toBeLessThan(0.1);
    model.dispose();
  });
});

describe('export and session errors', () => {
  it('names an unsupported layer and its class', async () => {
    const input = tfl.input({ shape: [8, 8, 3] });
    const output = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    await expect(exportOnnx(model, path.join(dir, 'bad.onnx'))).rejects.toThrow("layer 'pool' of class MaxPooling2D is not supported");
  });

  it('reports a missing file, a corrupt file and a wrong input shape clearly', async () => {
    await expect(createSession(path.join(dir, 'missing.onnx'))).rejects.toThrow(/cannot read ONNX model .*missing\.onnx/);
    const corrupt = path.join(dir, 'corrupt.onnx');
    await fs.writeFile(corrupt, Buffer.from('not a protobuf at all'));
    await expect(createSession(corrupt)).rejects.toThrow(/corrupt\.onnx is not a valid ONNX model/);
    const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 96, classes: 3 });
    const file = path.join(dir, 'shape.onnx');
    await exportOnnx(model, file, { labels: ['a', 'b', 'c'], metadata: { arch: 'v1', alpha: 0.25, inputSize: 96 } });
    const session = await createSession(file);
    expect(session.labels).toEqual(['a', 'b', 'c']);
    const bytes = new Uint8Array(96 * 96 * 3).map((_, i) => (i * 7) % 256);
    const viaBytes = Object.values(await session.runImages([bytes]))[0].data;
    const viaFloats = Object.values(await session.run(Float32Array.from(bytes, (b) => b / 127.5 - 1), [1, 96, 96, 3]))[0].data;
    expect(Array.from(viaBytes)).toEqual(Array.from(viaFloats));
    await expect(session.runImages([new Uint8Array(10)])).rejects.toThrow('image 0 has 10 bytes; expected 96×96×3 = 27648');
    expect(session.metadata.arch).toBe('v1');
    await expect(session.run(new Float32Array(128 * 128 * 3), [1, 128, 128, 3])).rejects.toThrow('input must have shape [batch, 96, 96, 3]; received shape [1, 128, 128, 3]');
    await session.dispose();
    model.dispose();
  });
});
