/**
 * Portability: a classifier saved by `saveClassifier` (model.json + weights.bin through runtime's
 * fileSystem handler) loads in stock @tensorflow/tfjs-layers, with none of our classes registered (the
 * backbone's BatchNormalization and 'relu6' activation), and predicts what the original model predicts.
 * The stock side runs in a separate plain Node process that requires only tfjs-core, tfjs-backend-cpu
 * and tfjs-layers, so nothing of this process (registered classes, kernels) can leak into it.
 */
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildClassifier, saveClassifier } from './model-io';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * Run with `node -e SCRIPT <model dir> <input.bin> <input shape JSON>`: loads the model with
 * tf.io.fromMemory, predicts on the float32 input and prints {output, ownModules} as JSON, where
 * ownModules lists every loaded file outside node_modules (there must be none).
 */
const STOCK_TFJS_SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');
const [dir, inputFile, shapeJson] = process.argv.slice(1);
(async () => {
  await tf.setBackend('cpu');
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weights = fs.readFileSync(path.join(dir, modelJson.weightsManifest[0].paths[0]));
  const model = await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest[0].weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }));
  const bytes = fs.readFileSync(inputFile);
  const x = tf.tensor(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), JSON.parse(shapeJson));
  const output = Array.from(model.predict(x).dataSync());
  const ownModules = Object.keys(require.cache).filter((f) => !f.split(path.sep).includes('node_modules'));
  process.stdout.write(JSON.stringify({ output, ownModules }));
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exitCode = 1;
});
`;

let tmp: string;
beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classify-portable-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Non-trivial weights everywhere, so a batch norm loaded wrongly (or not at all) changes the output: moving variances in [0.5, 1.5). */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const weights = layer.weights.map((w) =>
      tf.tidy(() => {
        const values = tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', s++);
        return w.originalName.endsWith('moving_variance') ? tf.add(tf.abs(values), 0.5) : values;
      }),
    );
    if (weights.length > 0) layer.setWeights(weights);
    tf.dispose(weights);
  }
}

describe('models saved by saveClassifier load in stock tfjs-layers', () => {
  it.each([
    ['v1', 0.25],
    ['v2', 0.35],
  ] as const)('MobileNet%s α=%f: stock tfjs-layers in a plain Node process predicts the same within 1e-4', async (arch, alpha) => {
    const model = buildClassifier({ arch, alpha, inputSize: 64 }, 5);
    randomizeWeights(model, 11);
    const dir = path.join(tmp, arch);
    await saveClassifier(dir, model, ['a', 'b', 'c', 'd', 'e']);

    const shape = [2, 64, 64, 3];
    const input = Float32Array.from({ length: 2 * 64 * 64 * 3 }, (_, i) => Math.sin(i * 0.37));
    const inputFile = path.join(tmp, `${arch}-input.bin`);
    fs.writeFileSync(inputFile, new Uint8Array(input.buffer));
    const expected = tf.tidy(() => Array.from((model.predict(tf.tensor(input, shape)) as tf.Tensor).dataSync()));
    model.dispose();

    const child = spawnSync(process.execPath, ['-e', STOCK_TFJS_SCRIPT, dir, inputFile, JSON.stringify(shape)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr.replace(/=+\nHi, looks like you are running TensorFlow.js in Node.js[^=]*=+\n?/, '').trim()).toBe('');
    expect(child.status).toBe(0);
    const stock = JSON.parse(child.stdout) as { output: number[]; ownModules: string[] };
    expect(stock.ownModules).toEqual([]);
    expect(stock.output).toHaveLength(expected.length);
    const maxAbs = Math.max(...stock.output.map((v, i) => Math.abs(v - expected[i])));
    expect(maxAbs).toBeLessThan(1e-4);
    // The outputs are probabilities that differ between inputs: a model that lost its weights would not match.
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
  });
});
