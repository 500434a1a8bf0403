import '@tensorflow/tfjs-backend-cpu';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { FileCheckpointStore } from './checkpoint-store';
import { makeTempDir, removeDir } from './testing';

let tmp: string;
beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  tmp = await makeTempDir();
});
afterAll(() => removeDir(tmp));

const classifier = (classes: number) => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes });

it('FileCheckpointStore saves, lists, loads and removes checkpoints by name', async () => {
  const store = new FileCheckpointStore(path.join(tmp, 'checkpoints'));
  expect(await store.list()).toEqual([]);
  const model = classifier(3);
  const optimizer = tf.train.rmsprop(0.045, 0.9, 0.9, 1.0);
  await store.save('last', { model, optimizer, state: { step: 7 } });
  await store.save('step-7', { model, optimizer, state: { step: 7 } });
  expect(await store.list()).toEqual(['last', 'step-7']);
  const other = classifier(3);
  const loaded = await store.load('last', other);
  expect(loaded!.state).toEqual({ step: 7 });
  expect(Array.from(other.getLayer('Logits').getWeights()[0].dataSync())).toEqual(Array.from(model.getLayer('Logits').getWeights()[0].dataSync()));
  expect(await store.load('best', other)).toBeNull();
  await store.remove('step-7');
  expect(await store.list()).toEqual(['last']);
  await expect(store.save('../escape', { model, optimizer, state: {} })).rejects.toThrow(/checkpoint name must be/);
  loaded!.optimizer.dispose();
  optimizer.dispose();
  model.dispose();
  other.dispose();
});

