/**
 * `mobilenet-detect predict`: the objects in images, with a saved detector (a model folder, or an .onnx
 * file with its detector.json) or face-api's pretrained face detector; JSON or text on stdout, and
 * annotated PNGs with --out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { DetectorSourceError, FACE_API_DETECTOR, loadDetector, type SsdDetector, type SsdNetworkFactory } from '@mobilenets/detection-ssd';
import { onnxDetectionNetwork, setup } from '@mobilenets/runtime';
import { UsageError, checkOutputFolder, describeWriteError, parseIntegerOption, parseNumberOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { writeAnnotatedPng } from '../annotate';
import { FASTER_RCNN_JSON } from '../detector-io';

interface PredictOptions {
  model: string;
  minScore: number;
  maxDetections: number;
  out?: string;
  overwrite?: boolean;
  json?: boolean;
  maxPixels?: number;
}

/** One line of the JSON output: an image's detections, or why it could not be read. */
export type PredictResult =
  | { image: string; detections: { box: [number, number, number, number]; score: number; label: string }[] }
  | { image: string; error: string };

/**
 * The engine for `--model`: undefined lets loadDetector use its default (the tfjs model of a model
 * folder; face-api's weights for 'faceapi-ssd-mobilenetv1'). An .onnx file needs an onnxruntime
 * SsdNetwork factory from @mobilenets/runtime: that is where it plugs in.
 */
export function networkFactoryFor(modelArg: string): SsdNetworkFactory | undefined {
  if (!modelArg.toLowerCase().endsWith('.onnx')) return undefined; // a model folder: loadDetector runs its tfjs model
  // An exported detector: its two raw outputs from onnxruntime, decoded and NMS'd by the same box-math as tfjs.
  return async (file, spec) => {
    const network = await onnxDetectionNetwork(file);
    if (network.inputSize !== spec.inputSize) {
      await network.dispose();
      throw new UsageError(`--model ${modelArg}: the ONNX model takes ${network.inputSize} px images but its detector.json says ${spec.inputSize}: the two files belong to different detectors.`);
    }
    return network;
  };
}

function minScoreOption(raw: string): number {
  const value = parseNumberOption('--min-score')(raw);
  if (!(value >= 0 && value <= 1)) throw new UsageError(`--min-score must be a score in [0, 1]. Received '${raw}'.`);
  return value;
}

function maxPixelsOption(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 1) throw new UsageError(`--max-pixels expects a number of pixels ≥ 1 (e.g. 200000000 for 200 megapixels). Received '${raw}'.`);
  return Math.floor(value);
}

/** The folder that exists at `p` resolved through symbolic links (or `p` resolved, if nothing is there yet). */
function realFolder(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * Where each image's annotated copy goes: `<out>/<name without extension>.png`. Refuses an --out that
 * is the folder of an input image (a copy would land beside, or replace, its original) and two images
 * that would be written to the same file.
 */
function annotatedFiles(out: string, images: readonly string[]): string[] {
  const outDir = realFolder(out);
  const byTarget = new Map<string, string>();
  return images.map((image) => {
    if (realFolder(path.dirname(image)) === outDir) {
      throw new UsageError(`--out ${out} is the folder of the input image ${image}: the annotated copies would be written beside the originals (or over them). Choose another folder.`);
    }
    const target = path.join(out, `${path.parse(image).name}.png`);
    const other = byTarget.get(target);
    if (other !== undefined && other !== image) throw new UsageError(`${other} and ${image} would both be annotated as ${target}. Predict them into different --out folders.`);
    byTarget.set(target, image);
    return target;
  });
}

async function openDetector(model: string): Promise<SsdDetector> {
  if ([path.join(model, FASTER_RCNN_JSON), path.join(model, 'model', FASTER_RCNN_JSON)].some((f) => fs.existsSync(f))) {
    throw new UsageError(`--model ${model}: a Faster R-CNN; this command reads SSD and SSDLite detectors only so far (eval reads a Faster R-CNN too).`);
  }
  const network = networkFactoryFor(model);
  try {
    return await loadDetector(model, { network });
  } catch (error) {
    if (error instanceof DetectorSourceError) throw new UsageError(`--model ${error.message}`);
    throw new Error(`--model ${model}: cannot load the detector`, { cause: error });
  }
}

/** The image's reason for failing, without its path in front (the output names the image). */
function reasonOf(file: string, error: Error): string {
  return error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message;
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

export function predictCommand(): Command {
  return new Command('predict')
    .description('detect objects in images with a saved SSD / SSDLite detector, or face-api\'s face detector')
    .requiredOption('--model <dir|file.onnx|name>', `a model folder (<out>/model, with detector.json), the run folder 'train --out' wrote, a .onnx file 'export' wrote (run by onnxruntime; its <name>.detector.json beside it), or '${FACE_API_DETECTOR}' (face-api's pretrained face detector)`)
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .addOption(new Option('--min-score <s>', 'report detections scoring above this, in [0, 1]').argParser(minScoreOption).default(0.5))
    .addOption(new Option('--max-detections <n>', 'most detections an image, best first').argParser(parseIntegerOption('--max-detections', 1)).default(100))
    .option('--out <dir>', 'also write each image with its detections drawn as <dir>/<image name>.png (a new or empty folder, not an input image\'s folder)')
    .option('--overwrite', 'write into an --out folder that is not empty (files of the same names are replaced)')
    .addOption(new Option('--max-pixels <n>', `largest image accepted, in pixels (width × height); default ${datasets.DEFAULT_MAX_PIXELS}`).argParser(maxPixelsOption))
    .option('--json', 'print a JSON array: [{ "image", "detections": [{ "box": [x1, y1, x2, y2], "score", "label" }] }], or { "image", "error" } for an image that could not be read')
    .addHelpText('after', '\nBoxes are in pixels of the image as stored (EXIF orientation applied). An image that cannot be read is\nreported by name and the others are still processed; predict then exits with status 1.')
    .action(async (images: string[], o: PredictOptions) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const outFiles = o.out === undefined ? null : annotatedFiles(o.out, images);
      if (o.out !== undefined) checkOutputFolder('--out', o.out, o.overwrite === true, 'predict writes <image name>.png for each image');

      const results: PredictResult[] = images.map((image) => ({ image, detections: [] }));
      const fail = (i: number, reason: string) => {
        results[i] = { image: images[i], error: reason };
        log(`warning: ${images[i]}: ${reason}`);
      };
      // Missing files first: when none of the images exists, the detector is not even loaded.
      images.forEach((file, i) => {
        if (!fs.existsSync(file)) fail(i, 'no such file');
      });
      const readable = images.map((_file, i) => !('error' in results[i]));

      if (readable.some(Boolean)) {
        await setup({ log });
        const detector = await openDetector(o.model);
        try {
          if (outFiles !== null) fs.mkdirSync(o.out as string, { recursive: true });
          const progress = progressLine('detecting', 'images');
          let written = 0;
          for (const [i, file] of images.entries()) {
            if (!readable[i]) continue;
            let rgb: Uint8Array;
            let width: number;
            let height: number;
            try {
              const decoded = await datasets.loadImage(file, o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels });
              rgb = datasets.floatToUint8(decoded.pixels);
              ({ width, height } = decoded);
            } catch (error) {
              if (!(error instanceof datasets.ImageDecodeError)) throw error;
              fail(i, reasonOf(file, error));
              continue;
            }
            const found = await detector.detect({ data: rgb, width, height }, { minScore: o.minScore, maxDetections: o.maxDetections });
            results[i] = { image: file, detections: found.map((d) => ({ box: d.boxXyxy.map((v) => round(v, 2)) as [number, number, number, number], score: round(d.score, 6), label: d.labelName })) };
            if (outFiles !== null) {
              try {
                await writeAnnotatedPng(outFiles[i], rgb, width, height, found.map((d) => ({ box: d.boxXyxy, label: d.labelName, classIndex: d.label, score: d.score })));
                written += 1;
              } catch (error) {
                throw new Error(`--out ${outFiles[i]}: cannot write the annotated image: ${describeWriteError(outFiles[i], error)}`);
              }
            }
            progress.update(i + 1, images.length);
          }
          progress.done();
          if (outFiles !== null) log(`wrote ${written} annotated image(s) to ${o.out}`);
        } finally {
          detector.dispose();
        }
      }

      if (o.json) {
        process.stdout.write(`${JSON.stringify(results)}\n`);
      } else {
        for (const r of results) {
          if ('error' in r) continue;
          const width = Math.max(0, ...r.detections.map((d) => d.label.length));
          process.stdout.write(`${r.image}: ${r.detections.length} object${r.detections.length === 1 ? '' : 's'}\n`);
          for (const d of r.detections) process.stdout.write(`  ${d.label.padEnd(width)}  ${d.score.toFixed(3)}  [${d.box.map((v) => v.toFixed(1)).join(', ')}]\n`);
        }
      }
      const failed = results.filter((r) => 'error' in r).length;
      if (failed > 0) {
        process.exitCode = 1;
        log(`error: ${failed} of ${images.length} image(s) could not be read (named above)${failed < images.length ? '; the others were processed' : ''}.`);
      }
    });
}
