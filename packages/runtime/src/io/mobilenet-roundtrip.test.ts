/** A MobileNet (with the backbone's fused BatchNormalization and relu6) survives save and load unchanged. */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { fileSystem } from './file-system';
import { makeTempDir, removeDir } from './testing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it.each([
  ['V1', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 5 })],
  ['V2', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 5 })],
])('%s: same layers, weights and predictions after fileSystem save + tf.loadLayersModel', async (_name, build) => {
  const dir = await makeTempDir();
  const model = build();
  try {
    await model.save(fileSystem(dir));
    const loaded = await tfl.loadLayersModel(fileSystem(dir));
    expect(loaded.layers.map((l) => `${l.name}:${l.getClassName()}`)).toEqual(model.layers.map((l) => `${l.name}:${l.getClassName()}`));
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1);
    const [a, b] = [model, loaded].map((m) => m.predict(x) as tf.Tensor);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    loaded.dispose();
  } finally {
    model.dispose();
    await removeDir(dir);
  }
});
