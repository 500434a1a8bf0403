/** `mobilenet-classify generate`: the procedural classification dataset (the apps' embedded default data). */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { parseIntegerOption } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';

/**
 * The embedded default data of `train` without --data. Images are generated at most `maxSize` pixels
 * wide (training resizes them to --input-size), which keeps the folder small whatever the input size.
 */
export const GENERATED_DEFAULTS = { classes: 10, imagesPerClass: 300, maxSize: 96 } as const;

export async function generateDefaultData(dir: string, o: { classes: number; imagesPerClass: number; size: number; seed: number }): Promise<void> {
  await datasets.generateClassificationDataset({ classes: o.classes, imagesPerClass: o.imagesPerClass, size: o.size, seed: o.seed, dir });
}

interface GenerateOptions {
  out: string;
  classes: number;
  imagesPerClass: number;
  size: number;
  seed: number;
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('write the procedural classification dataset (textured classes) as an ImageFolder')
    .requiredOption('--out <dir>', 'folder to write <class>/<image>.png into')
    .addOption(new Option('--classes <n>', 'classes').argParser(parseIntegerOption('--classes', 2)).default(GENERATED_DEFAULTS.classes))
    .addOption(new Option('--images-per-class <n>', 'images per class').argParser(parseIntegerOption('--images-per-class', 1)).default(GENERATED_DEFAULTS.imagesPerClass))
    .addOption(new Option('--size <pixels>', 'image side').argParser(parseIntegerOption('--size', 8)).default(96))
    .addOption(new Option('--seed <n>', 'seed').argParser(parseIntegerOption('--seed')).default(0))
    .action(async (o: GenerateOptions) => {
      const dir = path.resolve(o.out);
      await generateDefaultData(dir, o);
      process.stdout.write(`wrote ${o.classes} classes × ${o.imagesPerClass} images of ${o.size}px to ${dir}\n`);
    });
}
