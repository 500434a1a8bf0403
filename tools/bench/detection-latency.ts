/**
 * Detectors on onnxruntime: per-image latency (batch 1) of the network alone and end to end (resize and
 * scaling in plain TypeScript, the network, decoding and NMS from box-math), next to each model's
 * Mult-Adds and parameters from the profiler. By default: SSD 300 on MobileNetV1 α 1 (the paper's Table
 * 13 model), SSDLite 320 on V1 and V2 at α 1 and 0.5 (3 classes, fresh seeded weights: latency does not
 * depend on the weights), and face-api's trained face detector at 512; `--model DIR` adds saved
 * detectors ('mobilenet-detect train' model or run folders). Each model is exported to a temporary
 * .onnx. The image is one of face-api's sample photos. Medians of timed runs after warm-ups.
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
import { type DetectorSpec, type SsdModel, FACE_API_DETECTOR, createFaceApiSsd, createSsd, detectorInput, faceApiDetectorSpec, loadDetector, loadFaceApiSsdWeights, readDetectorSpec, ssdDetectorSpec } from '@mobilenets/detection-ssd';
import { exportOnnx, fileSystem, onnxDetectionNetwork, readFaceApiWeights, setup } from '@mobilenets/runtime';

interface Candidate {
  name: string;
  model: tfl.LayersModel;
  spec: DetectorSpec;
}

interface Row {
  model: string;
  inputSize: number;
  anchors: number;
  multAdds: number;
  params: number;
  networkMs: number;
  endToEndMs: number;
}

const args = process.argv.slice(2);
const all = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]] : []));
const runs = Number(all('--runs')[0] ?? 30);
const json = args.includes('--json');

function fresh(name: string, ssd: SsdModel, arch: 'v1' | 'v2', alpha: number): Candidate {
  return { name, model: ssd.model, spec: ssdDetectorSpec(ssd, { labels: ['circle', 'square', 'triangle'], scoreFunction: 'softmax', arch, widthMultiplier: alpha }) };
}

async function candidates(): Promise<Candidate[]> {
  const list: Candidate[] = [];
  const v1 = (alpha: number, size: number) => mobilenetV1({ widthMultiplier: alpha, inputSize: size, includeTop: false, seed: 1 });
  const v2 = (alpha: number, size: number) => mobilenetV2({ widthMultiplier: alpha, inputSize: size, includeTop: false, seed: 1 });
  list.push(fresh('SSD 300, V1 α 1', createSsd({ backbone: v1(1, 300), classes: 3, head: 'ssd', seed: 2 }), 'v1', 1));
  for (const alpha of [1, 0.5]) {
    list.push(fresh(`SSDLite 320, V1 α ${alpha}`, createSsd({ backbone: v1(alpha, 320), classes: 3, head: 'ssdlite', depthMultiplier: alpha, seed: 2 }), 'v1', alpha));
    list.push(fresh(`SSDLite 320, V2 α ${alpha}`, createSsd({ backbone: v2(alpha, 320), classes: 3, head: 'ssdlite', depthMultiplier: alpha, seed: 2 }), 'v2', alpha));
  }
  const faceApi = createFaceApiSsd();
  const weights = await readFaceApiWeights('ssd_mobilenetv1_model');
  loadFaceApiSsdWeights(faceApi, weights);
  Object.values(weights).forEach((w) => w.dispose());
  list.push({ name: `face-api face detector (${FACE_API_DETECTOR})`, model: faceApi.model, spec: faceApiDetectorSpec() });
  for (const dir of all('--model')) {
    const modelDir = fs.existsSync(path.join(dir, 'model', 'model.json')) ? path.join(dir, 'model') : dir;
    list.push({ name: `${path.basename(path.resolve(dir))} (saved)`, model: await tfl.loadLayersModel(fileSystem(modelDir)), spec: readDetectorSpec(path.join(modelDir, 'detector.json')) });
  }
  return list;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  await setup({ log: null });
  const photo = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
  const { data, info } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 as const };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detection-latency-'));
  const rows: Row[] = [];
  try {
    for (const c of await candidates()) {
      if (!json) process.stderr.write(`timing ${c.name}…\n`);
      const { multAdds, params } = profile(c.model);
      const file = path.join(tmp, `${rows.length}.onnx`);
      await exportOnnx(c.model, file);
      fs.writeFileSync(path.join(tmp, `${rows.length}.detector.json`), JSON.stringify(c.spec));
      c.model.dispose();
      const network = await onnxDetectionNetwork(file);
      const detector = await loadDetector(file, { network: async () => network });
      try {
        const input = detectorInput(image, c.spec).pixels;
        const time = async (f: () => Promise<unknown>) => {
          for (let i = 0; i < 3; i++) await f();
          const ms: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t = performance.now();
            await f();
            ms.push(performance.now() - t);
          }
          return median(ms);
        };
        const networkMs = await time(() => network.run(input, 1));
        const endToEndMs = await time(() => detector.detect(image, { minScore: 0.5 }));
        rows.push({ model: c.name, inputSize: c.spec.inputSize, anchors: c.spec.anchors.count, multAdds, params, networkMs, endToEndMs });
      } finally {
        detector.dispose();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ image: `${path.basename(photo)} ${info.width}×${info.height}`, runs, rows })}\n`);
    return;
  }
  process.stdout.write(`${formatTable(rows, [
    { header: 'detector (onnxruntime, fp32, batch 1)', value: (r) => r.model },
    { header: 'input', value: (r) => `${r.inputSize}`, align: 'right' },
    { header: 'anchors', value: (r) => `${r.anchors}`, align: 'right' },
    { header: 'Mult-Adds', value: (r) => formatMillions(r.multAdds), align: 'right' },
    { header: 'params', value: (r) => formatMillions(r.params, 2), align: 'right' },
    { header: 'network ms', value: (r) => r.networkMs.toFixed(1), align: 'right' },
    { header: 'end-to-end ms', value: (r) => r.endToEndMs.toFixed(1), align: 'right' },
  ])}\n\nEnd to end: ${path.basename(photo)} (${info.width}×${info.height}) resized and scaled in TypeScript, the network, decoding and NMS (min score 0.5). Medians of ${runs} runs after 3 warm-ups.\n`);
}

main().catch((error) => {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
});
