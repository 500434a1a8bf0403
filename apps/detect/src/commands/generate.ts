/** `mobilenet-detect generate`: the procedural shapes detection set (PNGs + COCO JSON), the detection app's embedded default data. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, checkOutputFolder, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';

interface GenerateOptions {
  out: string;
  images: number;
  classes: number;
  size: number;
  maxObjects: number;
  seed: number;
  firstIndex: number;
  overwrite?: boolean;
  json?: boolean;
}

const MAX_SIZE = 4096;

export function generateCommand(): Command {
  return new Command('generate')
    .description('write the procedural shapes detection set: <out>/images/<n>.png and <out>/annotations.json (COCO)')
    .requiredOption('--out <dir>', 'a new or empty folder')
    .addOption(new Option('--images <n>', 'how many images').argParser(parseIntegerOption('--images', 1)).default(600))
    .addOption(new Option('--classes <n>', 'shape classes (circle, square, triangle, …), 1 to 12').argParser(parseIntegerOption('--classes', 1)).default(3))
    .addOption(new Option('--size <pixels>', `image side, 32 to ${MAX_SIZE}`).argParser(parseIntegerOption('--size', 32)).default(320))
    .addOption(new Option('--max-objects <n>', 'most shapes an image (each image has 1 to n)').argParser(parseIntegerOption('--max-objects', 1)).default(5))
    .addOption(new Option('--seed <n>', 'seed').argParser(parseIntegerOption('--seed')).default(0))
    .addOption(new Option('--first-index <n>', 'index of the first image: a held-out set from the same seed starts where the training set ends').argParser(parseIntegerOption('--first-index', 0)).default(0))
    .option('--overwrite', 'write into a folder that is not empty (files of the same names are replaced)')
    .option('--json', 'print one JSON object')
    .action(async (o: GenerateOptions) => {
      if (o.classes > 12) throw new UsageError(`--classes must be at most 12 (the generator draws 12 shapes). Received ${o.classes}.`);
      if (o.size > MAX_SIZE) throw new UsageError(`--size must be at most ${MAX_SIZE} pixels. Received ${o.size}.`);
      if (o.maxObjects > 50) throw new UsageError(`--max-objects must be at most 50. Received ${o.maxObjects}.`);
      const dir = path.resolve(o.out);
      checkOutputFolder('--out', dir, o.overwrite === true, 'generate writes images/<n>.png and annotations.json');
      const progress = progressLine('generating', 'images');
      let gt: datasets.CocoGroundTruth;
      try {
        gt = await datasets.generateDetectionDataset({ dir, images: o.images, classes: o.classes, size: o.size, maxObjects: o.maxObjects, seed: o.seed, firstIndex: o.firstIndex, onProgress: progress.update });
      } catch (error) {
        throw new Error(`--out ${dir}: could not write the dataset`, { cause: error });
      }
      progress.done();
      const summary = { dir, annotations: path.join(dir, 'annotations.json'), images: gt.images.length, objects: gt.annotations.length, classes: gt.categories.map((c) => c.name), size: o.size, seed: o.seed };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(`wrote ${summary.images} images with ${summary.objects} objects (${summary.classes.join(', ')}) to ${dir}\n`);
    });
}
