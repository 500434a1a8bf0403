/** `mobilenet-geo generate`: the procedural geotagged photo set (PNGs + photos.csv), the geo app's embedded default. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, checkOutputFolder, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';

interface GenerateFlags {
  out: string;
  images: number;
  size: number;
  seed: number;
  firstIndex: number;
  overwrite?: boolean;
  json?: boolean;
}

const MAX_SIZE = 1024;

export function generateCommand(): Command {
  return new Command('generate')
    .description('write the procedural geotagged photo set: <out>/images/<n>.jpg and <out>/photos.csv (path,lat,lon), photos placed by world population')
    .requiredOption('--out <dir>', 'a new or empty folder')
    .addOption(new Option('--images <n>', 'how many photos').argParser(parseIntegerOption('--images', 1)).default(5000))
    .addOption(new Option('--size <pixels>', `photo side, 32 to ${MAX_SIZE}`).argParser(parseIntegerOption('--size', 32)).default(128))
    .addOption(new Option('--seed <n>', 'seed').argParser(parseIntegerOption('--seed')).default(0))
    .addOption(new Option('--first-index <n>', 'index of the first photo: a held-out set from the same seed starts where the training set ends').argParser(parseIntegerOption('--first-index', 0)).default(0))
    .option('--overwrite', 'write into a folder that is not empty (files of the same names are replaced)')
    .option('--json', 'print one JSON object')
    .action(async (o: GenerateFlags) => {
      if (o.size > MAX_SIZE) throw new UsageError(`--size must be at most ${MAX_SIZE} pixels. Received ${o.size}.`);
      const dir = path.resolve(o.out);
      checkOutputFolder('--out', dir, o.overwrite === true, 'generate writes images/<n>.jpg and photos.csv');
      const progress = progressLine('generating', 'photos');
      let records: datasets.GeoRecord[];
      try {
        records = await datasets.generateGeoDataset({ dir, images: o.images, size: o.size, seed: o.seed, firstIndex: o.firstIndex, onProgress: progress.update });
      } catch (error) {
        throw new Error(`--out ${dir}: could not write the photos`, { cause: error });
      }
      progress.done();
      const summary = { dir, csv: path.join(dir, 'photos.csv'), images: records.length, size: o.size, seed: o.seed };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(`wrote ${summary.images} geotagged photos of ${o.size} px to ${dir} (manifest ${summary.csv})\n`);
    });
}
