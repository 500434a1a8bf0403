/**
 * The profiler against the MobileNetV2 paper (§4) and the official V2 checkpoint table (facts and sources in
 * shared/reference/paper_facts.md). Paper values are in millions, rounded as published.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV2, MobileNetV2Config } from './mobilenet-v2';
import { ModelProfile, profile } from './profiler';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function profileV2(config: MobileNetV2Config): ModelProfile {
  const model = mobilenetV2(config);
  try {
    return profile(model);
  } finally {
    model.dispose();
  }
}

const millions = (n: number) => n / 1e6;

describe('MobileNetV2', () => {
  it('1.0-224: 300,774,272 Mult-Adds and 3,470,760 params (paper: 300M, 3.4M)', () => {
    const p = profileV2({});
    expect(p.multAdds).toBe(300_774_272);
    expect(p.params).toBe(3_470_760);
    expect(p.params + p.bnParams).toBe(3_538_984); // the Keras total
  });

  // The official checkpoint table (MACs in millions = floor of the count incl. a 1000-way FC; params rounded).
  const CHECKPOINTS: [number, number, number, number][] = [
    [1.4, 224, 582, 6.06], [1.3, 224, 509, 5.34],
    [1.0, 224, 300, 3.47], [1.0, 192, 221, 3.47], [1.0, 160, 154, 3.47], [1.0, 128, 99, 3.47], [1.0, 96, 56, 3.47],
    [0.75, 224, 209, 2.61], [0.75, 192, 153, 2.61], [0.75, 160, 107, 2.61], [0.75, 128, 69, 2.61], [0.75, 96, 39, 2.61],
    [0.5, 224, 97, 1.95], [0.5, 192, 71, 1.95], [0.5, 160, 50, 1.95], [0.5, 128, 32, 1.95], [0.5, 96, 18, 1.95],
    [0.35, 224, 59, 1.66], [0.35, 192, 43, 1.66], [0.35, 160, 30, 1.66], [0.35, 128, 20, 1.66], [0.35, 96, 11, 1.66],
  ];
  it.each(CHECKPOINTS)('checkpoint %f_%i: %iM MACs, %fM params', (alpha, size, macs, params) => {
    const p = profileV2({ widthMultiplier: alpha, inputSize: size });
    expect(Math.floor(millions(p.multAdds))).toBe(macs);
    expect(Math.round(p.params / 1e4) / 100).toBe(params);
  });

  it('Table 2 per-type split: stem 3.60%, depthwise 6.89%, FC 0.43% of Mult-Adds', () => {
    const p = profileV2({});
    expect(p.byType.conv.multAddsPercent).toBeCloseTo(3.6, 1);
    expect(p.byType.depthwise.multAddsPercent).toBeCloseTo(6.89, 1);
    expect(p.byType.fc.multAddsPercent).toBeCloseTo(0.43, 1);
  });
});
