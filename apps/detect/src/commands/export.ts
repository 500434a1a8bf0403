/**
 * `mobilenet-detect export`: a saved SSD / SSDLite detector → ONNX (opset 13, NCHW inside, batch norm
 * folded) with its two raw outputs, BoxEncodings [batch, anchors, 4] and ClassLogits [batch, anchors,
 * classes + 1]; detector.json is copied beside it for the post-processing. The ONNX input is what the
 * tfjs model takes (NHWC RGB in [-1, 1]); the preprocessing from bytes is stored in the metadata.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { UsageError, describeWriteError, formatInteger, parseIntegerOption } from '@mobilenets/cli-kit';
import { ImageDecodeError, isImageFile, loadImage } from '@mobilenets/datasets';
import { SSD_OUTPUTS } from '@mobilenets/detection-ssd';
import { MOBILENET_PREPROCESSING, calibrateRanges, createSession, exportOnnx, float32Output, setup } from '@mobilenets/runtime';
import { loadSavedDetector } from '../detector-io';
import { DETECTOR_JSON } from '@mobilenets/detection-ssd';

interface ExportOptions {
  model: string;
  out: string;
  overwrite?: boolean;
  int8?: boolean;
  calibration?: string;
  calibrationImages: number;
  json?: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('export a saved SSD / SSDLite detector to ONNX for onnxruntime (outputs BoxEncodings and ClassLogits; detector.json copied beside it)')
    .requiredOption('--model <dir>', `the detector folder (model.json, weights.bin, ${DETECTOR_JSON}) or the run folder holding it in model/`)
    .requiredOption('--out <file.onnx>', `the ONNX file to write; the detector.json is copied beside it (ssd.onnx → ssd.${DETECTOR_JSON})`)
    .option('--overwrite', 'replace --out and its detector.json if they exist')
    .option('--int8', 'static int8 quantization (QDQ: uint8 activations, int8 per-channel weights), calibrated on --calibration images')
    .option('--calibration <dir>', 'a folder of images (searched recursively) like the ones the detector will see, to calibrate --int8')
    .addOption(new Option('--calibration-images <n>', 'how many calibration images to use at most').argParser(parseIntegerOption('--calibration-images', 1)).default(32))
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  mobilenet-detect export --model runs/ssdlite --out ssdlite.onnx\n  mobilenet-detect export --model runs/ssdlite/model --out ssdlite-int8.onnx --int8 --calibration data/val --json')
    .action(async (o: ExportOptions) => {
      if (o.int8 && o.calibration === undefined) throw new UsageError('--int8 needs --calibration DIR: a folder of images like the ones the detector will see.');
      if (!o.int8 && o.calibration !== undefined) throw new UsageError('--calibration is for --int8 (it calibrates the activation ranges); add --int8, or leave --calibration out.');
      const sidecar = checkOut(o.out, o.overwrite === true);
      if (o.calibration !== undefined) checkFolder('--calibration', o.calibration);
      await setup({ log: null });
      const { model, modelDir } = await loadSavedDetector(o.model);
      try {
        const detectorJson = fs.readFileSync(path.join(modelDir, DETECTOR_JSON), 'utf8');
        const inputSize = model.inputs[0].shape[1] as number;
        const precision = o.int8 ? 'int8' : 'fp32';
        let calibration: tf.Tensor4D[] = [];
        try {
          let int8Ranges: ReturnType<typeof calibrateRanges> | undefined;
          if (o.int8) {
            calibration = await calibrationBatches(o.calibration as string, inputSize, o.calibrationImages);
            int8Ranges = calibrateRanges(model, calibration);
          }
          const metadata = { source: path.resolve(modelDir), kind: 'detector', inputSize, precision };
          await write(o.out, () => exportOnnx(model, o.out, { metadata, int8Ranges, preprocessing: MOBILENET_PREPROCESSING }));
          await write(sidecar, () => writeTextAtomic(sidecar, detectorJson));
          const first = calibration.length > 0 ? (tf.slice(calibration[0], [0], [1]) as tf.Tensor4D) : undefined;
          const check = await verify(model, o.out, first).finally(() => first?.dispose());
          const bytes = fs.statSync(o.out).size;
          if (o.json) {
            process.stdout.write(`${JSON.stringify({ file: path.resolve(o.out), bytes, detectorJson: path.resolve(sidecar), model: model.name, precision, inputSize, ...check })}\n`);
          } else {
            process.stdout.write(
              `wrote ${o.out} (${formatInteger(bytes)} bytes, ${precision}) from ${model.name}, input [batch, ${inputSize}, ${inputSize}, 3] in [-1, 1]\n` +
                `wrote ${sidecar} (a copy of ${path.join(modelDir, DETECTOR_JSON)})\n` +
                `onnxruntime: ${Object.entries(check.outputs).map(([name, dims]) => `${name} [${dims.join(', ')}]`).join(', ')}; ` +
                `max |tfjs − onnxruntime| = ${check.maxAbsDiff.toExponential(2)} on ${check.checkedOn}\n`,
            );
          }
        } finally {
          tf.dispose(calibration);
        }
      } finally {
        model.dispose();
      }
    });
}

/** --out must be a new .onnx file name (or --overwrite) whose folder exists or can be made; returns its detector.json path. */
function checkOut(out: string, overwrite: boolean): string {
  if (!/\.onnx$/i.test(out)) throw new UsageError(`--out ${out}: give a file name ending in .onnx (its detector.json is written beside it as <name>.${DETECTOR_JSON}).`);
  const sidecar = `${out.slice(0, -'.onnx'.length)}.${DETECTOR_JSON}`;
  for (const file of [out, sidecar]) {
    let stats: fs.Stats | null = null;
    try {
      stats = fs.statSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`--out ${out}: a part of this path is a file, not a folder. Give a file name in a folder, e.g. detector.onnx.`);
    }
    if (stats?.isDirectory()) throw new UsageError(`--out ${out}: ${file} is a folder; give another file name.`);
    if (stats !== null && !overwrite) throw new UsageError(`--out ${out}: ${file} already exists. Pass --overwrite to replace it, or choose another --out.`);
  }
  let parent = path.dirname(path.resolve(out));
  while (!fs.existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  if (!fs.statSync(parent).isDirectory()) throw new UsageError(`--out ${out}: ${parent} is a file, not a folder. Give a file name in a folder, e.g. detector.onnx.`);
  return sidecar;
}

function checkFolder(option: string, dir: string): void {
  const expected = 'a folder of images (searched recursively)';
  if (!fs.existsSync(dir)) throw new UsageError(`${option} ${dir}: no such folder. Expected ${expected}.`);
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${option} ${dir}: this is a file, not a folder. Expected ${expected}.`);
}

/** Runs `action`, turning a system error into one that names the file and what it means. */
async function write(file: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === undefined) throw error;
    throw new Error(`--out: cannot write ${file}: ${describeWriteError(file, { code })}. Choose another --out.`, { cause: error });
  }
}

/** Writes `text` to `file` through a temporary file in the same folder, renamed into place. */
async function writeTextAtomic(file: string, text: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.promises.writeFile(temporary, text);
    await fs.promises.rename(temporary, file);
  } catch (error) {
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Up to `limit` images found under `dir` (sorted, recursively), stretched to the detector's square input
 * (the whole image, as the detector sees it) and scaled to [-1, 1], in batches of 8. Undecodable files are skipped with a warning.
 */
async function calibrationBatches(dir: string, inputSize: number, limit: number): Promise<tf.Tensor4D[]> {
  const files: string[] = [];
  const walk = (folder: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch (error) {
      throw new Error(`--calibration ${dir}: cannot read the folder ${folder} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (files.length >= limit) return;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (isImageFile(entry.name)) files.push(full);
    }
  };
  walk(dir);
  if (files.length === 0) throw new UsageError(`--calibration ${dir}: no images (.jpg, .jpeg, .png, .webp) found in this folder or below it.`);
  const size = inputSize * inputSize * 3;
  const batches: tf.Tensor4D[] = [];
  for (let start = 0; start < files.length; start += 8) {
    const decoded = [];
    for (const file of files.slice(start, start + 8)) {
      try {
        decoded.push(await loadImage(file, { size: inputSize, resize: 'stretch' }));
      } catch (error) {
        if (!(error instanceof ImageDecodeError)) throw error;
        process.stderr.write(`warning: --calibration: skipped ${error.message}\n`);
      }
    }
    if (decoded.length === 0) continue;
    const data = new Float32Array(decoded.length * size);
    decoded.forEach((image, i) => data.set(image.pixels, i * size));
    batches.push(tf.tensor4d(data, [decoded.length, inputSize, inputSize, 3]));
  }
  if (batches.length === 0) throw new Error(`--calibration ${dir}: none of the ${files.length} image(s) found could be read (see the warnings above).`);
  return batches;
}

interface Verification {
  /** Output name → the dims onnxruntime returned. */
  outputs: Record<string, number[]>;
  /** Largest |tfjs − onnxruntime| over both outputs. */
  maxAbsDiff: number;
  /** What the one input was. */
  checkedOn: string;
}

/** Runs the ONNX file once in onnxruntime and tfjs on the same input (a calibration image, else a seeded random image in [-1, 1]). */
async function verify(model: tfl.LayersModel, file: string, image: tf.Tensor4D | undefined): Promise<Verification> {
  const size = model.inputs[0].shape[1] as number;
  const x = image ?? tf.randomUniform([1, size, size, 3], -1, 1, 'float32', 1);
  try {
    const expected = tf.tidy(() => (model.predict(x) as tf.Tensor[]).map((t) => t.dataSync().slice()));
    const session = await createSession(file).catch((error: unknown) => {
      throw new Error(`the exported ${file} does not load in onnxruntime; this is a bug in the exporter, please report it.`, { cause: error });
    });
    try {
      const results = await session.run({ [session.inputNames[0]]: { data: x.dataSync() as Float32Array, dims: x.shape } });
      let maxAbsDiff = 0;
      const outputs: Record<string, number[]> = {};
      for (const name of [SSD_OUTPUTS.boxEncodings, SSD_OUTPUTS.classLogits]) {
        const actual = float32Output(results, name);
        const reference = expected[model.outputNames.indexOf(name)];
        if (actual.length !== reference.length) throw new Error(`${file}: output '${name}' has ${actual.length} values in onnxruntime, ${reference.length} in tfjs; this is a bug in the exporter, please report it.`);
        for (let i = 0; i < actual.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - reference[i]));
        outputs[name] = results[name].dims;
      }
      return { outputs, maxAbsDiff, checkedOn: image === undefined ? 'one random image' : 'the first calibration image' };
    } finally {
      await session.dispose();
    }
  } finally {
    if (image === undefined) x.dispose();
  }
}
