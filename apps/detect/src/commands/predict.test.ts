/**
 * `mobilenet-detect predict`: run as a user runs it (the bin, in a child process) with face-api's face
 * detector on one of its sample photos; and, in process, the detector's preprocessing against the
 * datasets pipeline that training and evaluation use.
 */
import '@tensorflow/tfjs-backend-cpu';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { mobilenetV1 } from '@mobilenets/backbone';
import { ssdAnchorsCxcywh } from '@mobilenets/box-math';
import * as datasets from '@mobilenets/datasets';
import { SsdDetector, createSsd, detectorInput, postprocessSsd, ssdDetectorSpec, tfjsSsdNetwork, type SsdModel } from '@mobilenets/detection-ssd';
import { CLASS_COLOURS } from '../annotate';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BIN = path.join(ROOT, 'apps', 'detect', 'bin', 'mobilenet-detect.js');
const SAMPLE = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, MOBILENETS_BACKEND: 'wasm' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detect-predict-'));
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('mobilenet-detect predict (end to end)', () => {
  it('faceapi-ssd-mobilenetv1 on a sample photo: JSON of three faces and an annotated PNG; exit 1 for a missing image, 2 for usage errors', async () => {
    const out = path.join(tmp, 'annotated');
    const missing = path.join(tmp, 'no-such-photo.jpg');
    const [ok, absent, unknown, beside] = await Promise.all([
      run(['predict', '--model', 'faceapi-ssd-mobilenetv1', SAMPLE, '--out', out, '--json']),
      run(['predict', '--model', 'faceapi-ssd-mobilenetv1', missing, '--json']),
      run(['predict', '--model', 'faceapi-ssd-mobilenetv1', SAMPLE, '--min-scor', '0.3']),
      run(['predict', '--model', 'faceapi-ssd-mobilenetv1', SAMPLE, '--out', path.dirname(SAMPLE)]),
    ]);

    expect(ok.stderr).not.toMatch(/error/);
    expect(ok.status).toBe(0);
    const results = JSON.parse(ok.stdout) as { image: string; detections: { box: number[]; score: number; label: string }[] }[];
    expect(results).toHaveLength(1);
    expect(results[0].image).toBe(SAMPLE);
    expect(results[0].detections).toHaveLength(3);
    for (const d of results[0].detections) {
      expect(Object.keys(d).sort()).toEqual(['box', 'label', 'score']);
      expect(d.label).toBe('face');
      expect(d.score).toBeGreaterThan(0.5);
      const [x1, y1, x2, y2] = d.box;
      expect(0 <= x1 && x1 < x2 && x2 <= 1920 && 0 <= y1 && y1 < y2 && y2 <= 1280).toBe(true);
    }
    // The faces face-api finds in sample1 (face-api.test.ts): about 180 × 230 px each, best first.
    expect(results[0].detections.map((d) => d.score)).toEqual([...results[0].detections.map((d) => d.score)].sort((a, b) => b - a));

    const png = path.join(out, 'sample1.png');
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1920, 1280]);
    // The best face's box is drawn in the first class colour: its left edge, halfway down.
    const [x1, y1, , y2] = results[0].detections[0].box;
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((Math.round(y) * info.width + Math.round(x)) * info.channels, (Math.round(y) * info.width + Math.round(x)) * info.channels + 3));
    const colour = [1, 3, 5].map((i) => parseInt(CLASS_COLOURS[0].slice(i, i + 2), 16));
    expect(at(x1, (y1 + y2) / 2)).toEqual(colour);
    expect(ok.stderr).toContain(`wrote 1 annotated image(s) to ${out}`);

    expect(absent.status).toBe(1);
    expect(JSON.parse(absent.stdout)).toEqual([{ image: missing, error: 'no such file' }]);
    expect(absent.stderr).toContain(`warning: ${missing}: no such file`);
    expect(absent.stderr).toContain('error: 1 of 1 image(s) could not be read');
    expect(absent.stderr).not.toContain('tfjs backend'); // nothing to detect: the detector is not loaded

    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--min-scor'");

    expect(beside.status).toBe(2);
    expect(beside.stderr).toContain(`--out ${path.dirname(SAMPLE)} is the folder of the input image ${SAMPLE}`);
  }, 60_000);
});

/** A small SSD whose outputs depend on its input (He-scaled seeded kernels, near-identity batch norms). */
function smallSsd(): SsdModel {
  const ssd = createSsd({ backbone: mobilenetV1({ inputSize: 64, widthMultiplier: 0.25, includeTop: false, seed: 7 }), classes: 2, seed: 7 });
  let seed = 100;
  for (const layer of ssd.model.layers) {
    const names = layer.weights.map((w) => w.originalName.split('/').pop());
    const values = layer.getWeights().map((w, i) => {
      if (names[i] === 'kernel' || names[i] === 'depthwise_kernel') {
        const [kh, kw, channels] = w.shape;
        return tf.randomNormal(w.shape, 0, Math.sqrt(2 / (kh * kw * (names[i] === 'kernel' ? channels : 1))), 'float32', seed++);
      }
      if (names[i] === 'gamma' || names[i] === 'moving_variance') return tf.randomUniform(w.shape, 0.8, 1.2, 'float32', seed++);
      return tf.randomUniform(w.shape, -0.1, 0.1, 'float32', seed++);
    });
    if (values.length > 0) layer.setWeights(values);
    tf.dispose(values);
  }
  return ssd;
}

describe('predict\'s preprocessing is the datasets pipeline\'s (training, evaluation)', () => {
  it('a generated shapes image: the same network input within a few levels, the same detections', async () => {
    const rendered = datasets.renderDetectionImage(3, { classes: 2, size: 200, seed: 5 });
    const file = path.join(tmp, 'shapes.png');
    fs.writeFileSync(file, await datasets.encodePng(rendered.pixels, rendered.size, rendered.size));
    const ssd = smallSsd();
    const spec = ssdDetectorSpec(ssd, { labels: datasets.detectionClassNames(2), scoreFunction: 'sigmoid', arch: 'v1', widthMultiplier: 0.25 });
    const detector = new SsdDetector({ network: tfjsSsdNetwork(ssd.model), spec });
    try {
      // What evaluation feeds the network: detectionData without augmentation.
      const record = { path: file, imageId: 1, width: 200, height: 200, boxesXyxy: Float64Array.from(rendered.objects.flatMap((o) => o.boxXyxy)), labels: Int32Array.from(rendered.objects.map((o) => o.classIndex)), ignore: new Uint8Array(rendered.objects.length) };
      let evaluation: Float32Array | null = null;
      for await (const batch of datasets.detectionData([record], spec.labels as string[], { inputSize: 64 }).batches({ epoch: 0, batchSize: 1, seed: 0, skip: 0, shuffle: false })) evaluation = batch.images;
      // What predict feeds it: the decoded file, preprocessed by the detector.
      const decoded = await datasets.loadImage(file);
      const image = { data: datasets.floatToUint8(decoded.pixels), width: decoded.width, height: decoded.height };
      const input = detectorInput(image, spec).pixels;
      let max = 0;
      evaluation!.forEach((v, i) => (max = Math.max(max, Math.abs(v - input[i]) * 127.5)));
      process.stdout.write(`detector vs detectionData input, 200 → 64: max ${max.toFixed(2)} levels\n`);
      expect(max).toBeLessThanOrEqual(8);

      const [boxes, logits] = tf.tidy(() => (ssd.model.predict(tf.tensor4d(evaluation!, [1, 64, 64, 3])) as tf.Tensor[]).map((t) => t.dataSync()));
      const reference = postprocessSsd(boxes, logits, { anchorsCxcywh: ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator), classes: 2, imageWidth: 200, imageHeight: 200, minScore: 0.5, iouThreshold: spec.nms.iouThreshold, scoreFunction: 'sigmoid' });
      const ours = await detector.detect(image, { minScore: 0.49 });
      expect(reference.length).toBeGreaterThan(0);
      const matches = (a: { boxXyxy: number[]; score: number; label: number }, b: { boxXyxy: number[]; score: number; label: number }) =>
        a.label === b.label && Math.abs(a.score - b.score) < 5e-3 && a.boxXyxy.every((v, c) => Math.abs(v - b.boxXyxy[c]) < 1);
      for (const r of reference) expect({ r, found: ours.some((d) => matches(d, r)) }).toEqual({ r, found: true });
      for (const d of ours.filter((o) => o.score > 0.51)) expect({ d, found: reference.some((r) => matches(d, r)) }).toEqual({ d, found: true });
    } finally {
      detector.dispose();
    }
  }, 30_000);
});
