/**
 * Detectors on onnxruntime: per-image latency (batch 1) of the network alone and end to end (resize and
 * scaling in plain TypeScript, the network, decoding and NMS from box-math), next to each model's
 * Mult-Adds and parameters from the profiler. By default: SSD 300 on MobileNetV1 α 1 (the paper's Table
 * 13 model), SSDLite 320 on V1 and V2 at α 1 and 0.5 (3 classes, fresh seeded weights: latency does not
 * depend on the weights), and face-api's trained face detector at 512; `--model DIR` adds saved
 * detectors ('mobilenet-detect train' model or run folders). Each model is exported to a temporary
 * .onnx. The image is one of face-api's sample photos. Medians of timed runs after warm-ups.
 * measureDetectionLatency is the measuring part, which tools/bench/report.ts also runs.
 *
 * Usage: node -r ./tools/ts-register.js tools/bench/detection-latency.ts [--model DIR]… [--runs 30] [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2, profile } from '@mobilenets/backbone';
import { formatMillions, formatTable } from '@mobilenets/cli-kit';
import { type DetectorImage, type DetectorSpec, type SsdModel, FACE_API_DETECTOR, createFaceApiSsd, createSsd, detectorInput, faceApiDetectorSpec, loadDetector, loadFaceApiSsdWeights, readDetectorSpec, ssdDetectorSpec } from '@mobilenets/detection-ssd';
import { exportOnnx, fileSystem, onnxDetectionNetwork, readFaceApiWeights, setup } from '@mobilenets/runtime';

/** A detector to time, built when its turn comes (and disposed after). */
interface Candidate {
  name: string;
  build: () => Promise<{ model: tfl.LayersModel; spec: DetectorSpec }>;
}

export interface DetectionLatencyRow {
  model: string;
  inputSize: number;
  anchors: number;
  multAdds: number;
  params: number;
  /** Resizing and scaling the photo to the network's input (detectorInput, plain TypeScript). */
  preprocessMs: number;
  networkMs: number;
  /** detect(): pre-processing, the network, decoding and NMS. */
  endToEndMs: number;
}

export interface DetectionLatencyResult {
  /** The photo: file name and size. */
  image: string;
  /** Timed runs per measurement (fewer when a model's budget ran out: see each row's runs). */
  runs: number;
  warmup: number;
  minScore: number;
  rows: DetectionLatencyRow[];
}

export interface DetectionLatencyOptions {
  /** Timed runs per measurement; default 30. */
  runs?: number;
  /** Untimed runs before each measurement; default 3. */
  warmup?: number;
  /** Stop a measurement's timed runs after this many ms (at least 3 are done); default Infinity. */
  budgetMs?: number;
  /** Names of the built-in detectors to time (BUILT_IN_DETECTORS); default all of them. */
  detectors?: readonly string[];
  /** Saved detectors ('mobilenet-detect train' model or run folders), timed after the built-in ones. */
  saved?: readonly string[];
  /** Called before each model is built: false leaves it out; may throw to stop (what was built is disposed). */
  onModel?: (name: string) => boolean | void;
}

const LABELS = ['circle', 'square', 'triangle'];
const v1 = (alpha: number, size: number) => mobilenetV1({ widthMultiplier: alpha, inputSize: size, includeTop: false, seed: 1 });
const v2 = (alpha: number, size: number) => mobilenetV2({ widthMultiplier: alpha, inputSize: size, includeTop: false, seed: 1 });

function fresh(ssd: SsdModel, arch: 'v1' | 'v2', alpha: number): { model: tfl.LayersModel; spec: DetectorSpec } {
  return { model: ssd.model, spec: ssdDetectorSpec(ssd, { labels: LABELS, scoreFunction: 'softmax', arch, widthMultiplier: alpha }) };
}

const ssdlite = (arch: 'v1' | 'v2', alpha: number): Candidate => ({
  name: `SSDLite 320, ${arch.toUpperCase()} α ${alpha}`,
  build: async () => fresh(createSsd({ backbone: (arch === 'v1' ? v1 : v2)(alpha, 320), classes: 3, head: 'ssdlite', depthMultiplier: alpha, seed: 2 }), arch, alpha),
});

const BUILT_IN: Candidate[] = [
  { name: 'SSD 300, V1 α 1', build: async () => fresh(createSsd({ backbone: v1(1, 300), classes: 3, head: 'ssd', seed: 2 }), 'v1', 1) },
  ssdlite('v1', 1),
  ssdlite('v2', 1),
  ssdlite('v1', 0.5),
  ssdlite('v2', 0.5),
  {
    name: `face-api face detector (${FACE_API_DETECTOR})`,
    build: async () => {
      const faceApi = createFaceApiSsd();
      const weights = await readFaceApiWeights('ssd_mobilenetv1_model');
      loadFaceApiSsdWeights(faceApi, weights);
      Object.values(weights).forEach((w) => w.dispose());
      return { model: faceApi.model, spec: faceApiDetectorSpec() };
    },
  },
];

/** The built-in detectors' names, in the order they are timed. */
export const BUILT_IN_DETECTORS: readonly string[] = BUILT_IN.map((c) => c.name);

function savedCandidate(dir: string): Candidate {
  const modelDir = fs.existsSync(path.join(dir, 'model', 'model.json')) ? path.join(dir, 'model') : dir;
  return {
    name: `${path.basename(path.resolve(dir))} (saved)`,
    build: async () => ({ model: await tfl.loadLayersModel(fileSystem(modelDir)), spec: readDetectorSpec(path.join(modelDir, 'detector.json')) }),
  };
}

function candidates(options: DetectionLatencyOptions): Candidate[] {
  const wanted = options.detectors ?? BUILT_IN_DETECTORS;
  const unknown = wanted.filter((name) => !BUILT_IN_DETECTORS.includes(name));
  if (unknown.length > 0) throw new RangeError(`measureDetectionLatency: no built-in detector ${unknown.map((n) => `'${n}'`).join(', ')}; they are ${BUILT_IN_DETECTORS.map((n) => `'${n}'`).join(', ')}.`);
  return [...BUILT_IN.filter((c) => wanted.includes(c.name)), ...(options.saved ?? []).map(savedCandidate)];
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The median ms of `f` over timed runs after warm-ups, within the budget (at least 3 runs). */
async function medianMs(f: () => unknown, o: { runs: number; warmup: number; budgetMs: number }): Promise<number> {
  for (let i = 0; i < o.warmup; i++) await f();
  const ms: number[] = [];
  const began = performance.now();
  while (ms.length < o.runs && (ms.length < 3 || performance.now() - began < o.budgetMs)) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

/** The photo every detector is timed on: one of face-api's samples, decoded to RGB bytes. */
async function samplePhoto(): Promise<{ image: DetectorImage; name: string }> {
  const photo = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
  const { data, info } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 as const };
  return { image, name: `${path.basename(photo)} ${info.width}×${info.height}` };
}

/**
 * Times each detector on onnxruntime (fp32, batch 1): its pre-processing, the network alone and
 * detect() end to end, each exported to a temporary .onnx. Needs setup() done (export runs tfjs).
 */
export async function measureDetectionLatency(options: DetectionLatencyOptions = {}): Promise<DetectionLatencyResult> {
  const timing = { runs: options.runs ?? 30, warmup: options.warmup ?? 3, budgetMs: options.budgetMs ?? Infinity };
  const minScore = 0.5;
  const list = candidates(options);
  const { image, name } = await samplePhoto();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detection-latency-'));
  const rows: DetectionLatencyRow[] = [];
  try {
    for (const c of list) {
      if (options.onModel?.(c.name) === false) continue;
      const { model, spec } = await c.build();
      let file: string;
      let counts: { multAdds: number; params: number };
      try {
        counts = profile(model);
        file = path.join(tmp, `${rows.length}.onnx`);
        await exportOnnx(model, file);
      } finally {
        model.dispose();
      }
      fs.writeFileSync(path.join(tmp, `${rows.length}.detector.json`), JSON.stringify(spec));
      const network = await onnxDetectionNetwork(file);
      const detector = await loadDetector(file, { network: async () => network });
      try {
        const preprocessMs = await medianMs(() => detectorInput(image, spec), timing);
        const input = detectorInput(image, spec).pixels;
        const networkMs = await medianMs(() => network.run(input, 1), timing);
        const endToEndMs = await medianMs(() => detector.detect(image, { minScore }), timing);
        rows.push({ model: c.name, inputSize: spec.inputSize, anchors: spec.anchors.count, multAdds: counts.multAdds, params: counts.params, preprocessMs, networkMs, endToEndMs });
      } finally {
        detector.dispose();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { image: name, runs: timing.runs, warmup: timing.warmup, minScore, rows };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const all = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]] : []));
  const json = args.includes('--json');
  await setup({ log: null });
  const result = await measureDetectionLatency({
    runs: Number(all('--runs')[0] ?? 30),
    saved: all('--model'),
    onModel: (name) => {
      if (!json) process.stderr.write(`timing ${name}…\n`);
    },
  });
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  process.stdout.write(`${formatTable(result.rows, [
    { header: 'detector (onnxruntime, fp32, batch 1)', value: (r) => r.model },
    { header: 'input', value: (r) => `${r.inputSize}`, align: 'right' },
    { header: 'anchors', value: (r) => `${r.anchors}`, align: 'right' },
    { header: 'Mult-Adds', value: (r) => formatMillions(r.multAdds), align: 'right' },
    { header: 'params', value: (r) => formatMillions(r.params, 2), align: 'right' },
    { header: 'pre ms', value: (r) => r.preprocessMs.toFixed(1), align: 'right' },
    { header: 'network ms', value: (r) => r.networkMs.toFixed(1), align: 'right' },
    { header: 'end-to-end ms', value: (r) => r.endToEndMs.toFixed(1), align: 'right' },
  ])}\n\nEnd to end: ${result.image} resized and scaled in TypeScript (pre), the network, decoding and NMS (min score ${result.minScore}). Medians of ${result.runs} runs after ${result.warmup} warm-ups.\n`);
}

if (require.main === module) {
  main().catch((error) => {
    process.exitCode = require('@mobilenets/cli-kit').reportError(error);
  });
}
