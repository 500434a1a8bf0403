/** `mobilenet export`: a saved or freshly built model → ONNX, optionally checked against tfjs. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { addArchitectureOptions, ArchitectureOptions, buildMobileNet, formatInteger, parseIntegerOption, UsageError } from '@mobilenets/cli-kit';
import { isImageFile, loadImage } from '@mobilenets/datasets';
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
    .option('--model <dir>', 'a saved model folder (model.json + weights.bin, labels.json optional); otherwise --arch/--alpha/--input-size build one')
    .requiredOption('--out <file.onnx>', 'where to write the ONNX file')
    .option('--check', 'run tfjs and onnxruntime on the same inputs and print the largest absolute difference')
    .option('--int8', 'static int8 quantization (QDQ: uint8 activations, int8 per-channel weights), calibrated on --calibration images')
    .option('--calibration <dir>', 'a folder of images (searched recursively) to calibrate activation ranges for --int8')
    .addOption(new Option('--calibration-images <n>', 'how many calibration images to use at most').argParser(parseIntegerOption('--calibration-images', 1)).default(64))
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  mobilenet export --arch v1 --alpha 1 --input-size 224 --out mobilenet_v1.onnx --check\n  mobilenet export --model runs/classify/model --out classifier-int8.onnx --int8 --calibration data/train --json')
    .action(async (o: ExportOptions) => {
      if (o.int8 && o.calibration === undefined) throw new UsageError('--int8 needs --calibration DIR: a folder of images like the ones the model will see.');
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
        await exportOnnx(model, o.out, { labels, metadata, int8Ranges, preprocessing: MOBILENET_PREPROCESSING });
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
    const entries = await fs.readdir(folder, { withFileTypes: true }).catch((cause: unknown) => {
      throw new Error(`--calibration: cannot read folder ${folder}`, { cause });
    });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (files.length >= limit) return;
      const full = path.join(folder, e.name);
      if (e.isDirectory()) await walk(full);
      else if (isImageFile(e.name)) files.push(full);
    }
  };
  await walk(dir);
  if (files.length === 0) throw new UsageError(`--calibration: no images (.jpg, .png, .webp) found under ${dir}.`);
  const batches: tf.Tensor4D[] = [];
  for (let start = 0; start < files.length; start += 8) {
    const images = await Promise.all(files.slice(start, start + 8).map((f) => loadImage(f, { size: inputSize })));
    const data = new Float32Array(images.length * inputSize * inputSize * 3);
    images.forEach((image, i) => data.set(image.pixels, i * inputSize * inputSize * 3));
    batches.push(tf.tensor4d(data, [images.length, inputSize, inputSize, 3]));
  }
  return batches;
}

async function loadOrBuild(o: ExportOptions): Promise<{ model: tfl.LayersModel; labels?: string[]; source: string }> {
  if (o.model === undefined) return { model: buildMobileNet(o), source: 'built (random weights)' };
  const model = await tfl.loadLayersModel(fileSystem(o.model));
  const labelsFile = path.join(o.model, 'labels.json');
  const labels = await fs.readFile(labelsFile, 'utf8').then((t) => JSON.parse(t) as string[], () => undefined);
  return { model, labels, source: path.resolve(o.model) };
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
