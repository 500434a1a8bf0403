/**
 * The profiler against the MobileNetV1 paper's resource tables (Tables 1–7, 9, 10) (facts and sources in
 * shared/reference/paper_facts.md). Paper values are in millions, rounded as published.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, MobileNetV1Config } from './mobilenet-v1';
import { ModelProfile, profile } from './profiler';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function profileV1(config: MobileNetV1Config): ModelProfile {
  const model = mobilenetV1(config);
  try {
    return profile(model);
  } finally {
    model.dispose();
  }
}

const millions = (n: number) => n / 1e6;

describe('MobileNetV1 1.0-224 (Table 1 / Table 2)', () => {
  const p = profileV1({});

  it('has exactly 568,740,352 Mult-Adds and 4,210,088 params', () => {
    expect(p.multAdds).toBe(568_740_352);
    expect(p.params).toBe(4_210_088);
  });

  it('reports batch-norm parameters apart: 4 per channel, the Keras total minus conv/FC', () => {
    expect(p.bnParams).toBe(43_776);
    expect(p.params + p.bnParams).toBe(4_253_864);
  });

  it('counts 28 layers: 1 conv, 13 depthwise, 13 pointwise, 1 FC', () => {
    expect(p.layers).toHaveLength(28);
    expect([p.byType.conv.layers, p.byType.depthwise.layers, p.byType.pointwise.layers, p.byType.fc.layers]).toEqual([1, 13, 13, 1]);
  });

  it('matches Table 2 "Resource per layer type"', () => {
    // Mult-Adds: 94.86 / 3.06 / 1.19 (printed; 1.91 is the true share, a digit transposition) / 0.18.
    expect(p.byType.pointwise.multAddsPercent).toBeCloseTo(94.86, 2);
    expect(p.byType.depthwise.multAddsPercent).toBeCloseTo(3.06, 2);
    expect(p.byType.conv.multAddsPercent).toBeCloseTo(1.91, 2);
    expect(p.byType.fc.multAddsPercent).toBeCloseTo(0.18, 2);
    // Params: 74.59 / 1.06 / 0.02 / 24.33 — the paper leaves the FC bias out; with it the shares move by 0.02.
    expect(Math.abs(p.byType.pointwise.paramsPercent - 74.59)).toBeLessThan(0.05);
    expect(Math.abs(p.byType.depthwise.paramsPercent - 1.06)).toBeLessThan(0.05);
    expect(Math.abs(p.byType.conv.paramsPercent - 0.02)).toBeLessThan(0.05);
    expect(Math.abs(p.byType.fc.paramsPercent - 24.33)).toBeLessThan(0.05);
  });

  it('body totals equal the official code docstring (567,716,352 Mult-Adds, 3,185,088 params)', () => {
    const body = profileV1({ includeTop: false });
    expect(body.multAdds).toBe(567_716_352);
    expect(body.params).toBe(3_185_088);
  });

  it('0.75-128 body matches the docstring too (106,002,432 Mult-Adds, 1,800,144 params)', () => {
    const body = profileV1({ widthMultiplier: 0.75, inputSize: 128, includeTop: false });
    expect(body.multAdds).toBe(106_002_432);
    expect(body.params).toBe(1_800_144);
  });
});

describe('Table 3: one 14×14×512 → 512 layer, modified step by step', () => {
  function singleLayer(separable: boolean, channels: number, size: number): ModelProfile {
    const input = tfl.input({ shape: [size, size, channels] });
    let x = input as tfl.SymbolicTensor;
    if (separable) {
      x = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.conv2d({ filters: channels, kernelSize: 1, useBias: false }).apply(x) as tfl.SymbolicTensor;
    } else {
      x = tfl.layers.conv2d({ filters: channels, kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tfl.SymbolicTensor;
    }
    const model = tfl.model({ inputs: input, outputs: x });
    try {
      return profile(model);
    } finally {
      model.dispose();
    }
  }

  it.each([
    ['Convolution', false, 512, 14, 462, 2.36],
    ['Depthwise Separable Conv', true, 512, 14, 52.3, 0.27],
    ['α = 0.75', true, 384, 14, 29.6, 0.15],
    ['ρ = 0.714', true, 384, 10, 15.1, 0.15],
  ])('%s', (_label, separable, channels, size, paperMultAdds, paperParams) => {
    const p = singleLayer(separable, channels, size);
    expect(Math.abs(millions(p.multAdds) - paperMultAdds)).toBeLessThan(0.05 * Math.max(1, paperMultAdds / 50));
    expect(Math.abs(millions(p.params) - paperParams)).toBeLessThanOrEqual(0.005);
  });
});

describe('Tables 4 and 5: full-convolution and shallow MobileNet', () => {
  it('full convolutions: 4866M Mult-Adds and 29.3M params', () => {
    const p = profileV1({ variant: 'full-conv' });
    expect(p.multAdds).toBe(4_867_293_184); // 4866.3M without the FC, as the paper prints
    expect(millions(p.multAdds - p.byType.fc.multAdds)).toBeCloseTo(4866.3, 1);
    expect(millions(p.params)).toBeCloseTo(29.3, 1);
  });

  it('shallow: 307M Mult-Adds and 2.9M params', () => {
    const p = profileV1({ variant: 'shallow' });
    expect(Math.round(millions(p.multAdds))).toBe(307);
    expect(millions(p.params)).toBeCloseTo(2.9, 1);
    expect(p.layers).toHaveLength(28 - 10);
  });
});

describe('Tables 6 and 7: width and resolution multipliers', () => {
  it.each([
    [1, 224, 569, 4.2],
    [0.75, 224, 325, 2.6],
    [0.5, 224, 149, 1.3],
    [0.25, 224, 41, 0.5],
    [1, 192, 418, 4.2],
    [1, 160, 290, 4.2],
    [1, 128, 186, 4.2],
  ])('%f MobileNet-%i: %iM Mult-Adds, %fM params', (alpha, size, paperMultAdds, paperParams) => {
    const p = profileV1({ widthMultiplier: alpha, inputSize: size });
    expect(Math.abs(millions(p.multAdds) - paperMultAdds)).toBeLessThanOrEqual(1);
    expect(Math.abs(millions(p.params) - paperParams)).toBeLessThanOrEqual(0.05);
  });

  it('Table 9: 0.50 MobileNet-160 has 76M Mult-Adds and 1.32M params', () => {
    const p = profileV1({ widthMultiplier: 0.5, inputSize: 160 });
    expect(Math.abs(millions(p.multAdds) - 76)).toBeLessThanOrEqual(1);
    expect(millions(p.params)).toBeCloseTo(1.32, 2);
  });

  it('Table 10: a 120-class (Stanford Dogs) head gives 3.3M / 1.9M params', () => {
    expect(millions(profileV1({ classes: 120 }).params)).toBeCloseTo(3.3, 1);
    expect(millions(profileV1({ classes: 120, widthMultiplier: 0.75 }).params)).toBeCloseTo(1.9, 1);
  });

  it('parameter count does not depend on resolution', () => {
    expect(profileV1({ inputSize: 128 }).params).toBe(profileV1({ inputSize: 224 }).params);
  });
});

