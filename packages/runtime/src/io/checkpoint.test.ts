import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
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

interface TrainState { step: number; epoch: number; seed: number }

/** Two dense layers with random initial weights and tfjs' automatic (so different every time) names. */
function build(hidden = 5): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: hidden, inputShape: [3], activation: 'tanh' }));
  model.add(tfl.layers.dense({ units: 1 }));
  return model;
}

const rmsprop = () => tf.train.rmsprop(0.01, 0.9, 0.5);

function compile(model: tfl.LayersModel, optimizer: tf.Optimizer): void {
  model.compile({ optimizer, loss: 'meanSquaredError' });
}

/** One training step on a fixed batch; returns the loss. */
async function step(model: tfl.LayersModel): Promise<number> {
  const x = tf.tensor2d([[0.1, -0.4, 0.9], [1, 0.3, -0.2], [-0.7, 0.5, 0.05], [0.2, 0.2, -1]]);
  const y = tf.tensor2d([[0.5], [-1], [0.25], [2]]);
  const loss = (await model.trainOnBatch(x, y)) as number;
  tf.dispose([x, y]);
  return loss;
}

async function train(model: tfl.LayersModel, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(await step(model));
  return losses;
}

function weightsOf(model: tfl.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

describe('saveCheckpoint() / loadCheckpoint()', () => {
  it('resume exactly: the same losses and final weights as an uninterrupted run', async () => {
    const model = build();
    const optimizer = rmsprop();
    compile(model, optimizer);
    await train(model, 3);
    const state: TrainState = { step: 3, epoch: 0, seed: 1234 };
    await saveCheckpoint(dir, { model, optimizer, state });
    const expectedLosses = await train(model, 3);
    const expectedWeights = weightsOf(model);

    // Into a freshly built model: other initial weights, other layer names (weights are matched by position).
    const fresh = build();
    expect(fresh.weights[0].originalName).not.toBe(model.weights[0].originalName);
    const resumed = await loadCheckpoint<TrainState>(dir, fresh);
    expect(resumed.model).toBe(fresh);
    expect(resumed.state).toEqual(state);
    expect(resumed.optimizer.getClassName()).toBe('RMSProp');
    expect(resumed.optimizer.getConfig()).toEqual(optimizer.getConfig());
    expect(resumed.optimizer.iterations).toBe(3);
    compile(fresh, resumed.optimizer);
    expect(await train(fresh, 3)).toEqual(expectedLosses);
    expect(weightsOf(fresh)).toEqual(expectedWeights);

    // Rebuilt from model.json.
    const rebuilt = await loadCheckpoint<TrainState>(dir);
    compile(rebuilt.model, rebuilt.optimizer);
    expect(await train(rebuilt.model, 3)).toEqual(expectedLosses);
    expect(weightsOf(rebuilt.model)).toEqual(expectedWeights);

    // The optimizer's state matters: the same weights with a new optimizer train differently.
    const withoutState = await loadCheckpoint(dir);
    const newOptimizer = rmsprop();
    compile(withoutState.model, newOptimizer);
    expect(await train(withoutState.model, 3)).not.toEqual(expectedLosses);

    for (const m of [model, fresh, rebuilt.model, withoutState.model]) m.dispose();
    for (const o of [optimizer, resumed.optimizer, rebuilt.optimizer, withoutState.optimizer, newOptimizer]) o.dispose();
  });

  it('replaces the previous checkpoint, keeping one generation directory', async () => {
    const model = build();
    const optimizer = rmsprop();
    compile(model, optimizer);
    await train(model, 1);
    await saveCheckpoint(dir, { model, optimizer, state: { step: 1 } });
    await train(model, 1);
    await saveCheckpoint(dir, { model, optimizer, state: { step: 2 } });
    expect((await fsp.readdir(dir)).sort()).toEqual(['checkpoint.json', 'ckpt-2']);
    expect((await fsp.readdir(path.join(dir, 'ckpt-2'))).sort()).toEqual(['model.json', 'optimizer.bin', 'weights.bin']);
    const loaded = await loadCheckpoint<{ step: number }>(dir);
    expect(loaded.state.step).toBe(2);
    expect(loaded.optimizer.iterations).toBe(2);
    expect(weightsOf(loaded.model)).toEqual(weightsOf(model));
    for (const m of [model, loaded.model]) m.dispose();
    for (const o of [optimizer, loaded.optimizer]) o.dispose();
  });

  it('a crash at any step of a save leaves the previous checkpoint or the new one, loadable and consistent', async () => {
    const model = build();
    const optimizer = rmsprop();
    compile(model, optimizer);
    await train(model, 3);
    const previous = path.join(dir, 'previous');
    await saveCheckpoint(previous, { model, optimizer, state: { step: 3 } });
    const weightsAt: Record<number, number[][]> = { 3: weightsOf(model) };
    await train(model, 1);
    weightsAt[4] = weightsOf(model);

    const dry = crashingFileOps();
    const probe = path.join(dir, 'probe');
    await fsp.cp(previous, probe, { recursive: true });
    await saveCheckpoint(probe, { model, optimizer, state: { step: 4 } }, { fileOps: dry.ops });
    const steps = dry.calls();

    const outcomes: number[] = [];
    for (let crashAt = 1; crashAt <= steps; crashAt++) {
      const d = path.join(dir, `crash-${crashAt}`);
      await fsp.cp(previous, d, { recursive: true });
      await saveCheckpoint(d, { model, optimizer, state: { step: 4 } }, { fileOps: crashingFileOps(crashAt).ops })
        .catch((e: Error) => expect(e.message).toMatch(/simulated crash/));
      const loaded = await loadCheckpoint<{ step: number }>(d);
      outcomes.push(loaded.state.step);
      expect(weightsOf(loaded.model)).toEqual(weightsAt[loaded.state.step]);
      expect(loaded.optimizer.iterations).toBe(loaded.state.step);
      loaded.model.dispose();
      loaded.optimizer.dispose();
      // The next save completes and removes what the crashed one left behind.
      await saveCheckpoint(d, { model, optimizer, state: { step: 4 } });
      expect((await fsp.readdir(d)).filter((name) => name !== 'checkpoint.json')).toHaveLength(1);
    }
    const switchAt = outcomes.indexOf(4);
    expect(switchAt).toBeGreaterThan(0);
    expect(outcomes).toEqual([...Array(switchAt).fill(3), ...Array(steps - switchAt).fill(4)]);
    model.dispose();
    optimizer.dispose();
  });

  describe('errors name the file and what was expected', () => {
    let model: tfl.LayersModel;
    let optimizer: tf.Optimizer;
    const manifest = () => path.join(dir, 'checkpoint.json');
    beforeEach(async () => {
      model = build();
      optimizer = rmsprop();
      compile(model, optimizer);
      await train(model, 1);
      await saveCheckpoint(dir, { model, optimizer, state: { step: 1 } });
    });
    afterEach(() => {
      model.dispose();
      optimizer.dispose();
    });

    it('a missing checkpoint', async () => {
      const missing = path.join(dir, 'nowhere');
      const error = (await loadCheckpoint(missing).catch((e) => e)) as Error;
      expect(error.message).toMatch(`loadCheckpoint: cannot read ${path.join(missing, 'checkpoint.json')} (no checkpoint saved there): ENOENT`);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    });

    it('a corrupt checkpoint.json', async () => {
      await fsp.writeFile(manifest(), '{"format": "mobilenets-checkpoint", ');
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${manifest()} is not valid JSON: `);
      await fsp.writeFile(manifest(), '{"format": "something-else"}');
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${manifest()}: expected format 'mobilenets-checkpoint' version 1, found "something-else" version undefined.`);
    });

    it('an unknown optimizer class', async () => {
      const json = JSON.parse(await fsp.readFile(manifest(), 'utf8'));
      json.optimizer.className = 'Nesterov';
      await fsp.writeFile(manifest(), JSON.stringify(json));
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${manifest()}: optimizer class 'Nesterov' is not registered with tfjs.`);
    });

    it('an optimizer.bin or weights.bin of the wrong size', async () => {
      const optimizerBin = path.join(dir, 'ckpt-1', 'optimizer.bin');
      const size = (await fsp.stat(optimizerBin)).size;
      await fsp.truncate(optimizerBin, 8);
      await expect(loadCheckpoint(dir)).rejects.toThrow(`loadCheckpoint: ${optimizerBin} holds 8 bytes, but the 9 optimizer weights listed in ${manifest()} need ${size}.`);
      await saveCheckpoint(dir, { model, optimizer, state: { step: 1 } });
      const weightsBin = path.join(dir, 'ckpt-2', 'weights.bin');
      await fsp.truncate(weightsBin, 4);
      await expect(loadCheckpoint(dir)).rejects.toThrow(`fileSystem: ${weightsBin} holds 4 bytes`);
    });

    it('a model of another architecture', async () => {
      const other = build(7);
      await expect(loadCheckpoint(dir, other)).rejects.toThrow(/loadCheckpoint: weight dense_Dense\d+\/kernel of the model has shape \[3,7\], but .*model\.json holds "dense_Dense\d+\/kernel" with shape \[3,5\]\./);
      other.dispose();
    });

    it('a state that is not JSON', async () => {
      await expect(saveCheckpoint(dir, { model, optimizer, state: undefined })).rejects.toThrow(/state must be JSON-serialisable, received undefined/);
    });
  });

  it('leaks no tensors across save, load and dispose', async () => {
    const cycle = async () => {
      const model = build();
      const optimizer = rmsprop();
      compile(model, optimizer);
      await train(model, 2);
      await saveCheckpoint(dir, { model, optimizer, state: {} });
      const loaded = await loadCheckpoint(dir);
      const into = build();
      const loadedInto = await loadCheckpoint(dir, into);
      for (const m of [model, loaded.model, into]) m.dispose();
      for (const o of [optimizer, loaded.optimizer, loadedInto.optimizer]) o.dispose();
    };
    await cycle(); // warm-up: tfjs caches a few scalars on first use
    const before = tf.memory().numTensors;
    await cycle();
    await cycle();
    expect(tf.memory().numTensors).toBe(before);
  });
});
