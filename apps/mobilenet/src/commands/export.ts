/** `mobilenet export`: a saved or freshly built model → ONNX, optionally checked against tfjs. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError, formatInteger } from '@mobilenets/cli-kit';
import { createSession, exportOnnx, fileSystem, setup } from '@mobilenets/runtime';
import { ArchitectureOptions, addArchitectureOptions, buildModel } from '../architecture-options';

interface ExportOptions extends ArchitectureOptions {
  model?: string;
  out: string;
  check?: boolean;
  json?: boolean;
}

export function exportCommand(): Command {
  return addArchitectureOptions(new Command('export'))
    .description('export a model to ONNX (opset 13, NCHW, batch norm folded) for onnxruntime')
    .option('--model <dir>', 'a saved model folder (model.json + weights.bin, labels.json optional); otherwise --arch/--alpha/--input-size build one')
    .requiredOption('--out <file.onnx>', 'where to write the ONNX file')
    .option('--check', 'run tfjs and onnxruntime on the same inputs and print the largest absolute difference')
    .option('--json', 'print one JSON object')
    .addOption(new Option('--int8', 'static int8 quantization (not available yet)').hideHelp())
    .addHelpText('after', '\nExamples:\n  mobilenet export --arch v1 --alpha 1 --input-size 224 --out mobilenet_v1.onnx --check\n  mobilenet export --model runs/classify/model --out classifier.onnx --json')
    .action(async (o: ExportOptions & { int8?: boolean }) => {
      if (o.int8) throw new UsageError('--int8 is not implemented yet: export fp32 for now.');
      await setup({ log: null });
      const { model, labels, source } = await loadOrBuild(o);
      try {
        const metadata = { source, arch: o.model ? 'saved' : o.arch, alpha: o.alpha, inputSize: model.inputs[0].shape[1] as number };
        await exportOnnx(model, o.out, { labels, metadata });
        const bytes = (await fs.stat(o.out)).size;
        const maxAbsDiff = o.check ? await check(model, o.out) : null;
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ file: path.resolve(o.out), bytes, model: model.name, maxAbsDiff })}\n`);
        } else {
          process.stdout.write(`wrote ${o.out} (${formatInteger(bytes)} bytes) from ${model.name}\n`);
          if (maxAbsDiff !== null) process.stdout.write(`check: max |tfjs − onnxruntime| = ${maxAbsDiff.toExponential(2)} over random inputs\n`);
        }
      } finally {
        model.dispose();
      }
    });
}

async function loadOrBuild(o: ExportOptions): Promise<{ model: tfl.LayersModel; labels?: string[]; source: string }> {
  if (o.model === undefined) return { model: buildModel(o), source: 'built (random weights)' };
  const model = await tfl.loadLayersModel(fileSystem(o.model));
  const labelsFile = path.join(o.model, 'labels.json');
  const labels = await fs.readFile(labelsFile, 'utf8').then((t) => JSON.parse(t) as string[], () => undefined);
  return { model, labels, source: path.resolve(o.model) };
}

/** Largest |tfjs − onnxruntime| over two batches of random images in [-1, 1]. */
async function check(model: tfl.LayersModel, file: string): Promise<number> {
  const session = await createSession(file);
  const [, h, w, c] = model.inputs[0].shape as number[];
  let worst = 0;
  try {
    for (const batch of [1, 3]) {
      const x = tf.randomUniform([batch, h, w, c], -1, 1);
      const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice());
      const actual = Object.values(await session.run(x.dataSync() as Float32Array, [batch, h, w, c]))[0].data;
      x.dispose();
      for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    }
  } finally {
    await session.dispose();
  }
  return worst;
}
