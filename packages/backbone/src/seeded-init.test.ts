import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layerSeed } from './blocks';
import { mobilenetV1 } from './mobilenet-v1';
import { mobilenetV2 } from './mobilenet-v2';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function weights(build: () => tfl.LayersModel): Float32Array[] {
  const model = build();
  try {
    return model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  } finally {
    model.dispose();
  }
}

describe.each([
  ['mobilenetV1', (seed: number | null) => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 5, seed })],
  ['mobilenetV2', (seed: number | null) => mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 5, seed })],
])('%s seed', (_name, build) => {
  it('gives the same initial weights for the same seed and other weights for another', () => {
    const a = weights(() => build(7));
    const b = weights(() => build(7));
    const c = weights(() => build(8));
    expect(b).toEqual(a);
    const kernels = a.map((_, i) => i).filter((i) => a[i].some((v) => v !== a[i][0]));
    expect(kernels.length).toBeGreaterThan(10);
    for (const i of kernels) expect(c[i]).not.toEqual(a[i]);
  });

  it('leaves the initial weights unseeded without a seed', () => {
    const a = weights(() => build(null));
    const b = weights(() => build(null));
    expect(b).not.toEqual(a);
  });
});

describe('layerSeed', () => {
  it('differs between layers and between seeds, and is undefined without a seed', () => {
    const names = ['Conv2d_0', 'Conv2d_1_depthwise', 'Conv2d_1_pointwise', 'Logits'];
    const seeds = [0, 1, 2 ** 40].flatMap((s) => names.map((n) => layerSeed(s, n)));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(layerSeed(null, 'Conv2d_0')).toBeUndefined();
  });
});
