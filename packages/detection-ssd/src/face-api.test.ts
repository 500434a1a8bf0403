/**
 * face-api's SSD MobileNetV1 face detector in our SSD builder, checked against face-api ITSELF:
 * `faceapi.detectAllFaces(tensor, new SsdMobilenetv1Options(…))` of @vladmandic/face-api's
 * `dist/face-api.node-wasm.js`, run in this process on the same wasm backend and the same decoded
 * pixels. That build requires '@tensorflow/tfjs' (the union package, not installed here); it is
 * mocked below by tfjs-core plus the tensor methods ("chained ops") the union package would register,
 * which is all face-api's detector uses. Both sides read the same model files.
 *
 * The weights are read here with tfjs-core's io.decodeWeights (what readFaceApiWeights of
 * @mobilenets/runtime does: a task package may not import runtime, not even in tests).
 */
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { FACE_API_SSD, createFaceApiSsd, detectFacesFaceApiStyle, faceApiExtraLayerNames, faceApiInputTensor, loadFaceApiSsdWeights, type FaceApiDetection, type RgbImage } from './face-api';
import type { SsdModel } from './ssd-model';

jest.mock(
  '@tensorflow/tfjs',
  () => {
    const core = jest.requireActual('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core') & Record<string, unknown>;
    const proto = core.Tensor.prototype as unknown as Record<string, unknown>;
    // @tensorflow/tfjs registers every op as a tensor method (x.op(...) = tf.op(x, ...)); so do we.
    for (const [name, fn] of Object.entries(core)) {
      if (typeof fn === 'function' && /^[a-z]/.test(name) && !(name in proto)) proto[name] = function (this: unknown, ...args: unknown[]) { return (fn as (...a: unknown[]) => unknown)(this, ...args); };
    }
    for (const rank of [1, 2, 3, 4, 5]) proto[`as${rank}D`] = function (this: import('@tensorflow/tfjs-core').Tensor, ...shape: number[]) { return core.reshape(this, shape); };
    proto.asType = function (this: import('@tensorflow/tfjs-core').Tensor, dtype: import('@tensorflow/tfjs-core').DataType) { return core.cast(this, dtype); };
    proto.toFloat = function (this: import('@tensorflow/tfjs-core').Tensor) { return core.cast(this, 'float32'); };
    proto.toInt = function (this: import('@tensorflow/tfjs-core').Tensor) { return core.cast(this, 'int32'); };
    return core;
  },
  { virtual: true },
);

interface FaceApiModule {
  nets: { ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void> } };
  SsdMobilenetv1Options: new (options: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): Promise<FaceApiDetection[]>;
}

const FACE_API_DIR = path.dirname(require.resolve('@vladmandic/face-api/package.json'));
const MODEL_DIR = path.join(FACE_API_DIR, 'model');
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => path.join(FACE_API_DIR, 'demo', `sample${i}.jpg`));

function readWeights(): tf.NamedTensorMap {
  const manifest = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'ssd_mobilenetv1_model-weights_manifest.json'), 'utf8')) as tf.io.WeightsManifestConfig;
  const buffers = manifest.flatMap((group) => group.paths).map((file) => {
    const bytes = fs.readFileSync(path.join(MODEL_DIR, file));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  });
  return tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), manifest.flatMap((group) => group.weights));
}

/** JPEG → RGB with the EXIF orientation applied (as datasets' decodeImage does). */
async function decodeJpeg(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

let faceapi: FaceApiModule;
let weights: tf.NamedTensorMap;
let ssd: SsdModel;
let anchors: Float64Array;

beforeAll(async () => {
  await tf.setBackend('wasm');
  faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR);
  weights = readWeights();
  ssd = createFaceApiSsd();
  anchors = loadFaceApiSsdWeights(ssd, weights);
}, 60_000);

afterAll(() => {
  ssd?.model.dispose();
  tf.dispose(Object.values(weights ?? {}));
});

describe('face-api SSD MobileNetV1 in createSsd', () => {
  it('has face-api\'s architecture: 512 input, maps 32…1, 5118 anchors, 3 logits an anchor', () => {
    expect(ssd.featureMapSizes).toEqual([[32, 32], [16, 16], [8, 8], [4, 4], [2, 2], [1, 1]]);
    expect(ssd.anchors).toBe(FACE_API_SSD.anchors);
    expect(ssd.model.outputs.map((o) => o.shape)).toEqual([[null, 5118, 4], [null, 5118, 3]]);
    expect(faceApiExtraLayerNames()).toEqual([
      'Conv2d_13_pointwise_1_Conv2d_2_1x1_256', 'Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_512',
      'Conv2d_13_pointwise_1_Conv2d_3_1x1_128', 'Conv2d_13_pointwise_2_Conv2d_3_3x3_s2_256',
      'Conv2d_13_pointwise_1_Conv2d_4_1x1_128', 'Conv2d_13_pointwise_2_Conv2d_4_3x3_s2_256',
      'Conv2d_13_pointwise_1_Conv2d_5_1x1_64', 'Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_128',
    ]);
  });

  it('loads every layer tensor of the file and returns the anchors as cxcywh', () => {
    // 133 = conv 0 (kernel, offset) + 13 × (depthwise kernel, γ, β, mean, variance, pointwise kernel, offset)
    //     + 8 prediction convs (kernel, offset) + 6 × 2 predictors (kernel, bias); the rest are graph constants.
    const layerNames = Object.keys(weights).filter((n) => /^(MobilenetV1|Prediction)\/.*(weights|biases|bn_offset|gamma|beta|moving_mean|moving_variance)$/.test(n));
    expect(layerNames).toHaveLength(133);
    // Every one of them is, value for value, the weight of some layer of the model.
    const modelWeights = ssd.model.weights.map((w) => w.read());
    const sizes = new Map<number, tf.Tensor[]>();
    for (const w of modelWeights) sizes.set(w.size, [...(sizes.get(w.size) ?? []), w]);
    for (const name of layerNames) {
      const t = weights[name];
      const flat = t.dataSync();
      const match = (sizes.get(t.size) ?? []).some((w) => {
        const v = w.dataSync();
        return v.every((x, i) => x === flat[i]);
      });
      expect({ name, match }).toEqual({ name, match: true });
    }
    const yxyx = weights['Output/extra_dim'].dataSync();
    expect(anchors).toHaveLength(5118 * 4);
    for (const i of [0, 1, 3071, 3072, 5117]) {
      const [ymin, xmin, ymax, xmax] = Array.from(yxyx.subarray(4 * i, 4 * i + 4));
      expect(anchors[4 * i]).toBeCloseTo((xmin + xmax) / 2, 7);
      expect(anchors[4 * i + 1]).toBeCloseTo((ymin + ymax) / 2, 7);
      expect(anchors[4 * i + 2]).toBeCloseTo(xmax - xmin, 7);
      expect(anchors[4 * i + 3]).toBeCloseTo(ymax - ymin, 7);
    }
  });

  it('a folded batch norm computes exactly conv + offset: 1 − ε and ε add to exactly 1 in float32', () => {
    const eps = Math.fround(FACE_API_SSD.batchNormEpsilon);
    expect(Math.fround(Math.fround(1 - FACE_API_SSD.batchNormEpsilon) + eps)).toBe(1);
    const bn = ssd.model.getLayer('Conv2d_13_pointwise_1_Conv2d_3_1x1_128_BatchNorm'); // face-api's Prediction/Conv2d_2_pointwise
    const x = tf.randomNormal([1, 4, 4, 128], 0, 3, 'float32', 8);
    const y = bn.apply(x) as tf.Tensor;
    const expected = tf.add(x, weights['Prediction/Conv2d_2_pointwise/convolution_bn_offset']);
    expect(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]).toBe(0);
    tf.dispose([x, y, expected]);
  });

  it('names a missing or mis-shaped tensor', () => {
    const other = createFaceApiSsd();
    try {
      const { ['Prediction/BoxPredictor_3/ClassPredictor/biases']: _dropped, ...missing } = weights;
      expect(() => loadFaceApiSsdWeights(other, missing)).toThrow(/'Prediction\/BoxPredictor_3\/ClassPredictor\/biases'/);
      const wrong = tf.zeros([1, 1, 256, 7]);
      expect(() => loadFaceApiSsdWeights(other, { ...weights, 'Prediction/BoxPredictor_2/ClassPredictor/weights': wrong })).toThrow(/'Prediction\/BoxPredictor_2\/ClassPredictor\/weights' has shape \[1,1,256,7\]/);
      const { ['Output/extra_dim']: _anchors, ...noAnchors } = weights;
      expect(() => loadFaceApiSsdWeights(other, noAnchors)).toThrow(/'Output\/extra_dim'/);
      wrong.dispose();
    } finally {
      other.model.dispose();
    }
  });

  it('pads to square at the bottom/right before resizing, then maps to [−1, 1]', () => {
    // A 2 × 1 image (h = 2, w = 1): one zero column on the right, no resize at inputSize 2.
    const x = faceApiInputTensor({ pixels: new Uint8Array([255, 0, 0, 0, 255, 0]), width: 1, height: 2 }, 2);
    expect(x.shape).toEqual([1, 2, 2, 3]);
    expect(Array.from(x.dataSync())).toEqual([1, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1]);
    x.dispose();
    // A 1 × 2 image (h = 1, w = 2): one zero row at the bottom.
    const y = faceApiInputTensor({ pixels: new Uint8Array([0, 0, 255, 255, 255, 255]), width: 2, height: 1 }, 2);
    expect(Array.from(y.dataSync())).toEqual([-1, -1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1]);
    y.dispose();
    expect(() => faceApiInputTensor({ pixels: new Uint8Array(5), width: 1, height: 2 })).toThrow(/6 bytes/);
  });

  /** Ours against face-api's own detectAllFaces on the same pixels (tensor input: the tf path, no canvas), face by face in order. */
  async function compare(file: string, minConfidence: number, maxResults: number): Promise<{ faces: number; boxDiff: number; scoreDiff: number }> {
    const image = await decodeJpeg(file);
    const input = tf.tensor3d(image.pixels, [image.height, image.width, 3], 'int32');
    const theirs = await faceapi.detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults }));
    input.dispose();
    const ours = await detectFacesFaceApiStyle(ssd, anchors, image, { minConfidence, maxResults });
    expect(ours.length).toBe(theirs.length);
    let boxDiff = 0;
    let scoreDiff = 0;
    ours.forEach((d, i) => {
      const t = theirs[i];
      boxDiff = Math.max(boxDiff, Math.abs(d.box.x - t.box.x), Math.abs(d.box.y - t.box.y), Math.abs(d.box.width - t.box.width), Math.abs(d.box.height - t.box.height));
      scoreDiff = Math.max(scoreDiff, Math.abs(d.score - t.score));
    });
    process.stdout.write(`${path.basename(file)} ${image.width}x${image.height} minConfidence ${minConfidence} maxResults ${maxResults}: ${ours.length} faces, max |Δbox| ${boxDiff.toExponential(2)} px, max |Δscore| ${scoreDiff.toExponential(2)}\n`);
    return { faces: ours.length, boxDiff, scoreDiff };
  }

  // face-api's defaults (minConfidence 0.5, maxResults 100). Faces it finds: 3, 3, 3, 4, 5, 4.
  it.each(SAMPLES.map((file, i) => [path.basename(file), [3, 3, 3, 4, 5, 4][i], file] as const))('%s: the same %d faces as face-api\'s detectAllFaces, boxes within 1 px, scores within 1e-3', async (_name, faces, file) => {
    const r = await compare(file, 0.5, 100);
    expect(r.faces).toBe(faces);
    expect(r.boxDiff).toBeLessThan(1);
    expect(r.scoreDiff).toBeLessThan(1e-3);
  }, 60_000);

  // Low threshold: many overlapping candidates, so the NMS order and suppression are exercised too
  // (sample1 stops at maxResults; face-api's own NMS is slow here: it re-reads all boxes per IoU).
  it.each([
    ['sample1.jpg', 0.02, 30, 30],
    ['sample6.jpg', 0.02, 100, 37],
  ] as const)('%s at minConfidence %d, maxResults %d: the same %d detections in the same order', async (name, minConfidence, maxResults, faces) => {
    const r = await compare(path.join(FACE_API_DIR, 'demo', name), minConfidence, maxResults);
    expect(r.faces).toBe(faces);
    expect(r.boxDiff).toBeLessThan(1);
    expect(r.scoreDiff).toBeLessThan(1e-3);
  }, 60_000);
});
