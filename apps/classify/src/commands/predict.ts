/** `mobilenet-classify predict`: the top-k labels of images, with a saved tfjs model or an exported ONNX file. */
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { createSession, float32Output, setup } from '@mobilenets/runtime';
import { UsageError, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { loadClassifier } from '../model-io';
import { type SkippedImage, maxPixelsOption } from './shared';

interface PredictOptions {
  model: string;
  top: number;
  threads: number;
  maxPixels?: number;
  json?: boolean;
}

/** Probabilities for one preprocessed NHWC image, and what the engine needs to be released. */
interface Classifier {
  labels: string[];
  inputSize: number;
  engine: string;
  classify(pixels: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

async function tfjsClassifier(dir: string): Promise<Classifier> {
  await setup({ log: (m) => process.stderr.write(`${m}\n`) });
  const { model, labels, inputSize } = await loadClassifier(dir);
  return {
    labels,
    inputSize,
    engine: `tfjs ${tf.getBackend()}`,
    classify: async (pixels) => tf.tidy(() => (model.predict(tf.tensor4d(pixels, [1, inputSize, inputSize, 3])) as tf.Tensor).dataSync() as Float32Array),
    dispose: async () => {
      model.dispose();
    },
  };
}

async function onnxClassifier(file: string, threads: number): Promise<Classifier> {
  if (!fs.existsSync(file)) throw new UsageError(`--model ${file}: no such file. Expected an ONNX file written by 'mobilenet export', or a model folder.`);
  if (fs.statSync(file).isDirectory()) throw new UsageError(`--model ${file}: this is a folder; a name ending in .onnx must be an ONNX file written by 'mobilenet export'.`);
  const session = await createSession(file, { threads });
  const [input] = session.inputs;
  const [output] = session.outputNames;
  const inputSize = input.dims[1];
  if (session.inputs.length !== 1 || input.dims.length !== 4 || typeof inputSize !== 'number' || input.dims[2] !== inputSize || input.dims[3] !== 3) {
    await session.dispose();
    throw new UsageError(`${file}: expected a classifier with one image input [batch, size, size, 3]; its inputs are ${session.inputs.map((i) => `'${i.name}' [${i.dims.join(', ')}]`).join(', ')}.`);
  }
  const labels = session.labels;
  if (labels === undefined) {
    await session.dispose();
    throw new UsageError(`${file} has no class labels in its metadata; export it with 'mobilenet export --model DIR' from a model that has labels.json.`);
  }
  return {
    labels,
    inputSize,
    engine: `onnxruntime (${threads} threads)`,
    classify: async (pixels) => float32Output(await session.run({ [input.name]: { data: pixels, dims: [1, inputSize, inputSize, 3] } }), output),
    dispose: () => session.dispose(),
  };
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify images with a saved model or an exported .onnx file: the top-k labels with probabilities')
    .requiredOption('--model <dir|file.onnx>', "a model folder (<out>/model), the run folder 'train --out' wrote (<out>), or an ONNX file from 'mobilenet export'")
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .addOption(new Option('--top <k>', 'labels per image').argParser(parseIntegerOption('--top', 1)).default(5))
    .addOption(new Option('--threads <n>', 'onnxruntime threads (for .onnx models)').argParser(parseIntegerOption('--threads', 1)).default(2))
    .addOption(maxPixelsOption())
    .option('--json', 'print one JSON object: predictions, and the images skipped with the reason')
    .addHelpText('after', '\nAn image that cannot be read is skipped with a warning (and listed under "skipped" with --json);\npredict exits with status 0 when at least one image was classified, 1 when none was.')
    .action(async (images: string[], o: PredictOptions) => {
      const classifier = o.model.toLowerCase().endsWith('.onnx') ? await onnxClassifier(o.model, o.threads) : await tfjsClassifier(o.model);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      try {
        const k = Math.min(o.top, classifier.labels.length);
        const predictions: { path: string; top: { label: string; probability: number }[] }[] = [];
        const skipped: SkippedImage[] = [];
        const progress = progressLine('classifying', 'images');
        for (const [i, file] of images.entries()) {
          let pixels: Float32Array;
          try {
            pixels = (await datasets.loadImage(file, { size: classifier.inputSize, ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }) })).pixels;
          } catch (error) {
            if (!(error instanceof datasets.ImageDecodeError)) throw error;
            const reason = error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message;
            skipped.push({ file, reason });
            log(`warning: skipped ${file}: ${reason}`);
            continue;
          }
          const probabilities = await classifier.classify(pixels);
          const ranked = Array.from(probabilities, (p, j) => ({ label: classifier.labels[j], probability: p })).sort((a, b) => b.probability - a.probability);
          predictions.push({ path: file, top: ranked.slice(0, k) });
          progress.update(i + 1, images.length);
        }
        progress.done();
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ model: o.model, engine: classifier.engine, predictions, skipped })}\n`);
        } else {
          for (const p of predictions) {
            process.stdout.write(`${p.path}\n${p.top.map((t) => `  ${(100 * t.probability).toFixed(1).padStart(5)}%  ${t.label}`).join('\n')}\n`);
          }
          if (skipped.length > 0 && predictions.length > 0) log(`${skipped.length} of ${images.length} images skipped (see the warnings above)`);
        }
        if (predictions.length === 0) {
          process.exitCode = 1;
          log(`error: none of the ${images.length} image(s) could be read; nothing was classified.`);
        }
      } finally {
        await classifier.dispose();
      }
    });
}
