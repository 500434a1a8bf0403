/**
 * The inference API: detector.json (round trip, validation), the resampling against sharp and tfjs,
 * SsdDetector with a stand-in network (pure post-processing, any engine) and with tfjs models (a small
 * saved SSD, face-api's face detector against detectFacesFaceApiStyle), and tensor leaks.
 * The wasm backend: face-api's 512 × 512 detector runs several times here.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { mobilenetV1 } from '@mobilenets/backbone';
import { convertBoxes, encodeBoxesTfOrder, ssdAnchorsCxcywh } from '@mobilenets/box-math';
import { DATASETS_PREPROCESSING, parseDetectorSpec, ssdDetectorSpec, type DetectorSpec } from './detector-spec';
import { SsdDetector, detectorInput, tfjsSsdNetwork, type SsdNetwork } from './detector';
import { FACE_API_SSD, createFaceApiSsd, detectFacesFaceApiStyle, loadFaceApiSsdWeights } from './face-api';
import { DetectorSourceError, FACE_API_DETECTOR, faceApiDetectorSpec, findDetectorFiles, loadDetector } from './load-detector';
import { postprocessSsd } from './postprocess';
import { resizeBilinear, resizeLanczos3, rgbBytes } from './resample';
import { createSsd, type SsdModel } from './ssd-model';

const FACE_API_DIR = path.dirname(require.resolve('@vladmandic/face-api/package.json'));
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => path.join(FACE_API_DIR, 'demo', `sample${i}.jpg`));

interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/** JPEG → RGB with the EXIF orientation applied (as datasets' decoder does). */
async function decode(file: string): Promise<Rgb> {
  const { data, info } = await sharp(file).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** sharp's stretch resize, what @mobilenets/datasets does to evaluation images (decodeRegion of the whole image). */
async function sharpStretch(image: Rgb, size: number): Promise<Uint8Array> {
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(size, size, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function differences(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** A 96 × 80 test image: a dark background with two bright rectangles and a gradient. */
function shapesImage(width = 96, height = 80): Rgb {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      data[o] = (x * 255) / width;
      data[o + 1] = 40;
      data[o + 2] = (y * 255) / height;
      if (x >= 10 && x < 40 && y >= 12 && y < 50) data.set([250, 240, 10], o);
      if (x >= 55 && x < 90 && y >= 40 && y < 75) data.set([20, 200, 250], o);
    }
  }
  return { data, width, height };
}

/**
 * A small SSD (MobileNetV1 α 0.25 at 64 × 64, 2 classes) whose outputs depend on its input: freshly
 * initialised, its batch norms (mean 0, variance 1) let the activations fade to ~1e-11 by the outputs,
 * so the convolutions get He-scaled seeded kernels and the batch norms near-identity statistics.
 */
function smallSsd(seed = 3): SsdModel {
  const ssd = createSsd({ backbone: mobilenetV1({ inputSize: 64, widthMultiplier: 0.25, includeTop: false, seed }), classes: 2, seed });
  let s = seed * 1000;
  for (const layer of ssd.model.layers) {
    const names = layer.weights.map((w) => w.originalName.split('/').pop());
    const values = layer.getWeights().map((w, i) => {
      if (names[i] === 'kernel' || names[i] === 'depthwise_kernel') {
        const [kh, kw, channels] = w.shape;
        return tf.randomNormal(w.shape, 0, Math.sqrt(2 / (kh * kw * (names[i] === 'kernel' ? channels : 1))), 'float32', s++);
      }
      if (names[i] === 'gamma' || names[i] === 'moving_variance') return tf.randomUniform(w.shape, 0.8, 1.2, 'float32', s++);
      return tf.randomUniform(w.shape, -0.1, 0.1, 'float32', s++); // beta, moving mean, biases
    });
    if (values.length > 0) layer.setWeights(values);
    tf.dispose(values);
  }
  return ssd;
}

/** Writes model.json + weights.bin to `dir` (the standard layers-model format). */
async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
    fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detector-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('detector.json', () => {
  let ssd: SsdModel;
  let spec: DetectorSpec;
  beforeAll(() => {
    ssd = smallSsd();
    spec = ssdDetectorSpec(ssd, { labels: ['circle', 'square'], scoreFunction: 'softmax', arch: 'v1', widthMultiplier: 0.25 });
  });
  afterAll(() => ssd.model.dispose());

  it('describes the model, with the full anchor generator settings, and survives a JSON round trip', () => {
    expect(spec).toMatchObject({
      format: 'mobilenets-ssd', version: 1, head: 'ssd', arch: 'v1', widthMultiplier: 0.25, inputSize: 64, labels: ['circle', 'square'], scoreFunction: 'softmax',
      featureMapSizes: [[4, 4], [2, 2], [1, 1], [1, 1], [1, 1], [1, 1]], anchorsPerLocation: [3, 6, 6, 6, 6, 6], anchors: { count: 4 * 4 * 3 + (4 + 1 + 1 + 1 + 1) * 6 },
      boxCoderScales: [10, 10, 5, 5], nms: { iouThreshold: 0.6 }, preprocessing: { ...DATASETS_PREPROCESSING },
    });
    expect(Object.keys(spec.anchors.generator).sort()).toEqual(['aspectRatios', 'baseAnchorHeight', 'baseAnchorWidth', 'boxSpecs', 'heightOffset', 'heightStride', 'imageHeight', 'imageWidth', 'interpolatedAnchorPlacement', 'interpolatedScaleAspectRatio', 'maxScale', 'minScale', 'numLayers', 'reduceBoxesInLowestLayer', 'scales', 'widthOffset', 'widthStride']);
    expect(parseDetectorSpec(JSON.parse(JSON.stringify(spec)), 'detector.json')).toEqual(spec);
    // Regenerable: the anchors from the file are the generator's, bit for bit.
    const parsed = parseDetectorSpec(JSON.parse(JSON.stringify(spec)), 'detector.json');
    expect(ssdAnchorsCxcywh(parsed.featureMapSizes, parsed.anchors.generator)).toEqual(ssdAnchorsCxcywh(ssd.featureMapSizes));
  });

  it('ssdDetectorSpec refuses labels or anchors that do not fit the model', () => {
    expect(() => ssdDetectorSpec(ssd, { labels: ['one'], scoreFunction: 'softmax', arch: 'v1', widthMultiplier: 0.25 })).toThrow(/labels must name each of the model's 2 classes. Received 1 names/);
    expect(() => ssdDetectorSpec(ssd, { labels: ['a', 'b'], scoreFunction: 'softmax', arch: 'v1', widthMultiplier: 0.25, anchors: { reduceBoxesInLowestLayer: false } })).toThrow(
      /ssdDetectorSpec: 'anchorsPerLocation' must be what anchors.generator makes per cell \(\[6, 6, 6, 6, 6, 6\]\). Received \[3,6,6,6,6,6\]/,
    );
  });

  const edit = (change: (o: Record<string, any>) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const o = JSON.parse(JSON.stringify(spec));
    change(o);
    return () => parseDetectorSpec(o, '/models/shapes/detector.json');
  };
  it.each([
    ['no format', (o: Record<string, any>) => delete o.format, RangeError, /^\/models\/shapes\/detector.json: 'format' must be 'mobilenets-ssd' \(this is not a MobileNets.ts SSD detector spec\). Received nothing \(the field is missing\)\.$/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a newer version', (o: Record<string, any>) => (o.version = 2), RangeError, /'version' must be 1 \(the file was written by a newer MobileNets.ts: update @mobilenets\/detection-ssd to read it\). Received 2/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['labels not an array', (o: Record<string, any>) => (o.labels = 'circle'), TypeError, /'labels' must be a non-empty array with one name per object class .*Received "circle"/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a label that is a number', (o: Record<string, any>) => (o.labels[1] = 7), TypeError, /'labels\[1\]' must be a string or null. Received 7/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['only null labels', (o: Record<string, any>) => (o.labels = [null, null]), RangeError, /'labels' must be at least one name that is not null/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['an unknown head', (o: Record<string, any>) => (o.head = 'yolo'), RangeError, /'head' must be one of 'ssd', 'ssdlite'. Received "yolo"/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a fractional inputSize', (o: Record<string, any>) => (o.inputSize = 64.5), RangeError, /'inputSize' must be an integer ≥ 1. Received 64.5/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a wrong anchor count', (o: Record<string, any>) => (o.anchors.count = 100), RangeError, /'anchors.count' must be 96: Σ height · width · anchorsPerLocation over featureMapSizes. Received 100/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a feature map missing', (o: Record<string, any>) => o.featureMapSizes.pop(), RangeError, /'anchorsPerLocation' must be one integer per feature map \(5, as featureMapSizes\)/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a feature map that is not a pair', (o: Record<string, any>) => (o.featureMapSizes[2] = [1]), RangeError, /'featureMapSizes\[2\]' must be a \[height, width\] pair of integers ≥ 1. Received \[1\]/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a generator setting of the wrong kind', (o: Record<string, any>) => (o.anchors.generator.minScale = '0.2'), TypeError, /'anchors.generator.minScale' must be a finite number. Received "0.2"/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a generator setting box-math refuses', (o: Record<string, any>) => (o.anchors.generator.aspectRatios = [1, -2]), RangeError, /detector.json: anchors.generator.aspectRatios: expected positive ratios/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['generator layers that are not the feature maps', (o: Record<string, any>) => (o.anchors.generator.numLayers = 5), RangeError, /'anchors.generator.numLayers' must be the number of feature maps \(6, as featureMapSizes\). Received 5/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a box spec without a scale', (o: Record<string, any>) => (o.anchors.generator.boxSpecs = [[{ aspectRatio: 1 }], [], [], [], [], []]), TypeError, /'anchors.generator.boxSpecs\[0\]\[0\].scale' must be a number > 0. Received nothing/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['box specs that make other anchors than anchorsPerLocation', (o: Record<string, any>) => (o.anchors.generator.boxSpecs = Array.from({ length: 6 }, () => [{ scale: 0.5, aspectRatio: 1 }])), RangeError, /'anchorsPerLocation' must be what anchors.generator makes per cell \(\[1, 1, 1, 1, 1, 1\]\)/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['three box coder scales', (o: Record<string, any>) => o.boxCoderScales.pop(), RangeError, /'boxCoderScales' must be \[yScale, xScale, heightScale, widthScale\], four numbers > 0. Received \[10,10,5\]/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['an IoU threshold above 1', (o: Record<string, any>) => (o.nms.iouThreshold = 1.5), RangeError, /'nms.iouThreshold' must be a number in \[0, 1\]. Received 1.5/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['an unknown resize', (o: Record<string, any>) => (o.preprocessing.resize = 'crop'), RangeError, /'preprocessing.resize' must be one of 'stretch', 'pad-faceapi'. Received "crop"/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['no preprocessing', (o: Record<string, any>) => delete o.preprocessing, TypeError, /'preprocessing' must be an object. Received nothing/], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('refuses %s, naming the file, the field, the value and what is expected', (_what, change, type, message) => {
    const parse = edit(change);
    expect(parse).toThrow(type);
    expect(parse).toThrow(message);
  });

  it('refuses what is not a JSON object', () => {
    expect(() => parseDetectorSpec([1, 2], 'x.json')).toThrow(/^x.json: '\(top level\)' must be an object. Received \[1,2\]\.$/);
  });
});

describe('resampling', () => {
  it('resizeBilinear is tf.image.resizeBilinear (alignCorners false, halfPixelCenters false)', () => {
    const width = 37;
    const height = 23;
    const bytes = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 97 + ((i * i) % 31)) % 256);
    for (const [w, h] of [[64, 64], [16, 16], [37, 11]]) {
      const expected = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(bytes, [height, width, 3], 'float32'), [h, w], false, false).dataSync());
      expect(differences(resizeBilinear(bytes, width, height, w, h), expected).max).toBeLessThan(1e-3);
    }
  });

  // What the detector's 'lanczos3' preprocessing differs from sharp's resize (datasets' training and
  // evaluation images) by, in 8-bit levels; measured with sharp 0.35 / libvips 8.18.
  it.each([
    ['shrinking a photo 1920 × 1280 → 300 × 300', 300, 300, null, 5, 0.3],
    ['shrinking a photo 1920 × 1280 → 128 × 128 (15×)', 128, 128, null, 8, 0.5],
    ['shrinking on one axis, enlarging on the other: 480 × 320 → 400 × 400', 400, 400, [480, 320], 3, 0.2],
    ['enlarging a 200 × 150 image → 300 × 300', 300, 300, [200, 150], 2, 0.15],
  ] as const)('resizeLanczos3 is sharp\'s resize within a few levels: %s', async (_what, width, height, small, maxLevels, meanLevels) => {
    let image = await decode(SAMPLES[0]);
    if (small) image = { data: await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(small[0], small[1], { fit: 'fill' }).raw().toBuffer(), width: small[0], height: small[1] };
    const theirs = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { fit: 'fill' }).raw().toBuffer();
    const d = differences(resizeLanczos3(image.data, image.width, image.height, width, height), theirs);
    process.stdout.write(`resizeLanczos3 vs sharp, ${image.width}×${image.height} → ${width}×${height}: max ${d.max}, mean ${d.mean.toFixed(3)} levels\n`);
    expect(d.max).toBeLessThanOrEqual(maxLevels);
    expect(d.mean).toBeLessThanOrEqual(meanLevels);
  }, 20_000);

  it('resizeLanczos3 keeps an image of the same size as it is; rgbBytes composites RGBA onto black', () => {
    const image = shapesImage();
    expect(resizeLanczos3(image.data, image.width, image.height, image.width, image.height)).toEqual(image.data);
    expect(Array.from(rgbBytes({ data: Uint8Array.from([200, 100, 50, 255, 200, 100, 50, 0, 255, 255, 255, 128]), width: 3, height: 1, channels: 4 }))).toEqual([200, 100, 50, 0, 0, 0, 128, 128, 128]);
    expect(() => rgbBytes({ data: new Uint8Array(10), width: 2, height: 2 }, 'photo')).toThrow(/^photo: a 2 × 2 image with 3 channels has 12 bytes, received 10\.$/);
    expect(() => rgbBytes({ data: new Float32Array(12) as unknown as Uint8Array, width: 2, height: 2 })).toThrow(TypeError);
  });
});

/** A network that returns fixed outputs and records its calls: what an onnxruntime session looks like to the detector. */
function standInNetwork(inputSize: number, boxEncodings: Float32Array, classLogits: Float32Array) {
  const calls: { batch: number; length: number; first: number }[] = [];
  let disposed = 0;
  const network: SsdNetwork = {
    inputSize,
    async run(images, batch) {
      calls.push({ batch, length: images.length, first: images[0] });
      const repeat = (a: Float32Array) => {
        const out = new Float32Array(a.length * batch);
        for (let b = 0; b < batch; b++) out.set(a, b * a.length);
        return out;
      };
      return { boxEncodings: repeat(boxEncodings), classLogits: repeat(classLogits) };
    },
    dispose: () => void (disposed += 1),
  };
  return { network, calls, disposed: () => disposed };
}

describe('SsdDetector on a stand-in network (the post-processing every engine shares)', () => {
  const spec = parseDetectorSpec(
    {
      format: 'mobilenets-ssd', version: 1, head: 'ssd', arch: 'v2', widthMultiplier: 1, inputSize: 8,
      labels: ['cat', null, 'dog'], scoreFunction: 'sigmoid', featureMapSizes: [[2, 2], [1, 1]], anchorsPerLocation: [1, 1],
      anchors: { count: 5, generator: { numLayers: 2, scales: [0.4, 0.8], aspectRatios: [1], interpolatedScaleAspectRatio: 0, reduceBoxesInLowestLayer: false } },
      boxCoderScales: [10, 10, 5, 5], nms: { iouThreshold: 0.5 }, preprocessing: { resize: 'stretch', interpolation: 'lanczos3', scale: 1 / 127.5, offset: -1 },
    },
    'stand-in',
  );
  const anchors = ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator);
  // Target boxes (normalised xyxy), one an anchor, coded against their anchors: what the network "predicts".
  const targets = [[0.1, 0.1, 0.4, 0.45], [0.5, 0.05, 0.95, 0.5], [0.05, 0.55, 0.5, 0.9], [0.6, 0.6, 0.9, 0.95], [0.2, 0.2, 0.8, 0.8]];
  const codes = Float32Array.from(encodeBoxesTfOrder(convertBoxes(targets.flat(), 'xyxy', 'cxcywh'), anchors));
  // Logits [background, cat, (unreported), dog] per anchor.
  const logit = (p: number) => Math.log(p / (1 - p));
  const logits = Float32Array.from([
    [0, logit(0.9), logit(0.2), logit(0.1)],
    [0, logit(0.3), logit(0.99), logit(0.8)], // the unreported class scores highest here: never reported
    [0, logit(0.6), logit(0.1), logit(0.7)],
    [0, logit(0.05), logit(0.05), logit(0.45)],
    [0, logit(0.65), logit(0.1), logit(0.1)],
  ].flat());

  it('reports boxes in image pixels, best first, per class, never the null-labelled class', async () => {
    const { network, calls } = standInNetwork(8, codes, logits);
    const detector = new SsdDetector({ network, spec });
    const image = { data: new Uint8Array(200 * 100 * 3).fill(255), width: 200, height: 100 };
    const found = await detector.detect(image);
    expect(calls).toEqual([{ batch: 1, length: 8 * 8 * 3, first: 1 }]);
    // cat 0.9 (anchor 0), dog 0.8 (anchor 1; its unreported 0.99 is not), dog 0.7 and cat 0.6 (anchor 2), cat 0.65 (anchor 4: IoU 0.12 with anchor 0's box).
    expect(found.map((d) => [d.labelName, d.label, Number(d.score.toFixed(6))])).toEqual([['cat', 0, 0.9], ['dog', 2, 0.8], ['dog', 2, 0.7], ['cat', 0, 0.65], ['cat', 0, 0.6]]);
    const expected = (i: number) => [targets[i][0] * 200, targets[i][1] * 100, targets[i][2] * 200, targets[i][3] * 100];
    found.forEach((d, k) => d.boxXyxy.forEach((v, c) => expect(v).toBeCloseTo(expected([0, 1, 2, 4, 2][k])[c], 3)));
    expect((await detector.detect(image, { minScore: 0.75 })).map((d) => d.score.toFixed(2))).toEqual(['0.90', '0.80']);
    expect((await detector.detect(image, { maxDetections: 2 })).map((d) => d.score.toFixed(2))).toEqual(['0.90', '0.80']);
    // IoU threshold 0.1: anchor 4's cat (IoU 0.12 with anchor 0's) is suppressed now.
    expect((await detector.detect(image, { iouThreshold: 0.1 })).map((d) => `${d.labelName} ${d.score.toFixed(2)}`)).toEqual(['cat 0.90', 'dog 0.80', 'dog 0.70', 'cat 0.60']);
  });

  it('detectBatch runs the network once for all images and maps each image\'s boxes to its own size', async () => {
    const { network, calls } = standInNetwork(8, codes, logits);
    const detector = new SsdDetector({ network, spec });
    const [a, b] = await detector.detectBatch([{ data: new Uint8Array(40 * 20 * 3), width: 40, height: 20 }, { data: new Uint8Array(10 * 30 * 4), width: 10, height: 30, channels: 4 }]);
    expect(calls).toEqual([{ batch: 2, length: 2 * 8 * 8 * 3, first: -1 }]);
    expect(a[0].boxXyxy.map((v) => Number(v.toFixed(3)))).toEqual([4, 2, 16, 9]);
    expect(b[0].boxXyxy.map((v) => Number(v.toFixed(3)))).toEqual([1, 3, 4, 13.5]);
  });

  it('refuses bad options and images, a network of another input size or anchors, and detect after dispose', async () => {
    const { network, disposed } = standInNetwork(8, codes, logits);
    const detector = new SsdDetector({ network, spec });
    const image = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 };
    await expect(detector.detect(image, { minScore: 1.5 })).rejects.toThrow(/minScore must be a number in \[0, 1\]. Received 1.5/);
    await expect(detector.detect(image, { maxDetections: 0 })).rejects.toThrow(/maxDetections must be an integer ≥ 1. Received 0/);
    await expect(detector.detect({ data: new Uint8Array(5), width: 4, height: 4 })).rejects.toThrow(/SsdDetector.detect: image: a 4 × 4 image with 3 channels has 48 bytes, received 5/);
    expect(() => new SsdDetector({ network: standInNetwork(16, codes, logits).network, spec })).toThrow(/the network's input is 16 × 16 but the spec's inputSize is 8/);
    const short = new SsdDetector({ network: standInNetwork(8, codes.subarray(4), logits).network, spec });
    await expect(short.detect(image)).rejects.toThrow(/returned 16 box-encoding numbers for 1 image\(s\); the spec's 5 anchors and 3 classes need 20/);
    detector.dispose();
    detector.dispose();
    expect(disposed()).toBe(1);
    await expect(detector.detect(image)).rejects.toThrow(/detect\(\) after dispose\(\)/);
  });
});

describe('a saved tfjs detector', () => {
  let ssd: SsdModel;
  let spec: DetectorSpec;
  let run: string;
  beforeAll(async () => {
    ssd = smallSsd();
    spec = ssdDetectorSpec(ssd, { labels: ['yellow', 'blue'], scoreFunction: 'sigmoid', arch: 'v1', widthMultiplier: 0.25 });
    run = path.join(tmp, 'run');
    await saveModel(ssd.model, path.join(run, 'model'));
    fs.writeFileSync(path.join(run, 'model', 'detector.json'), JSON.stringify(spec, null, 1));
  });
  afterAll(() => ssd.model.dispose());

  /** The model's raw outputs for preprocessed pixels. */
  function outputs(pixels: Float32Array): { boxes: Float32Array; logits: Float32Array } {
    return tf.tidy(() => {
      const [boxes, logits] = ssd.model.predict(tf.tensor4d(pixels, [1, 64, 64, 3])) as tf.Tensor[];
      return { boxes: boxes.dataSync() as Float32Array, logits: logits.dataSync() as Float32Array };
    });
  }

  it('loads from the model folder, the run folder or model.json, and detects what postprocessSsd makes of the model\'s outputs', async () => {
    const image = shapesImage();
    const input = detectorInput(image, spec);
    const { boxes, logits } = outputs(input.pixels);
    const expected = postprocessSsd(boxes, logits, { anchorsCxcywh: ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator), classes: 2, imageWidth: 96, imageHeight: 80, minScore: 0.3, iouThreshold: 0.6, scoreFunction: 'sigmoid' });
    expect(expected.length).toBeGreaterThan(0);
    for (const source of [run, path.join(run, 'model'), path.join(run, 'model', 'model.json')]) {
      const detector = await loadDetector(source);
      const found = await detector.detect(image, { minScore: 0.3 });
      expect(found.map(({ boxXyxy, score, label }) => ({ boxXyxy, score, label }))).toEqual(expected.map((d) => ({ ...d, score: expect.closeTo(d.score, 6) as unknown as number, boxXyxy: d.boxXyxy.map((v) => expect.closeTo(v, 3)) })));
      expect(found.map((d) => d.labelName)).toEqual(expected.map((d) => ['yellow', 'blue'][d.label]));
      detector.dispose();
    }
  });

  it('its preprocessing gives the network what sharp (datasets\' evaluation images) gives it, within a small tolerance', async () => {
    const image = shapesImage(150, 120);
    const ours = outputs(detectorInput(image, spec).pixels);
    const sharpPixels = Float32Array.from(await sharpStretch(image, 64), (v) => v / 127.5 - 1);
    const theirs = outputs(sharpPixels);
    const inputs = differences(detectorInput(image, spec).pixels, sharpPixels);
    const boxes = differences(ours.boxes, theirs.boxes);
    const logits = differences(ours.logits, theirs.logits);
    process.stdout.write(`detector vs sharp preprocessing: inputs max ${inputs.max.toFixed(4)} mean ${inputs.mean.toFixed(5)}; box codes max ${boxes.max.toExponential(2)}; logits max ${logits.max.toExponential(2)}\n`);
    expect(inputs.max).toBeLessThanOrEqual(4 / 127.5);
    expect(boxes.max).toBeLessThan(0.01);
    expect(logits.max).toBeLessThan(0.01);
  });

  it('leaks no tensors: detect leaves the count unchanged, dispose returns it to where loading started', async () => {
    const before = tf.memory().numTensors;
    const detector = await loadDetector(run);
    const loaded = tf.memory().numTensors;
    expect(loaded).toBeGreaterThan(before);
    await detector.detect(shapesImage());
    await detector.detectBatch([shapesImage(), shapesImage(50, 70)]);
    expect(tf.memory().numTensors).toBe(loaded);
    detector.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('passes the model folder and the spec to a network factory; an .onnx file needs one and its spec beside it', async () => {
    const seen: string[] = [];
    const factory = async (model: string, s: DetectorSpec) => {
      seen.push(`${model} ${s.labels.join(',')}`);
      return tfjsSsdNetwork(smallSsd(5).model);
    };
    (await loadDetector(run, { network: factory })).dispose();
    expect(seen).toEqual([`${path.join(run, 'model')} yellow,blue`]);
    const onnx = path.join(tmp, 'onnx');
    fs.mkdirSync(onnx);
    fs.writeFileSync(path.join(onnx, 'shapes.onnx'), 'not read by this package');
    expect(() => findDetectorFiles(path.join(onnx, 'shapes.onnx'))).toThrow(new RegExp(`an ONNX model needs its spec, ${path.join(onnx, 'shapes.detector.json')} or ${path.join(onnx, 'detector.json')}; neither exists`));
    fs.writeFileSync(path.join(onnx, 'detector.json'), JSON.stringify(spec));
    expect(findDetectorFiles(path.join(onnx, 'shapes.onnx'))).toEqual({ spec: path.join(onnx, 'detector.json'), model: path.join(onnx, 'shapes.onnx'), format: 'onnx' });
    fs.writeFileSync(path.join(onnx, 'shapes.detector.json'), JSON.stringify(spec));
    expect(findDetectorFiles(path.join(onnx, 'shapes.onnx')).spec).toBe(path.join(onnx, 'shapes.detector.json'));
    await expect(loadDetector(path.join(onnx, 'shapes.onnx'))).rejects.toThrow(/shapes.onnx is an ONNX model; pass options.network/);
    (await loadDetector(path.join(onnx, 'shapes.onnx'), { network: factory })).dispose();
    expect(seen[1]).toBe(`${path.join(onnx, 'shapes.onnx')} yellow,blue`);
  });

  it('says what is wrong with a source: nothing there, no detector.json, a spec of another model, a missing weights file, damaged JSON', async () => {
    await expect(loadDetector(path.join(tmp, 'nothing'))).rejects.toThrow(DetectorSourceError);
    await expect(loadDetector(path.join(tmp, 'nothing'))).rejects.toThrow(/nothing: no such file or folder. Expected a model folder \(detector.json, model.json, weights.bin\)/);
    const bare = path.join(tmp, 'bare');
    fs.mkdirSync(bare);
    fs.copyFileSync(path.join(run, 'model', 'model.json'), path.join(bare, 'model.json'));
    await expect(loadDetector(bare)).rejects.toThrow(/there is a model.json but no detector.json/);

    const other = path.join(tmp, 'other');
    fs.cpSync(path.join(run, 'model'), other, { recursive: true });
    const threeClasses = { ...spec, labels: ['a', 'b', 'c'] };
    fs.writeFileSync(path.join(other, 'detector.json'), JSON.stringify(threeClasses));
    await expect(loadDetector(other)).rejects.toThrow(new RegExp(`${path.join(other, 'model.json')} and ${path.join(other, 'detector.json')} belong to different models: the model's output 'ClassLogits' is \\[batch, 96, 3\\], the spec needs \\[batch, 96, 4\\]`));
    fs.writeFileSync(path.join(other, 'detector.json'), '{ "format": "mobilenets-ssd", ');
    await expect(loadDetector(other)).rejects.toThrow(new RegExp(`${path.join(other, 'detector.json')} is not valid JSON`));
    fs.writeFileSync(path.join(other, 'detector.json'), JSON.stringify({ ...spec, scoreFunction: 'relu' }));
    await expect(loadDetector(other)).rejects.toThrow(new RegExp(`${path.join(other, 'detector.json')}: 'scoreFunction' must be one of 'softmax', 'sigmoid'. Received "relu"`));
    fs.writeFileSync(path.join(other, 'detector.json'), JSON.stringify(spec));
    fs.rmSync(path.join(other, 'weights.bin'));
    await expect(loadDetector(other)).rejects.toThrow(new RegExp(`cannot read ${path.join(other, 'weights.bin')}, listed in ${path.join(other, 'model.json')} \\(ENOENT\\)`));
  });
});

describe(`'${FACE_API_DETECTOR}': face-api's face detector`, () => {
  let reference: SsdModel;
  let anchors: Float64Array;
  let before: number;
  let detector: SsdDetector;
  beforeAll(async () => {
    // The reference: the same weights in createFaceApiSsd, run by detectFacesFaceApiStyle (itself checked against face-api in face-api.test.ts).
    const dir = path.join(FACE_API_DIR, 'model');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'ssd_mobilenetv1_model-weights_manifest.json'), 'utf8')) as tf.io.WeightsManifestConfig;
    const buffers = manifest.flatMap((g) => g.paths).map((f) => {
      const b = fs.readFileSync(path.join(dir, f));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    });
    const weights = tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), manifest.flatMap((g) => g.weights));
    reference = createFaceApiSsd();
    anchors = loadFaceApiSsdWeights(reference, weights);
    tf.dispose(Object.values(weights));
    before = tf.memory().numTensors;
    detector = await loadDetector(FACE_API_DETECTOR);
  }, 60_000);
  afterAll(() => {
    detector?.dispose();
    reference?.model.dispose();
  });

  it('has face-api\'s spec: 512 input, padded to square, bilinear, sigmoid of logit 1 only, its stored anchors regenerated', () => {
    expect(detector.spec).toEqual(faceApiDetectorSpec());
    expect(detector.labels).toEqual(['face', null]);
    expect(detector.spec.preprocessing).toEqual({ resize: 'pad-faceapi', interpolation: 'bilinear', scale: 1 / 127.5, offset: -1 });
    const regenerated = ssdAnchorsCxcywh(detector.spec.featureMapSizes, detector.spec.anchors.generator);
    expect(differences(regenerated, anchors).max).toBeLessThan(1e-6);
    expect(FACE_API_SSD.anchors).toBe(detector.spec.anchors.count);
  });

  // Faces face-api finds at its defaults (minConfidence 0.5, maxResults 100) in samples 1, 4, 6 (three
  // heights, so three roundings in face-api's box mapping): 3, 4, 4. face-api.test.ts runs all six.
  it.each([[1, 3], [4, 4], [6, 4]].map(([i, faces]) => [path.basename(SAMPLES[i - 1]), faces, SAMPLES[i - 1]] as const))('%s: the same %d faces as detectFacesFaceApiStyle, boxes within 1 px, scores within 1e-3', async (_name, faces, file) => {
    const image = await decode(file);
    const ours = await detector.detect(image);
    const theirs = await detectFacesFaceApiStyle(reference, anchors, { pixels: image.data, width: image.width, height: image.height });
    expect(ours).toHaveLength(faces);
    expect(theirs).toHaveLength(faces);
    let boxDiff = 0;
    let scoreDiff = 0;
    ours.forEach((d, i) => {
      const { x, y, width, height } = theirs[i].box;
      const theirsXyxy = [x, y, x + width, y + height];
      d.boxXyxy.forEach((v, c) => (boxDiff = Math.max(boxDiff, Math.abs(v - theirsXyxy[c]))));
      scoreDiff = Math.max(scoreDiff, Math.abs(d.score - theirs[i].score));
      expect(d.labelName).toBe('face');
    });
    process.stdout.write(`${path.basename(file)} ${image.width}x${image.height}: ${ours.length} faces, max |Δbox| ${boxDiff.toExponential(2)} px, max |Δscore| ${scoreDiff.toExponential(2)}\n`);
    expect(boxDiff).toBeLessThan(1);
    expect(scoreDiff).toBeLessThan(1e-3);
  }, 30_000);

  it('leaks no tensors: detect leaves the count unchanged, dispose returns it to where loading started', async () => {
    const loaded = tf.memory().numTensors;
    expect(loaded).toBeGreaterThan(before);
    await detector.detectBatch([{ data: new Uint8Array(300 * 200 * 3), width: 300, height: 200 }, { data: new Uint8Array(100 * 150 * 3), width: 100, height: 150 }]);
    expect(tf.memory().numTensors).toBe(loaded);
    detector.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);
});
