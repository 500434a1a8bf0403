/** `mobilenet-geo partition`: PlaNet's adaptive S2 cells of a set of geotagged photos, saved as JSON, with a map. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, formatTable, isInsideFolder, parseIntegerOption, rangeErrorsAsUsage } from '@mobilenets/cli-kit';
import { S2Hierarchy, S2Partition, defaultThresholds } from '@mobilenets/geo';
import { type Thresholds, checkThresholdFlags, parseThresholdsOption, partitionSettings } from '../cells';
import { readGeoSource, sourceFolders, sourceFromFlags } from '../data';
import { writeJsonFile } from '../model-io';
import { partitionPicture } from '../report';
import { writeSvgAsPng } from '../maps';

interface PartitionFlags {
  data: string;
  images?: string;
  tMax?: Thresholds;
  tMin?: Thresholds;
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
    .addOption(new Option('--t-max <n>', 'split any cell holding more than n photos (PlaNet: 10,000 of 91M photos; default scaled to the data: √photos, at least 10); a strictly decreasing list (400,200,100) writes a hierarchy of partitions, coarse to fine (GeoEstimation)').argParser(parseThresholdsOption('--t-max')))
    .addOption(new Option('--t-min <n>', 'drop cells holding fewer than n photos, and their photos (PlaNet: 50; default t-max / 20, at least 2); with a --t-max list, one value for all or one per partition').argParser(parseThresholdsOption('--t-min')))
    .addOption(new Option('--max-level <level>', 'deepest S2 level a cell may have (30: S2 leaf cells)').argParser(parseIntegerOption('--max-level', 0)).default(30))
    .option('--out <file.json>', 'where to write the partition', 'partition.json')
    .option('--map <file.png>', 'where to draw the cells on a world map (default: --out with .png)')
    .option('--no-map', 'draw no map')
    .option('--json', 'print one JSON object: { cells, photos, keptPhotos, droppedPhotos, levels: [{ level, cells }], out, map }; for a hierarchy also partitions: [{ cells, tMax, tMin, keptPhotos, levels }], coarse to fine (the top-level fields are the finest\'s)')
    .addHelpText('after', '\nExamples:\n  mobilenet-geo partition --data photos.csv --out cells.json\n  mobilenet-geo partition --data photos.csv --t-max 200 --t-min 10 --out coarse.json\n  mobilenet-geo partition --data photos.csv --t-max 400,200,100 --t-min 5 --out hierarchy.json')
    .action(async (o: PartitionFlags) => {
      await partition(o);
    });
}

async function partition(o: PartitionFlags): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (o.maxLevel > 30) throw new UsageError(`--max-level must be in [0, 30] (S2's levels). Received ${o.maxLevel}.`);
  checkThresholdFlags(o.tMax, o.tMin);
  const source = sourceFromFlags(o)!;
  const out = path.resolve(o.out);
  const map = o.map === false ? null : path.resolve(o.map ?? out.replace(/\.json$/i, '') + '.png');
  for (const [file, flag] of [[out, '--out'], [map, '--map']] as const) {
    if (file === null) continue;
    const inside = sourceFolders(source).find((folder) => isInsideFolder(file, folder));
    if (inside !== undefined) throw new UsageError(`${flag} ${file} is inside the data folder ${inside}: nothing is written into your data folders. Choose a file elsewhere.`);
  }
  const photos = await readGeoSource(source, '--data', log);
  if (Array.isArray(o.tMax) || Array.isArray(o.tMin)) {
    await writeHierarchy(o, photos, out, map);
    return;
  }
  const defaults = defaultThresholds(photos.length);
  const [tMax, tMin] = [o.tMax as number | undefined, o.tMin as number | undefined];
  const options = { tMax: tMax ?? Math.max(defaults.tMax, tMin ?? 0), tMin: tMin ?? Math.min(defaults.tMin, tMax ?? Infinity), maxLevel: o.maxLevel };
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

/** With a --t-max (or --t-min) list: one partition per value, coarse to fine, written as `{ partitions: [...] }`. */
async function writeHierarchy(o: PartitionFlags, photos: readonly { lat: number; lon: number }[], out: string, map: string | null): Promise<void> {
  const settings = partitionSettings(photos.length, o.tMax, o.tMin, o.maxLevel);
  const built = settings.map((s) => rangeErrorsAsUsage(() => S2Partition.build(photos, s), '--t-max, --t-min, --max-level'));
  const hierarchy = new S2Hierarchy(built.map((b) => b.partition));
  const rows = built.map(({ partition, classOfPoint }, i) => ({
    partition: i + 1,
    cells: partition.cells.length,
    tMax: settings[i].tMax,
    tMin: settings[i].tMin,
    keptPhotos: classOfPoint.reduce((n, c) => n + (c >= 0 ? 1 : 0), 0),
    levels: partition.levelHistogram(),
  }));
  const fine = rows[rows.length - 1];
  writeJsonFile(out, hierarchy.toJson());
  if (map !== null) {
    const title = `finest of ${rows.length} partitions: ${fine.cells} S2 cells of ${fine.keptPhotos} photos (t-max ${fine.tMax}, t-min ${fine.tMin})`;
    await writeSvgAsPng(partitionPicture(hierarchy.fine, title), map);
  }
  if (o.json) {
    const { partition: _, ...finest } = fine;
    process.stdout.write(`${JSON.stringify({ ...finest, photos: photos.length, droppedPhotos: photos.length - fine.keptPhotos, maxLevel: o.maxLevel, partitions: rows.map(({ partition: _p, ...r }) => r), out, map })}\n`);
    return;
  }
  process.stdout.write(
    `a hierarchy of ${rows.length} partitions of ${photos.length} photos, coarse to fine (max level ${o.maxLevel}); a model trained on it has one head per partition\n` +
      `${formatTable(rows, [
        { header: 'partition', value: (r) => r.partition },
        { header: 't-max', value: (r) => r.tMax, align: 'right' },
        { header: 't-min', value: (r) => r.tMin, align: 'right' },
        { header: 'cells', value: (r) => r.cells, align: 'right' },
        { header: 'photos kept', value: (r) => r.keptPhotos, align: 'right' },
      ])}\n` +
      `hierarchy: ${out}${map === null ? '' : `\nmap (finest partition): ${map}`}\n`,
  );
}
