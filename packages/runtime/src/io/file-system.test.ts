import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fileSystem } from './file-system';
import { crashingFileOps, makeTempDir, removeDir } from './testing';

beforeAll(async () => {
  tf.env().set('PROD', true); // no tfjs-node advert
  await tf.setBackend('cpu');
});

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

/** Dense → batch norm → dense: trainable and non-trainable weights. */
function smallModel(hidden: number): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: hidden, inputShape: [3], activation: 'relu' }));
  model.add(tfl.layers.batchNormalization());
  model.add(tfl.layers.dense({ units: 2, activation: 'softmax' }));
  // Non-default moving statistics, so that they visibly round-trip.
  const bn = model.layers[1];
  const shifted = bn.getWeights().map((w, i) => tf.tidy(() => tf.add(w, 0.1 * (i + 1))));
  bn.setWeights(shifted);
  tf.dispose(shifted);
  return model;
}

const input = () => tf.tensor2d([[0.5, -1, 2], [1, 0.25, -0.75]]);

function predict(model: tfl.LayersModel): number[] {
  return tf.tidy(() => Array.from((model.predict(input()) as tf.Tensor).dataSync()));
}

async function errorOf(promise: Promise<unknown>): Promise<Error & { cause?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('fileSystem()', () => {
  it('saves model.json and weights.bin in the tfjs layers format, and loads a model with identical predictions', async () => {
    const model = smallModel(4);
    model.setUserDefinedMetadata({ epoch: 7 });
    const result = await model.save(fileSystem(dir));
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(4 * (3 * 4 + 4 + 4 * 4 + 4 * 2 + 2));

    expect((await fsp.readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/^TensorFlow\.js tfjs-layers v4\./);
    expect(json.convertedBy).toBeNull();
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.userDefinedMetadata).toEqual({ epoch: 7 });
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(model.weights.map((w) => w.originalName));
    expect((await fsp.stat(path.join(dir, 'weights.bin'))).size).toBe(result.modelArtifactsInfo.weightDataBytes);

    const loaded = await tfl.loadLayersModel(fileSystem(dir));
    expect(predict(loaded)).toEqual(predict(model));
    expect(loaded.getUserDefinedMetadata()).toEqual({ epoch: 7 });
    model.dispose();
    loaded.dispose();
  });

  it('accepts weightData as one ArrayBuffer or several, and passes trainingConfig, signature and modelInitializer through', async () => {
    const bytes = new Float32Array([1, 2, 3, 4, 5, 6]);
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: { class_name: 'Sequential', config: {} },
      format: 'layers-model',
      generatedBy: 'test',
      convertedBy: null,
      weightSpecs: [{ name: 'a', shape: [2], dtype: 'float32' }, { name: 'b', shape: [4], dtype: 'float32' }],
      trainingConfig: { loss: 'meanSquaredError', optimizer_config: { class_name: 'SGD', config: { learningRate: 0.1 } } },
      signature: { inputs: {} },
      modelInitializer: { node: [] },
      initializerSignature: { outputs: {} },
      userDefinedMetadata: { note: 'x' },
    };
    for (const weightData of [bytes.buffer.slice(0), [bytes.slice(0, 2).buffer, bytes.slice(2, 5).buffer, bytes.slice(5).buffer]]) {
      await fileSystem(dir).save!({ ...artifacts, weightData });
      expect(new Float32Array((await fsp.readFile(path.join(dir, 'weights.bin'))).buffer.slice(0))).toEqual(bytes);
      const loaded = await fileSystem(dir).load!();
      expect(new Float32Array(loaded.weightData as ArrayBuffer)).toEqual(bytes);
      const { weightData: _, ...rest } = loaded;
      expect(rest).toEqual(artifacts);
    }
  });

  it('replaces a saved model, leaving only model.json and weights.bin', async () => {
    const first = smallModel(4);
    const second = smallModel(6);
    await first.save(fileSystem(dir));
    await second.save(fileSystem(dir));
    expect((await fsp.readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tfl.loadLayersModel(fileSystem(dir));
    expect(predict(loaded)).toEqual(predict(second));
    for (const m of [first, second, loaded]) m.dispose();
  });

  it('a crash at any step of replacing a model leaves the previous model or the new one, loadable', async () => {
    // Different layer sizes: the old model.json with the new weights.bin (or the reverse) would not load.
    const previous = smallModel(4);
    const next = smallModel(6);
    const [previousOut, nextOut] = [predict(previous), predict(next)];
    const dry = crashingFileOps();
    await previous.save(fileSystem(dir));
    await next.save(fileSystem(dir, { fileOps: dry.ops }));
    const steps = dry.calls();
    expect(steps).toBeGreaterThan(4);

    const outcomes: string[] = [];
    for (let crashAt = 1; crashAt <= steps; crashAt++) {
      const d = await makeTempDir();
      try {
        await previous.save(fileSystem(d));
        // A crash in the final clean-up (removing weights.prev.bin) is not reported: the save is complete.
        await next.save(fileSystem(d, { fileOps: crashingFileOps(crashAt).ops })).catch((e: Error) => expect(e.message).toMatch(/simulated crash/));
        const loaded = await tfl.loadLayersModel(fileSystem(d));
        const out = predict(loaded);
        loaded.dispose();
        outcomes.push(out.join() === previousOut.join() ? 'previous' : out.join() === nextOut.join() ? 'next' : 'neither');
        // The next save, without a crash, succeeds and tidies up after the crashed one.
        await next.save(fileSystem(d));
        expect((await fsp.readdir(d)).sort()).toEqual(['model.json', 'weights.bin']);
      } finally {
        await removeDir(d);
      }
    }
    // The previous model until the new model.json is renamed into place, the new one after.
    const switchAt = outcomes.indexOf('next');
    expect(switchAt).toBeGreaterThan(0);
    expect(outcomes).toEqual([...Array(switchAt).fill('previous'), ...Array(steps - switchAt).fill('next')]);
    previous.dispose();
    next.dispose();
  });

  describe('errors name the file and what was expected', () => {
    const modelJson = () => path.join(dir, 'model.json');

    it('a missing directory', async () => {
      const missing = path.join(dir, 'nowhere');
      const error = await errorOf(tfl.loadLayersModel(fileSystem(missing)));
      expect(error.message).toBe(`fileSystem: cannot read ${path.join(missing, 'model.json')} (no model saved there): ` + (error.cause as Error).message);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    });

    it('a missing or truncated weights.bin', async () => {
      const model = smallModel(4);
      await model.save(fileSystem(dir));
      const weights = path.join(dir, 'weights.bin');
      const bytes = await fsp.readFile(weights);
      await fsp.writeFile(weights, bytes.subarray(0, 10));
      await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(
        `fileSystem: ${weights} holds 10 bytes, but the 8 weights listed in ${modelJson()} need ${bytes.byteLength}.`);
      await fsp.rm(weights);
      const error = await errorOf(tfl.loadLayersModel(fileSystem(dir)));
      expect(error.message).toMatch(`fileSystem: cannot read ${weights}, listed in ${modelJson()}: ENOENT`);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
      model.dispose();
    });

    it.each([
      ['{"modelTopology": ', /model\.json is not valid JSON: /],
      ['[]', /model\.json: expected a JSON object with "modelTopology" and "weightsManifest"\./],
      ['{"weightsManifest": []}', /model\.json: expected "modelTopology" to be an object/],
      ['{"modelTopology": {"config": {}}, "weightsManifest": []}', /model\.json: expected "modelTopology" to have a "class_name"/],
      ['{"modelTopology": {"class_name": "Sequential"}}', /model\.json: expected "weightsManifest" to be an array/],
      ['{"modelTopology": {"class_name": "Sequential"}, "weightsManifest": [{"paths": ["../x.bin"], "weights": []}]}', /weightsManifest\[0\]\.paths\[0\] to be a file name inside/],
      ['{"modelTopology": {"class_name": "Sequential"}, "weightsManifest": [{"paths": [], "weights": [{"name": "w", "shape": [-1]}]}]}', /weightsManifest\[0\]\.weights\[0\] to have a string "name"/],
    ])('a corrupt model.json: %s', async (text, message) => {
      await fsp.writeFile(modelJson(), text);
      const error = await errorOf(tfl.loadLayersModel(fileSystem(dir)));
      expect(error.message).toMatch(message);
      expect(error.message).toContain(modelJson());
    });

    it('a binary topology on save', async () => {
      await expect(fileSystem(dir).save!({ modelTopology: new ArrayBuffer(4) })).rejects.toThrow(/can only save a JSON model topology/);
    });
  });

  it('leaks no tensors across save, load and dispose', async () => {
    const cycle = async () => {
      const model = smallModel(4);
      await model.save(fileSystem(dir));
      const loaded = await tfl.loadLayersModel(fileSystem(dir));
      predict(loaded);
      model.dispose();
      loaded.dispose();
    };
    await cycle(); // warm-up: tfjs caches a few scalars on first use
    const before = tf.memory().numTensors;
    await cycle();
    await cycle();
    expect(tf.memory().numTensors).toBe(before);
  });
});
