/** `mobilenet-classify predict`: the top-k labels of images, with a saved tfjs model or an exported ONNX file. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { createSession, float32Output, setup } from '@mobilenets/runtime';
import { UsageError, parseIntegerOption } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { loadClassifier } from '../model-io';

interface PredictOptions {
  model: string;
  top: number;
  threads: number;
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
    .description('classify images with a saved model directory or an exported .onnx file: the top-k labels with probabilities')
    .requiredOption('--model <dir|file.onnx>', "a model directory written by 'train' (<out>/model), or an ONNX file from 'mobilenet export'")
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .addOption(new Option('--top <k>', 'labels per image').argParser(parseIntegerOption('--top', 1)).default(5))
    .addOption(new Option('--threads <n>', 'onnxruntime threads (for .onnx models)').argParser(parseIntegerOption('--threads', 1)).default(2))
    .option('--json', 'print one JSON object')
    .action(async (images: string[], o: PredictOptions) => {
      const classifier = o.model.endsWith('.onnx') ? await onnxClassifier(o.model, o.threads) : await tfjsClassifier(o.model);
      try {
        const k = Math.min(o.top, classifier.labels.length);
        const predictions: { path: string; top: { label: string; probability: number }[] }[] = [];
        for (const file of images) {
          const image = await datasets.loadImage(file, { size: classifier.inputSize });
          const probabilities = await classifier.classify(image.pixels);
          const ranked = Array.from(probabilities, (p, i) => ({ label: classifier.labels[i], probability: p })).sort((a, b) => b.probability - a.probability);
          predictions.push({ path: file, top: ranked.slice(0, k) });
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ model: o.model, engine: classifier.engine, predictions })}\n`);
          return;
        }
        for (const p of predictions) {
          process.stdout.write(`${p.path}\n${p.top.map((t) => `  ${(100 * t.probability).toFixed(1).padStart(5)}%  ${t.label}`).join('\n')}\n`);
        }
      } finally {
        await classifier.dispose();
      }
    });
}
