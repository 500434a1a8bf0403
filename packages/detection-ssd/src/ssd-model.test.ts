import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1, mobilenetV2, profile } from '@mobilenets/backbone';
import { SSD_FINE_TAPS, SSD_TAPS, createSsd } from './ssd-model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createSsd', () => {
  it('SSD 300 on MobileNetV1: feature maps 19, 10, 5, 3, 2, 1 and 1917 anchors, TF layer names', () => {
    const ssd = createSsd({ backbone: mobilenetV1({ inputSize: 300, includeTop: false }), classes: 90 });
    expect(ssd.featureMapSizes).toEqual([[19, 19], [10, 10], [5, 5], [3, 3], [2, 2], [1, 1]]);
    expect(ssd.anchors).toBe(1917); // 19·19·3 + (100 + 25 + 9 + 4 + 1)·6
    expect(ssd.model.outputs.map((o) => o.shape)).toEqual([[null, 1917, 4], [null, 1917, 91]]);
    const names = ssd.model.layers.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining(['Conv2d_13_pointwise_1_Conv2d_2_1x1_256', 'Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_512', 'Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_128', 'BoxPredictor_0_BoxEncodingPredictor', 'BoxPredictor_5_ClassPredictor']));
    ssd.model.dispose();
  });

  // Measured with profile() (conv and FC weights and biases; batch norm not counted), against the papers:
  //   SSD 300, V1, 90 classes          1.237e9 Mult-Adds, 6.794M params   V1 Table 13: 1.2B, 6.8M
  //   SSDLite 320, V1, 80 classes      1.309e9,           5.063M          V2 Table 6:  1.3B, 5.1M
  //   SSDLite 320, V2, 80 classes      0.789e9,           4.286M          V2 Table 6:  0.8B, 4.3M
  it.each([
    ['SSD 300 MobileNetV1 (V1 Table 13)', () => mobilenetV1({ inputSize: 300, includeTop: false }), 'ssd', 90, 1.2, 6.8],
    ['SSDLite 320 MobileNetV1 (V2 Table 6)', () => mobilenetV1({ inputSize: 320, includeTop: false }), 'ssdlite', 80, 1.3, 5.1],
    ['SSDLite 320 MobileNetV2 (V2 Table 6)', () => mobilenetV2({ inputSize: 320, includeTop: false }), 'ssdlite', 80, 0.8, 4.3],
  ] as const)('%s: Mult-Adds and parameters as the paper prints them', (_name, backbone, head, classes, billionMultAdds, millionParams) => {
    const ssd = createSsd({ backbone: backbone(), classes, head });
    const p = profile(ssd.model);
    expect(p.multAdds / 1e9).toBeCloseTo(billionMultAdds, 1);
    expect(p.params / 1e6).toBeCloseTo(millionParams, 1);
    ssd.model.dispose();
  });

  it('SSDLite on MobileNetV2 at 320 taps layer_15/expansion_output and layer_19, separable extra layers and predictors', () => {
    const ssd = createSsd({ backbone: mobilenetV2({ widthMultiplier: 0.5, inputSize: 320, includeTop: false }), classes: 3, head: 'ssdlite' });
    expect(ssd.featureMapSizes).toEqual([[20, 20], [10, 10], [5, 5], [3, 3], [2, 2], [1, 1]]);
    expect(ssd.anchors).toBe(20 * 20 * 3 + (100 + 25 + 9 + 4 + 1) * 6);
    const names = ssd.model.layers.map((l) => l.name);
    expect(names).toContain('layer_19_2_Conv2d_2_3x3_s2_512_depthwise');
    expect(names).toContain('BoxPredictor_3_ClassPredictor_depthwise');
    const [boxes, logits] = ssd.model.predict(tf.zeros([2, 320, 320, 3])) as tf.Tensor[];
    expect(boxes.shape).toEqual([2, ssd.anchors, 4]);
    expect(logits.shape).toEqual([2, ssd.anchors, 4]);
    tf.dispose([boxes, logits]);
    ssd.model.dispose();
  });

  it.each([
    ['v1', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 320, includeTop: false }), 'Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_512'],
    ['v2', () => mobilenetV2({ widthMultiplier: 0.5, inputSize: 320, includeTop: false }), 'layer_19_2_Conv2d_2_3x3_s2_512'],
  ] as const)('%s with the stride-8 tap first: a 40×40 map at 320 before the usual six, extra layers still grown from the last tap', (arch, backbone, firstExtra) => {
    const ssd = createSsd({ backbone: backbone(), classes: 3, head: 'ssd', taps: [SSD_FINE_TAPS[arch], ...SSD_TAPS[arch]], anchorsPerLocation: [3, 7, 6, 6, 6, 6, 6] });
    expect(ssd.featureMapSizes).toEqual([[40, 40], [20, 20], [10, 10], [5, 5], [3, 3], [2, 2], [1, 1]]);
    expect(ssd.anchors).toBe(40 * 40 * 3 + 20 * 20 * 7 + (100 + 25 + 9 + 4 + 1) * 6);
    const names = ssd.model.layers.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining([firstExtra, 'BoxPredictor_6_ClassPredictor']));
    const [boxes, logits] = ssd.model.predict(tf.zeros([1, 320, 320, 3])) as tf.Tensor[];
    expect(boxes.shape).toEqual([1, ssd.anchors, 4]);
    expect(logits.shape).toEqual([1, ssd.anchors, 4]);
    tf.dispose([boxes, logits]);
    ssd.model.dispose();
  });

  it('fpn: each tap but the coarsest gets the merged map above it (1×1 conv → BN, upsampled, added); the extra layers and outputs are unchanged', () => {
    const build = (fpn: boolean) => createSsd({ backbone: mobilenetV2({ widthMultiplier: 0.5, inputSize: 320, includeTop: false, seed: 1 }), classes: 3, head: 'ssdlite', taps: [SSD_FINE_TAPS.v2, ...SSD_TAPS.v2], anchorsPerLocation: [3, 7, 6, 6, 6, 6, 6], fpn, seed: 2 });
    const plain = build(false);
    const ssd = build(true);
    expect(ssd.featureMapSizes).toEqual(plain.featureMapSizes);
    expect(ssd.anchors).toBe(plain.anchors);
    const layer = (name: string) => ssd.model.getLayer(name);
    // layer_19 (10×10, 1280 deep) into layer_15's expansion (20×20, 288), that merge into layer_8's (40×40, 96).
    expect(layer('layer_15_expansion_output_TopDown_1x1_288').outputShape).toEqual([null, 10, 10, 288]);
    expect(layer('layer_15_expansion_output_TopDown_upsample').outputShape).toEqual([null, 20, 20, 288]);
    expect(layer('layer_8_expansion_output_TopDown_1x1_96').outputShape).toEqual([null, 20, 20, 96]);
    expect(layer('layer_8_expansion_output_TopDown_merge').outputShape).toEqual([null, 40, 40, 96]);
    const mergeInputs = (name: string) => (layer(name).inboundNodes[0].inboundLayers as { name: string }[]).map((l) => l.name);
    expect(mergeInputs('layer_8_expansion_output_TopDown_1x1_96')).toEqual(['layer_15_expansion_output_TopDown_merge']);
    expect(mergeInputs('BoxPredictor_0_ClassPredictor_depthwise')).toEqual(['layer_8_expansion_output_TopDown_merge']);
    expect(mergeInputs('layer_19_1_Conv2d_2_1x1_256')).toEqual(['out_relu']); // layer_19, the raw tap
    expect(ssd.model.layers.length - plain.model.layers.length).toBe(2 * 4); // conv, BN, upsample, add per merge
    const [boxes, logits] = ssd.model.predict(tf.zeros([1, 320, 320, 3])) as tf.Tensor[];
    expect(boxes.shape).toEqual([1, ssd.anchors, 4]);
    expect(logits.shape).toEqual([1, ssd.anchors, 4]);
    tf.dispose([boxes, logits]);
    ssd.model.dispose();
    plain.model.dispose();
  });

  it('the predictors reshape cells row by row, anchors within a cell: a box code lands at its anchor index', () => {
    // One feature map cell (y, x) and anchor a of predictor 0 is anchor (y·W + x)·A + a, as the anchor generator orders them.
    const ssd = createSsd({ backbone: mobilenetV1({ widthMultiplier: 0.25, inputSize: 128, includeTop: false }), classes: 1, extraLayerDepths: [], anchorsPerLocation: [2, 3] });
    const predictorLayer = ssd.model.getLayer('BoxPredictor_0_BoxEncodingPredictor');
    const kernelShape = predictorLayer.getWeights()[0].shape; // the layer's own variables: not disposed here
    // Zero kernel; the bias makes every cell emit its own anchor slot's codes: channel c = a·4 + k → value c.
    const replacement = [tf.zeros(kernelShape), tf.range(0, 8)];
    predictorLayer.setWeights(replacement);
    tf.dispose(replacement);
    const [boxes] = ssd.model.predict(tf.zeros([1, 128, 128, 3])) as tf.Tensor[];
    const [h, w] = ssd.featureMapSizes[0];
    const values = boxes.arraySync() as number[][][];
    const anchor = (y: number, x: number, a: number) => (y * w + x) * 2 + a;
    expect(values[0][anchor(3, 5, 1)]).toEqual([4, 5, 6, 7]);
    expect(values[0][anchor(h - 1, w - 1, 0)]).toEqual([0, 1, 2, 3]);
    tf.dispose(boxes);
    ssd.model.dispose();
  });

  it('says what is wrong with a config', () => {
    const withTop = mobilenetV1({ widthMultiplier: 0.25, inputSize: 128 });
    expect(() => createSsd({ backbone: withTop, classes: 3 })).toThrow(/must be built without its top/);
    const body = mobilenetV1({ widthMultiplier: 0.25, inputSize: 128, includeTop: false });
    expect(() => createSsd({ backbone: body, classes: 0 })).toThrow('classes must be an integer ≥ 1');
    expect(() => createSsd({ backbone: body, classes: 2, anchorsPerLocation: [3, 6] })).toThrow('anchorsPerLocation must give a positive integer for each of the 6 feature maps');
    expect(() => createSsd({ backbone: body, classes: 2, taps: [SSD_FINE_TAPS.v1, ...SSD_TAPS.v1] })).toThrow('anchorsPerLocation must give a positive integer for each of the 7 feature maps');
    expect(() => createSsd({ backbone: body, classes: 2, taps: [] })).toThrow('taps must name at least one backbone end point');
    withTop.dispose();
    body.dispose();
  });
});
