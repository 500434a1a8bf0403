/** `mobilenet-geo eval`: how far a saved model's guesses land, at the five scales of MobileNet's Table 11, against the most-populous-cell baseline. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { UsageError, isInsideFolder, parseChoiceOption, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { evaluateGeo } from '@mobilenets/geo';
import { setup } from '@mobilenets/runtime';
import { readGeoSource, sourceFromFlags } from '../data';
import { loadGeoModel } from '../model-io';
import { cellLabels, formatScaleTable, geoJsonScores, labelledRecords } from '../report';
import { readGeoRun, type LocateMode } from '../run-settings';
import { predictionsMapSvg, writeSvgAsPng } from '../maps';

interface EvalFlags {
  model: string;
  data?: string;
  images?: string;
  locate?: LocateMode;
  topK?: number;
  batch: number;
  map?: string;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description("measure a saved model: the share of photos located within 1, 25, 200, 750 and 2500 km (street, city, region, country, continent) and the median error, next to always guessing the most populous cell")
    .requiredOption('--model <dir>', "a model folder (<out>/model) or the run folder 'train --out' wrote")
    .option('--data <photos.csv>', "CSV of photos (path,lat,lon) to measure on (default: the run's validation photos)")
    .option('--images <dir>', "folder --data's relative paths start from (default: the CSV's folder)")
    .addOption(new Option('--locate <mode>', "where a predicted cell puts the photo: 'mean' of its training photos or its S2 'center' (default: as trained)").argParser(parseChoiceOption('--locate', ['mean', 'center'] as const)))
    .addOption(new Option('--top-k <k>', 'average the k most probable cells, weighted by probability (default: as trained)').argParser(parseIntegerOption('--top-k', 1)))
    .addOption(new Option('--batch <n>', 'images per forward pass').argParser(parseIntegerOption('--batch', 1)).default(32))
    .option('--map <file.png>', 'also draw every prediction and its truth on a world map')
    .option('--json', 'print one JSON object: { "withinKm": { "1", "25", "200", "750", "2500" }, "medianKm", "meanKm", "images", "top1", "baseline": { … } }')
    .action(async (o: EvalFlags) => {
      await evaluate(o);
    });
}

async function evaluate(o: EvalFlags): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const named = sourceFromFlags(o);
  await setup({ log });
  const geo = await loadGeoModel(o.model);
  try {
    let photos: datasets.GeoRecord[];
    let what: string;
    if (named !== null) {
      photos = await readGeoSource(named, '--data', log);
      what = named.csv;
    } else {
      const run = geo.runDir === null ? null : readGeoRun(geo.runDir);
      if (run === null) throw new UsageError(`--model ${o.model}: no run folder with run.json around this model, so there are no validation photos to use: give the photos with --data photos.csv.`);
      if (run.val !== null) {
        photos = await readGeoSource(run.val, "the run's validation data", log);
        what = run.val.csv;
      } else {
        photos = datasets.holdOut(await readGeoSource(run.data, "the run's data", log), run.valFraction, run.seed).val;
        what = `the ${photos.length} photos held out of ${run.data.csv}`;
      }
      if (photos.length === 0) throw new UsageError(`--model ${o.model}: the run has no validation photos (it trained with --val-fraction 0): give the photos with --data.`);
    }
    if (o.map !== undefined) {
      const map = path.resolve(o.map);
      const inside = [...new Set(photos.map((p) => path.dirname(p.path)))].find((d) => isInsideFolder(map, d));
      if (inside !== undefined) throw new UsageError(`--map ${o.map} is inside the data folder ${inside}: nothing is written into your data folders. Choose a file elsewhere.`);
    }
    const { partition, hierarchy, description } = geo;
    const mode = o.locate ?? description.locate;
    const topK = o.topK ?? description.topK;
    const { records } = labelledRecords(photos, partition, 'nearest');
    let skipped = 0;
    const data = datasets.classificationData(records, cellLabels(partition), { inputSize: description.inputSize, augment: false, prefetch: 2, onSkip: (file, error) => {
      skipped += 1;
      log(`warning: skipped ${file}: ${error.message}`);
    } });
    const truth = new Map(photos.map((p) => [p.path, { lat: p.lat, lon: p.lon }]));
    const progress = progressLine('evaluating', 'photos');
    let result: Awaited<ReturnType<typeof evaluateGeo>>;
    try {
      const cells = hierarchy === null ? { partition } : { hierarchy };
      result = await evaluateGeo(geo.model, data, { ...cells, truth, mode, topK, batchSize: o.batch, onProgress: progress.update });
    } catch (error) {
      if (skipped === records.length) throw new Error(`${what}: none of the ${photos.length} photos could be read (see the warnings above).`);
      throw error;
    }
    progress.done();
    const details = result.details!;
    if (o.map !== undefined) {
      await writeSvgAsPng(predictionsMapSvg(details.predictions.map((p) => ({ truth: p.truth, predicted: p.predicted })), { title: `${details.predictions.length} photos of ${path.basename(what)}, median error ${details.scores.medianKm.toFixed(0)} km` }), path.resolve(o.map));
    }
    if (o.json) {
      const heads = hierarchy === null ? {} : { cellsPerPartition: hierarchy.partitions.map((p) => p.cells.length) };
      process.stdout.write(`${JSON.stringify({ ...geoJsonScores(details), top1: result.metrics.top1, skipped, locate: mode, topK, cells: partition.cells.length, ...heads, data: what })}\n`);
      return;
    }
    process.stdout.write(
      `${details.predictions.length} photos of ${what} (${skipped} skipped), ${partition.cells.length} cells${hierarchy === null ? '' : ` (the finest of ${hierarchy.partitions.length} partitions, scored by the product of the heads)`}, location = ${mode === 'mean' ? "mean of the cell's training photos" : "the cell's S2 centre"}${topK > 1 ? `, top ${topK} averaged` : ''}; cell top-1 ${(100 * result.metrics.top1).toFixed(1)}%\n` +
        `${formatScaleTable(details)}\n${o.map === undefined ? '' : `map: ${path.resolve(o.map)}\n`}`,
    );
  } finally {
    geo.model.dispose();
  }
}
