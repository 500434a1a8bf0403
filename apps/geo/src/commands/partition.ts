/** `mobilenet-geo partition`: PlaNet's adaptive S2 cells of a set of geotagged photos, saved as JSON, with a map. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, formatTable, isInsideFolder, parseIntegerOption, rangeErrorsAsUsage } from '@mobilenets/cli-kit';
import { S2Partition, defaultThresholds } from '@mobilenets/geo';
import { readGeoSource, sourceFolders, sourceFromFlags } from '../data';
import { writeJsonFile } from '../model-io';
import { partitionPicture } from '../report';
import { writeSvgAsPng } from '../maps';

interface PartitionFlags {
  data: string;
  images?: string;
  tMax?: number;
  tMin?: number;
  maxLevel: number;
  out: string;
  map?: string | false;
  json?: boolean;
}

export function partitionCommand(): Command {
  return new Command('partition')
    .description("divide the earth into S2 cells by where the photos are (PlaNet): split any cell with more than --t-max photos, drop cells with fewer than --t-min")
    .requiredOption('--data <photos.csv>', 'CSV of geotagged photos with the header path,lat,lon')
    .option('--images <dir>', "folder --data's relative paths start from (default: the CSV's folder)")
    .addOption(new Option('--t-max <n>', 'split any cell holding more than n photos (PlaNet: 10,000 of 91M photos; default scaled to the data: √photos, at least 10)').argParser(parseIntegerOption('--t-max', 1)))
    .addOption(new Option('--t-min <n>', 'drop cells holding fewer than n photos, and their photos (PlaNet: 50; default t-max / 20, at least 2)').argParser(parseIntegerOption('--t-min', 1)))
    .addOption(new Option('--max-level <level>', 'deepest S2 level a cell may have (30: S2 leaf cells)').argParser(parseIntegerOption('--max-level', 0)).default(30))
    .option('--out <file.json>', 'where to write the partition', 'partition.json')
    .option('--map <file.png>', 'where to draw the cells on a world map (default: --out with .png)')
    .option('--no-map', 'draw no map')
    .option('--json', 'print one JSON object: { cells, photos, keptPhotos, droppedPhotos, levels: [{ level, cells }], out, map }')
    .addHelpText('after', '\nExamples:\n  mobilenet-geo partition --data photos.csv --out cells.json\n  mobilenet-geo partition --data photos.csv --t-max 200 --t-min 10 --out coarse.json')
    .action(async (o: PartitionFlags) => {
      await partition(o);
    });
}

async function partition(o: PartitionFlags): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (o.maxLevel > 30) throw new UsageError(`--max-level must be in [0, 30] (S2's levels). Received ${o.maxLevel}.`);
  if (o.tMax !== undefined && o.tMin !== undefined && o.tMin > o.tMax) throw new UsageError(`--t-min (${o.tMin}) must not exceed --t-max (${o.tMax}).`);
  const source = sourceFromFlags(o)!;
  const out = path.resolve(o.out);
  const map = o.map === false ? null : path.resolve(o.map ?? out.replace(/\.json$/i, '') + '.png');
  for (const [file, flag] of [[out, '--out'], [map, '--map']] as const) {
    if (file === null) continue;
    const inside = sourceFolders(source).find((folder) => isInsideFolder(file, folder));
    if (inside !== undefined) throw new UsageError(`${flag} ${file} is inside the data folder ${inside}: nothing is written into your data folders. Choose a file elsewhere.`);
  }
  const photos = await readGeoSource(source, '--data', log);
  const defaults = defaultThresholds(photos.length);
  const options = { tMax: o.tMax ?? Math.max(defaults.tMax, o.tMin ?? 0), tMin: o.tMin ?? Math.min(defaults.tMin, o.tMax ?? Infinity), maxLevel: o.maxLevel };
  const { partition: cells, classOfPoint } = rangeErrorsAsUsage(() => S2Partition.build(photos, options), '--t-max, --t-min, --max-level');
  const kept = classOfPoint.reduce((n, c) => n + (c >= 0 ? 1 : 0), 0);
  writeJsonFile(out, cells.toJson());
  if (map !== null) await writeSvgAsPng(partitionPicture(cells, `${cells.cells.length} S2 cells of ${kept} photos (t-max ${options.tMax}, t-min ${options.tMin})`), map);
  const levels = cells.levelHistogram();
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ cells: cells.cells.length, photos: photos.length, keptPhotos: kept, droppedPhotos: photos.length - kept, ...options, levels, out, map })}\n`);
    return;
  }
  process.stdout.write(
    `${cells.cells.length} cells (t-max ${options.tMax}, t-min ${options.tMin}, max level ${options.maxLevel}) holding ${kept} of ${photos.length} photos; ` +
      `${photos.length - kept} photos fell in cells with fewer than ${options.tMin} and were dropped\n` +
      `${formatTable(levels, [{ header: 'S2 level', value: (r) => r.level }, { header: 'cells', value: (r) => r.cells }])}\n` +
      `partition: ${out}${map === null ? '' : `\nmap: ${map}`}\n`,
  );
}
