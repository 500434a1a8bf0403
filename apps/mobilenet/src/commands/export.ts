/** `mobilenet export`: a saved or freshly built model → ONNX, optionally checked against tfjs. */
import { type Stats, existsSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { addArchitectureOptions, ArchitectureOptions, buildMobileNet, describeModelLoadError, describeWriteError, formatInteger, parseIntegerOption, resolveModelFolder, UsageError } from '@mobilenets/cli-kit';
import { ImageDecodeError, isImageFile, loadImage } from '@mobilenets/datasets';
import { MOBILENET_PREPROCESSING, calibrateRanges, createSession, exportOnnx, faceApiModelDir, fileSystem, float32Output, setup } from '@mobilenets/runtime';

interface ExportOptions extends ArchitectureOptions {
  model?: string;
  out: string;
  check?: boolean;
  int8?: boolean;
  calibration?: string;
  calibrationImages: number;
  json?: boolean;
}

export function exportCommand(): Command {
  return addArchitectureOptions(new Command('export'), { classes: true, head: true })
    .description('export a model to ONNX (opset 13, NCHW, batch norm folded) for onnxruntime')
    .option('--model <dir>', "a saved model folder (model.json + weights.bin, labels.json optional) or a run folder from 'mobilenet-classify train --out'; otherwise --arch/--alpha/--input-size build one")
    .requiredOption('--out <file.onnx>', 'where to write the ONNX file')
    .option('--check', 'run tfjs and onnxruntime on the same inputs and print the largest absolute difference')
    .option('--int8', 'static int8 quantization (QDQ: uint8 activations, int8 per-channel weights), calibrated on --calibration images')
    .option('--calibration <dir>', 'a folder of images (searched recursively) to calibrate activation ranges for --int8')
    .addOption(new Option('--calibration-images <n>', 'how many calibration images to use at most').argParser(parseIntegerOption('--calibration-images', 1)).default(64))
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  mobilenet export --arch v1 --alpha 1 --input-size 224 --out mobilenet_v1.onnx --check\n  mobilenet export --model runs/classify/model --out classifier-int8.onnx --int8 --calibration data/train --json')
    .action(async (o: ExportOptions) => {
      if (o.int8 && o.calibration === undefined) throw new UsageError('--int8 needs --calibration DIR: a folder of images like the ones the model will see.');
      checkOut(o.out);
      if (o.calibration !== undefined) checkFolder('--calibration', o.calibration, 'a folder of images (searched recursively)');
      await setup({ log: null });
      const { model, labels, source } = await loadOrBuild(o);
      try {
        const inputSize = model.inputs[0].shape[1] as number;
        const metadata = { source, arch: o.model ? 'saved' : o.arch, alpha: o.alpha, inputSize, precision: o.int8 ? 'int8' : 'fp32' };
        let int8Ranges: ReturnType<typeof calibrateRanges> | undefined;
        if (o.int8) {
          const batches = await calibrationBatches(o.calibration as string, inputSize, o.calibrationImages);
          int8Ranges = calibrateRanges(model, batches);
          tf.dispose(batches);
        }
        try {
          await exportOnnx(model, o.out, { labels, metadata, int8Ranges, preprocessing: MOBILENET_PREPROCESSING });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === undefined) throw error;
          throw new Error(`--out ${o.out}: cannot write the ONNX file: ${describeWriteError(o.out, error)}. Choose another --out.`);
        }
        const bytes = (await fs.stat(o.out)).size;
        const realImages = o.check ? await checkImages(o.calibration, inputSize) : [];
        const maxAbsDiff = o.check ? await check(model, o.out, realImages) : null;
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ file: path.resolve(o.out), bytes, model: model.name, maxAbsDiff })}\n`);
        } else {
          process.stdout.write(`wrote ${o.out} (${formatInteger(bytes)} bytes) from ${model.name}\n`);
          if (maxAbsDiff !== null) process.stdout.write(`check: max |tfjs − onnxruntime| = ${maxAbsDiff.toExponential(2)} over 4 random inputs and ${realImages.reduce((n, t) => n + t.shape[0], 0)} real image(s)\n`);
        }
      } finally {
        model.dispose();
      }
    });
}

/** Up to `limit` images found under `dir`, decoded to [-1, 1] at the model's size, in batches of 8. */
async function calibrationBatches(dir: string, inputSize: number, limit: number): Promise<tf.Tensor4D[]> {
  const files: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await fs.readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
      throw new Error(`--calibration ${dir}: cannot read the folder ${folder}: ${(error as Error).message}`);
    });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (files.length >= limit) return;
      const full = path.join(folder, e.name);
      if (e.isDirectory()) await walk(full);
      else if (isImageFile(e.name)) files.push(full);
    }
  };
  await walk(dir);
  if (files.length === 0) throw new UsageError(`--calibration ${dir}: no images (.jpg, .jpeg, .png, .webp) found in this folder or below it.`);
  const batches: tf.Tensor4D[] = [];
  let unreadable = 0;
  for (let start = 0; start < files.length; start += 8) {
    const decoded = await Promise.all(
      files.slice(start, start + 8).map((f) =>
        loadImage(f, { size: inputSize }).catch((error: unknown) => {
          if (!(error instanceof ImageDecodeError)) throw error;
          unreadable += 1;
          process.stderr.write(`warning: --calibration: skipped ${error.message}\n`);
          return null;
        }),
      ),
    );
    const images = decoded.filter((image) => image !== null);
    if (images.length === 0) continue;
    const data = new Float32Array(images.length * inputSize * inputSize * 3);
    images.forEach((image, i) => data.set(image.pixels, i * inputSize * inputSize * 3));
    batches.push(tf.tensor4d(data, [images.length, inputSize, inputSize, 3]));
  }
  if (batches.length === 0) throw new Error(`--calibration ${dir}: none of the ${unreadable} image(s) found could be read (see the warnings above).`);
  return batches;
}

async function loadOrBuild(o: ExportOptions): Promise<{ model: tfl.LayersModel; labels?: string[]; source: string }> {
  if (o.model === undefined) return { model: buildMobileNet(o), source: 'built (random weights)' };
  const { modelDir } = resolveModelFolder(o.model, '--model');
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw new Error(`--model ${o.model}: cannot load the model in ${modelDir}: ${describeModelLoadError(error)}. Save the model again, or restore the folder from a copy.`);
  }
  try {
    return { model, labels: await readLabels(o.model, modelDir, model), source: path.resolve(modelDir) };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** labels.json beside the model, if there is one (it is optional); a damaged one is an error, not silently dropped. */
async function readLabels(given: string, modelDir: string, model: tfl.LayersModel): Promise<string[] | undefined> {
  const file = path.join(modelDir, 'labels.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`--model ${given}: cannot read ${file}: ${(error as Error).message}`);
  }
  let labels: unknown;
  try {
    labels = JSON.parse(text);
  } catch (error) {
    throw new Error(`--model ${given}: ${file} is not valid JSON (${(error as Error).message}). Expected a JSON array of class names, one per model output; fix or remove it.`);
  }
  const shape = model.outputs[0].shape;
  const outputs = shape.length === 2 ? shape[1] : null;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string') || (outputs !== null && labels.length !== outputs)) {
    const received = Array.isArray(labels) ? `${labels.length} entries` : text.trim().slice(0, 60);
    throw new Error(`--model ${given}: ${file} must be a JSON array of ${outputs ?? 'the'} class names, one per model output. Received ${received}. Restore the labels.json saved with this model, or remove it.`);
  }
  return labels as string[];
}

/** --out must be a file name whose folder exists or can be made, not a folder. */
function checkOut(out: string): void {
  let stats: Stats | null = null;
  try {
    stats = statSync(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`--out ${out}: a part of this path is a file, not a folder. Give a file name in a folder, e.g. model.onnx.`);
  }
  if (stats?.isDirectory()) throw new UsageError(`--out ${out} is a folder; give a file name, e.g. ${path.join(out, 'model.onnx')}.`);
  let parent = path.dirname(path.resolve(out));
  while (!existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`--out ${out}: ${parent} is a file, not a folder. Give a file name in a folder, e.g. model.onnx.`);
}

function checkFolder(option: string, dir: string, expected: string): void {
  if (!existsSync(dir)) throw new UsageError(`${option} ${dir}: no such folder. Expected ${expected}.`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${option} ${dir}: this is a file, not a folder. Expected ${expected}.`);
}

/** Real inputs for --check: up to 4 calibration images, else the photo that ships with @vladmandic/face-api. */
async function checkImages(calibration: string | undefined, inputSize: number): Promise<tf.Tensor4D[]> {
  if (calibration !== undefined) return (await calibrationBatches(calibration, inputSize, 4)).slice(0, 1);
  const photo = path.join(path.dirname(faceApiModelDir()), 'demo', 'facemesh.png');
  const image = await loadImage(photo, { size: inputSize }).catch(() => null);
  return image === null ? [] : [tf.tensor4d(image.pixels, [1, inputSize, inputSize, 3])];
}

/** Largest |tfjs − onnxruntime| over every output, for random images in [-1, 1] (batches of 1 and 3) and the real ones given. */
async function check(model: tfl.LayersModel, file: string, real: tf.Tensor4D[]): Promise<number> {
  const session = await createSession(file);
  const [, h, w, c] = model.inputs[0].shape as number[];
  let worst = 0;
  try {
    const inputs = [tf.randomUniform([1, h, w, c], -1, 1), tf.randomUniform([3, h, w, c], -1, 1), ...real];
    for (const x of inputs) {
      const expected = tf.tidy(() => {
        const out = model.predict(x);
        return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync().slice());
      });
      const outputs = await session.run({ [session.inputNames[0]]: { data: x.dataSync() as Float32Array, dims: x.shape } });
      session.outputNames.forEach((name, k) => {
        const actual = float32Output(outputs, name);
        for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[k][i]));
      });
    }
    tf.dispose(inputs);
  } finally {
    await session.dispose();
  }
  return worst;
}
