import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { setup } from '../backend';
import { modelMemoryProfile, scaleProfileInput } from './layers';

beforeAll(async () => {
  await setup({ backend: 'cpu', log: null });
});

describe('modelMemoryProfile', () => {
  it("counts a small model's outputs, input, im2col scratch and weights by hand", () => {
    const input = tfl.input({ shape: [16, 16, 3] });
    const conv = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input) as tfl.SymbolicTensor; // 8×8×8
    const pw = tfl.layers.conv2d({ filters: 4, kernelSize: 1, useBias: true }).apply(conv) as tfl.SymbolicTensor; // 8×8×4
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(pw) as tfl.SymbolicTensor; // 4
    const out = tfl.layers.dense({ units: 2 }).apply(pooled) as tfl.SymbolicTensor; // 2
    const model = tfl.model({ inputs: input, outputs: out, name: 'tiny' });
    const p = modelMemoryProfile(model);
    expect(p.model).toBe('tiny');
    expect(p.inputShape).toEqual([16, 16, 3]);
    expect(p.inputFloats).toBe(16 * 16 * 3);
    expect(p.activationFloats).toBe(8 * 8 * 8 + 8 * 8 * 4 + 4 + 2);
    expect(p.spatialActivationFloats).toBe(8 * 8 * 8 + 8 * 8 * 4);
    // im2col of the 3×3 conv: 3·3·3 values per output position (64 positions); the 1×1 conv's transpose is 64·8.
    expect(p.scratchFloats).toBe(Math.max(27 * 64, 8 * 64));
    expect(p.trainableFloats).toBe(3 * 3 * 3 * 8 + 8 * 4 + 4 + 4 * 2 + 2);
    expect(p.nonTrainableFloats).toBe(0);
    model.dispose();
  });

  it('counts batch-norm statistics apart from the trainable weights', () => {
    const model = mobilenetV2({ widthMultiplier: 0.35, inputSize: 96, classes: 10 });
    const p = modelMemoryProfile(model);
    const size = (ws: tfl.LayerVariable[]) => ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
    expect(p.trainableFloats).toBe(size(model.trainableWeights));
    expect(p.nonTrainableFloats).toBe(size(model.nonTrainableWeights));
    expect(p.nonTrainableFloats).toBeGreaterThan(0);
    model.dispose();
  });

  it('says what to do with an input of unknown size', () => {
    const input = tfl.input({ shape: [null, null, 3] });
    const out = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out, name: 'open' });
    expect(() => modelMemoryProfile(model)).toThrow("'open' has an input of unknown size [null,null,null,3]; build it with a fixed input size");
    model.dispose();
  });
});

describe('scaleProfileInput', () => {
  it.each([
    ['v1 0.25', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 10 }), () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 160, classes: 10 })],
    ['v2 0.35', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 64, classes: 10 }), () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 160, classes: 10 })],
  ])('%s: the profile at 64 scaled to 160 is the profile of the model built at 160', (_, small, large) => {
    const [a, b] = [small(), large()];
    const scaled = scaleProfileInput(modelMemoryProfile(a), 160);
    const built = modelMemoryProfile(b);
    expect({ ...scaled, model: '' }).toEqual({ ...built, model: '' });
    a.dispose();
    b.dispose();
  });
});
