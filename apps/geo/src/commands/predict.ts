/** `mobilenet-geo predict`: where photos were taken, by a saved geolocation model: a point, its cell, the confidence and the top cells. */
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError, parseChoiceOption, parseIntegerOption } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { hierarchyScores, locate, type GeoPrediction } from '@mobilenets/geo';
import { setup } from '@mobilenets/runtime';
import { loadGeoModel } from '../model-io';
import type { LocateMode } from '../run-settings';

interface PredictFlags {
  model: string;
  top: number;
  locate?: LocateMode;
  topK?: number;
  json?: boolean;
}

const degrees = (x: number, pos: string, neg: string) => `${Math.abs(x).toFixed(4)}°${x >= 0 ? pos : neg}`;

export function predictCommand(): Command {
  return new Command('predict')
    .description('locate photos with a saved model: latitude, longitude, the S2 cell, its probability and the most probable cells')
    .requiredOption('--model <dir>', "a model folder (<out>/model) or the run folder 'train --out' wrote")
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .addOption(new Option('--top <n>', 'most probable cells listed per photo').argParser(parseIntegerOption('--top', 1)).default(5))
    .addOption(new Option('--locate <mode>', "'mean' of the cell's training photos or its S2 'center' (default: as trained)").argParser(parseChoiceOption('--locate', ['mean', 'center'] as const)))
    .addOption(new Option('--top-k <k>', 'average the k most probable cells, weighted by probability (default: as trained)').argParser(parseIntegerOption('--top-k', 1)))
    .option('--json', 'print one JSON object: { predictions: [{ image, lat, lon, cell, confidence, top: [{ cell, probability, lat, lon }] }], skipped: [{ image, error }] }')
    .addHelpText('after', '\nAn image that cannot be read is skipped with a warning; predict exits with status 0 when at least one photo was located, 1 when none was.')
    .action(async (images: string[], o: PredictFlags) => {
      await predict(images, o);
    });
}

async function predict(images: string[], o: PredictFlags): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await setup({ log });
  const geo = await loadGeoModel(o.model);
  const { inputSize } = geo.description;
  const options = { mode: o.locate ?? geo.description.locate, topK: o.topK ?? geo.description.topK, report: Math.min(o.top, geo.partition.cells.length) };
  const located: { image: string; prediction: GeoPrediction }[] = [];
  const skipped: { image: string; error: string }[] = [];
  try {
    for (const image of images) {
      let pixels: Float32Array;
      try {
        pixels = (await datasets.loadImage(image, { size: inputSize })).pixels;
      } catch (error) {
        skipped.push({ image, error: (error as Error).message });
        log(`warning: skipped ${image}: ${(error as Error).message}`);
        continue;
      }
      const outputs = tf.tidy(() => {
        const out = geo.model.predict(tf.tensor4d(pixels, [1, inputSize, inputSize, 3]));
        return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
      });
      // One head per partition: the fine cells' combined scores (product over the heads, normalised).
      const probabilities = geo.hierarchy === null ? outputs[0] : hierarchyScores(geo.hierarchy, outputs, 1);
      located.push({ image, prediction: locate(probabilities, geo.partition, options) });
    }
  } finally {
    geo.model.dispose();
  }
  if (located.length === 0) {
    if (skipped.length === images.length && images.length > 0) throw new Error(`none of the ${images.length} images could be read (see the warnings above).`);
    throw new UsageError('give at least one image.');
  }
  if (o.json) {
    const point = (p: { lat: number; lon: number }) => ({ lat: p.lat, lon: p.lon });
    process.stdout.write(`${JSON.stringify({
      predictions: located.map(({ image, prediction: p }) => ({ image, ...point(p.location), cell: p.token, confidence: p.confidence, top: p.top.map((t) => ({ cell: t.token, probability: t.probability, ...point(t.location) })) })),
      skipped,
    })}\n`);
    return;
  }
  for (const { image, prediction: p } of located) {
    process.stdout.write(`${image}: ${degrees(p.location.lat, 'N', 'S')} ${degrees(p.location.lon, 'E', 'W')} (cell ${p.token}, ${(100 * p.confidence).toFixed(1)}%)\n`);
    for (const t of p.top) process.stdout.write(`  ${t.token.padEnd(16)} ${(100 * t.probability).toFixed(1).padStart(5)}%  ${degrees(t.location.lat, 'N', 'S')} ${degrees(t.location.lon, 'E', 'W')}\n`);
  }
}
