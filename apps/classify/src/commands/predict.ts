/** `mobilenet-classify predict`: the top-k labels of images. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '@mobilenets/runtime';
import { parseIntegerOption } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { loadClassifier } from '../model-io';

interface PredictOptions {
  model: string;
  top: number;
  json?: boolean;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify images with a saved model: the top-k labels with probabilities')
    .requiredOption('--model <dir>', "a model directory written by 'train' (<out>/model)")
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .addOption(new Option('--top <k>', 'labels per image').argParser(parseIntegerOption('--top', 1)).default(5))
    .option('--json', 'print one JSON object')
    .action(async (images: string[], o: PredictOptions) => {
      await setup({ log: (m) => process.stderr.write(`${m}\n`) });
      const { model, labels, inputSize } = await loadClassifier(o.model);
      try {
        const k = Math.min(o.top, labels.length);
        const predictions: { path: string; top: { label: string; probability: number }[] }[] = [];
        for (const file of images) {
          const image = await datasets.loadImage(file, { size: inputSize });
          const probabilities = tf.tidy(() => (model.predict(tf.tensor4d(image.pixels, [1, inputSize, inputSize, 3])) as tf.Tensor).dataSync());
          const ranked = Array.from(probabilities, (p, i) => ({ label: labels[i], probability: p })).sort((a, b) => b.probability - a.probability);
          predictions.push({ path: file, top: ranked.slice(0, k) });
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ model: o.model, predictions })}\n`);
          return;
        }
        for (const p of predictions) {
          process.stdout.write(`${p.path}\n${p.top.map((t) => `  ${(100 * t.probability).toFixed(1).padStart(5)}%  ${t.label}`).join('\n')}\n`);
        }
      } finally {
        model.dispose();
      }
    });
}
