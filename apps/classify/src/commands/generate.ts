/** `mobilenet-classify generate`: the procedural classification dataset (the apps' embedded default data). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, checkOutputFolder, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';

/**
 * The embedded default data of `train` without --data. Images are generated at most `maxSize` pixels
 * wide (training resizes them to --input-size), which keeps the folder small whatever the input size.
 */
export const GENERATED_DEFAULTS = { classes: 10, imagesPerClass: 300, maxSize: 96 } as const;

/** Writes the dataset into `dir`, with a progress line on stderr now and then when it takes more than a few seconds. */
export async function generateDefaultData(dir: string, o: { classes: number; imagesPerClass: number; size: number; seed: number }): Promise<void> {
  const progress = progressLine('generating', 'images');
  await datasets.generateClassificationDataset({ classes: o.classes, imagesPerClass: o.imagesPerClass, size: o.size, seed: o.seed, dir, onProgress: progress.update });
  progress.done();
}

interface GenerateOptions {
  out: string;
  classes: number;
  imagesPerClass: number;
  size: number;
  seed: number;
  overwrite?: boolean;
  json?: boolean;
}

const MAX_SIZE = 4096;

export function generateCommand(): Command {
  return new Command('generate')
    .description('write the procedural classification dataset (textured classes) as an ImageFolder')
    .requiredOption('--out <dir>', 'a new or empty folder to write <class>/<image>.png into')
    .addOption(new Option('--classes <n>', `classes, 2 to ${datasets.MAX_GENERATED_CLASSES}`).argParser(parseIntegerOption('--classes', 2)).default(GENERATED_DEFAULTS.classes))
    .addOption(new Option('--images-per-class <n>', 'images per class').argParser(parseIntegerOption('--images-per-class', 1)).default(GENERATED_DEFAULTS.imagesPerClass))
    .addOption(new Option('--size <pixels>', `image side, 16 to ${MAX_SIZE}`).argParser(parseIntegerOption('--size', 16)).default(96))
    .addOption(new Option('--seed <n>', 'seed').argParser(parseIntegerOption('--seed')).default(0))
    .option('--overwrite', 'write into a folder that is not empty (files of the same names are replaced; other files are left as they are)')
    .option('--json', 'print one JSON object')
    .action(async (o: GenerateOptions) => {
      if (o.classes > datasets.MAX_GENERATED_CLASSES) throw new UsageError(`--classes must be at most ${datasets.MAX_GENERATED_CLASSES} (the generator draws ${datasets.MAX_GENERATED_CLASSES} shapes). Received ${o.classes}.`);
      if (o.size > MAX_SIZE) throw new UsageError(`--size must be at most ${MAX_SIZE} pixels. Received ${o.size}.`);
      const dir = path.resolve(o.out);
      checkOutputFolder('--out', dir, o.overwrite === true, 'generate writes <class>/<n>.png files');
      const classNames = datasets.generatedClassNames(o.classes);
      const others = fs.existsSync(dir) ? fs.readdirSync(dir).filter((e) => !classNames.includes(e)).sort() : [];
      try {
        await generateDefaultData(dir, o);
      } catch (error) {
        throw new Error(`--out ${dir}: could not write the dataset`, { cause: error });
      }
      if (others.length > 0) process.stderr.write(`note: ${dir} also holds ${others.join(', ')}, left as they are (train and eval read every folder there as a class).\n`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ dir, classes: [...classNames].sort(), imagesPerClass: o.imagesPerClass, size: o.size, seed: o.seed, files: o.classes * o.imagesPerClass })}\n`);
        return;
      }
      process.stdout.write(`wrote ${o.classes} classes × ${o.imagesPerClass} images of ${o.size}px to ${dir}\n`);
    });
}
