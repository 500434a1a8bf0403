/**
 * `mobilenet-geo train`: PlaNet on MobileNet — a classifier over the adaptive S2 cells of the training
 * photos; or, with a hierarchy (a --t-max list, or --partition with a hierarchy file), GeoEstimation's
 * classifier with one head per partition, trained on the sum of the heads' cross-entropies.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  FileCheckpointStore, MIN_BATCH_NORM_BATCH, type InitReport, type TrainingEngine, classificationLoss, dataParallel, defaultWorkerCount, initFromModel, onnxTrainingRunner,
  planTrainingEngine, setup, withRunFolder, writeRunRecord,
} from '@mobilenets/runtime';
import {
  type RecordedSetting, UsageError, addRunOptions, checkRecordedFlags, checkSeparateFolders, lengthenedCosineOnResume, cosinePlanner, minutesToPlan, runLengthFromFlags, scheduledSteps, formatDataWait, formatDuration, parseChoiceOption, parseIntegerOption, parseNumberOption, progressCallback, rangeErrorsAsUsage, stopOnSignals,
} from '@mobilenets/cli-kit';
import type { S2Hierarchy, S2Partition } from '@mobilenets/geo';
import { type FitResult, type Schedule, TrainingDivergedError, cosineFromPlan, epochSteps, fit, linearWarmup, localRunner, metricsLogCallback, paperOptimizer } from '@mobilenets/training';
import * as datasets from '@mobilenets/datasets';
import { geoHierarchyTask, geoTask, type GeoValidation } from '@mobilenets/geo';
import { generateDefaultGeoData, readGeoSource, sourceFolders, sourceFromFlags } from '../data';
import { type GeoCells, type Thresholds, buildCells, cellsJson, checkThresholdFlags, describeCells, parseThresholdsOption, partitionSettings, readCellsFile, recordedThresholds } from '../cells';
import { PARTITION_JSON, buildGeoModel, saveGeoModel, writeJsonFile, type GeoModelDescription } from '../model-io';
import { GEO_APP, type GeoRunSettings, type LocateMode, readGeoRun } from '../run-settings';
import { cellLabels, formatGeoMetric, formatScaleTable, geoJsonScores, labelledRecords, writeRunMaps } from '../report';

interface TrainFlags {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  data?: string;
  images?: string;
  valData?: string;
  valImages?: string;
  valFraction: number;
  partition?: string;
  tMax?: Thresholds;
  tMin?: Thresholds;
  maxLevel: number;
  locate: LocateMode;
  topK: number;
  optimizer: 'momentum' | 'rmsprop' | 'adam';
  lr?: number;
  warmupSteps: number;
  weightDecay: number;
  labelSmoothing: number;
  augment: boolean;
  valEvery: number;
  epochs?: number;
  steps?: number;
  maxMinutes?: number;
  batch: number;
  accumulate: number;
  workers?: number;
  engine?: TrainingEngine;
  checkpointMinutes: number;
  out: string;
  resume?: string | boolean;
  init?: string;
  seed: number;
  json?: boolean;
}

/** Epochs of a run given neither --epochs, --steps nor --max-minutes. */
const DEFAULT_EPOCHS = 30;

/** Initial learning rates at batch 32. Momentum's 0.05 is the one measured (the README's 30-minute run); the others are the usual starting points for those optimizers. */
export const DEFAULT_LEARNING_RATES = { momentum: 0.05, rmsprop: 0.01, adam: 0.001 } as const;

/** Settings --resume takes from the run folder; a flag that names another value is an error. */
const RECORDED: RecordedSetting<TrainFlags, GeoRunSettings>[] = [
  { flag: '--arch', key: 'arch', setting: 'arch' },
  { flag: '--alpha', key: 'alpha', setting: 'alpha' },
  { flag: '--input-size', key: 'inputSize', setting: 'inputSize' },
  { flag: '--val-fraction', key: 'valFraction', setting: 'valFraction' },
  { flag: '--max-level', key: 'maxLevel', setting: 'maxLevel' },
  { flag: '--locate', key: 'locate', setting: 'locate' },
  { flag: '--top-k', key: 'topK', setting: 'topK' },
  { flag: '--seed', key: 'seed', setting: 'seed' },
  { flag: '--batch', key: 'batch', setting: 'batch' },
  { flag: '--optimizer', key: 'optimizer', setting: 'optimizer' },
  { flag: '--lr', key: 'lr', setting: 'lr' },
  { flag: '--warmup-steps', key: 'warmupSteps', setting: 'warmupSteps' },
  { flag: '--weight-decay', key: 'weightDecay', setting: 'weightDecay' },
  { flag: '--label-smoothing', key: 'labelSmoothing', setting: 'labelSmoothing' },
  { flag: '--augment', key: 'augment', setting: 'augment' },
  { flag: '--val-every', key: 'valEvery', setting: 'valEvery' },
];

export function trainCommand(): Command {
  const command = new Command('train')
    .description('train a geolocation classifier (PlaNet on MobileNet): one class per adaptive S2 cell of the training photos')
    .addOption(new Option('--arch <arch>', 'MobileNet version').argParser(parseChoiceOption('--arch', ['v1', 'v2'] as const)).default('v1'))
    .addOption(new Option('--alpha <α>', 'width multiplier α').argParser(parseNumberOption('--alpha')).default(0.5))
    .addOption(new Option('--input-size <pixels>', 'input resolution, a multiple of 32; photos are resized to it').argParser(parseIntegerOption('--input-size', 32)).default(128))
    .option('--data <photos.csv>', 'CSV of training photos with the header path,lat,lon (default: generate the procedural geotagged set into <out>/data)')
    .option('--images <dir>', "folder --data's relative paths start from (default: the CSV's folder)")
    .option('--val-data <photos.csv>', 'CSV of validation photos (default: hold out --val-fraction of --data)')
    .option('--val-images <dir>', "folder --val-data's relative paths start from")
    .addOption(new Option('--val-fraction <f>', 'share of the training photos held out for validation when no --val-data is given').argParser(parseNumberOption('--val-fraction')).default(0.2))
    .option('--partition <file.json>', "the cells, from 'mobilenet-geo partition': a partition, or a hierarchy (one head per partition) (default: partition the training photos with --t-max, --t-min and --max-level)")
    .addOption(new Option('--t-max <n>', "split any cell holding more than n training photos (PlaNet: 10,000 of 91M photos; default scaled to the data: √photos, at least 10); a strictly decreasing list (400,200,100) trains one head per partition, coarse to fine (GeoEstimation)").argParser(parseThresholdsOption('--t-max')))
    .addOption(new Option('--t-min <n>', 'discard cells holding fewer than n photos, and their photos (PlaNet: 50; default t-max / 20, at least 2); with a --t-max list, one value for all or one per partition').argParser(parseThresholdsOption('--t-min')))
    .addOption(new Option('--max-level <level>', 'deepest S2 level a cell may have (30: S2 leaf cells, about 1 cm)').argParser(parseIntegerOption('--max-level', 0)).default(30))
    .addOption(new Option('--locate <mode>', "where a predicted cell puts the photo: 'mean' of the cell's training photos (GeoEstimation) or the S2 cell's 'center'").argParser(parseChoiceOption('--locate', ['mean', 'center'] as const)).default('mean'))
    .addOption(new Option('--top-k <k>', 'average the locations of the k most probable cells, weighted by probability (1: the most probable cell)').argParser(parseIntegerOption('--top-k', 1)).default(1))
    .addOption(new Option('--optimizer <name>', "'momentum' (SGD, momentum 0.9), 'rmsprop' (the MobileNet paper's) or 'adam'").argParser(parseChoiceOption('--optimizer', ['momentum', 'rmsprop', 'adam'] as const)).default('momentum'))
    .addOption(new Option('--lr <x>', `initial learning rate, decayed by a cosine to 0 at the last step (default: momentum ${DEFAULT_LEARNING_RATES.momentum}, rmsprop ${DEFAULT_LEARNING_RATES.rmsprop}, adam ${DEFAULT_LEARNING_RATES.adam})`).argParser(parseNumberOption('--lr')))
    .addOption(new Option('--warmup-steps <n>', 'linear learning-rate warm-up steps').argParser(parseIntegerOption('--warmup-steps', 0)).default(100))
    .addOption(new Option('--weight-decay <x>', 'L2 on conv and FC kernels').argParser(parseNumberOption('--weight-decay')).default(4e-5))
    .addOption(new Option('--label-smoothing <x>', 'label smoothing ε over the cells').argParser(parseNumberOption('--label-smoothing')).default(0.1))
    .option('--no-augment', 'no random crops or flips')
    .addOption(new Option('--val-every <n>', 'validate every n epochs and at the end').argParser(parseIntegerOption('--val-every', 1)).default(1))
    .option('--init <source>', "start from trained weights: a model folder from these apps (layers matched by name and shape), or 'face-api' (MobileNetV1 α = 1)");
  return addRunOptions(command, {
    defaultEpochs: DEFAULT_EPOCHS,
    workers: { byDefault: defaultWorkerCount(), minShare: MIN_BATCH_NORM_BATCH },
    out: { byDefault: 'mobilenet-geo-out', holds: 'run.json, partition.json, model/, checkpoints/, metrics.jsonl, partition-map.png, predictions-map.png' },
    seeds: 'the weights, the validation split, data order and augmentation',
    plansToMaxMinutes: true,
  })
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  mobilenet-geo train --epochs 2 --out runs/geo                          # V1 α 0.5 at 128 px on the procedural set\n' +
        '  mobilenet-geo train --data photos.csv --partition cells.json --max-minutes 30 --out runs/mine\n' +
        '  mobilenet-geo train --resume runs/geo --epochs 4                       # continue, two epochs more',
    )
    .action(async (flags: TrainFlags, command: Command) => {
      await train(flags, command);
    });
}

const given = (command: Command, key: string) => command.getOptionValueSource(key) === 'cli';

function checkFlags(o: TrainFlags, command: Command): void {
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new UsageError(`--val-fraction must be in [0, 1). Received ${o.valFraction}.`);
  if (o.maxMinutes !== undefined && !(o.maxMinutes > 0)) throw new UsageError(`--max-minutes must be > 0. Received ${o.maxMinutes}.`);
  if (o.lr !== undefined && !(o.lr > 0)) throw new UsageError(`--lr must be > 0. Received ${o.lr}.`);
  if (!(o.weightDecay >= 0)) throw new UsageError(`--weight-decay must be ≥ 0. Received ${o.weightDecay}.`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new UsageError(`--label-smoothing must be in [0, 1). Received ${o.labelSmoothing}.`);
  if (!(o.checkpointMinutes >= 0)) throw new UsageError(`--checkpoint-minutes must be ≥ 0. Received ${o.checkpointMinutes}.`);
  if (o.accumulate > o.batch) throw new UsageError(`--accumulate (${o.accumulate}) cannot exceed --batch (${o.batch}): each micro-batch needs at least one image.`);
  if (o.inputSize % 32 !== 0) throw new UsageError(`--input-size must be a multiple of 32 (e.g. 128). Received ${o.inputSize}.`);
  if (o.maxLevel > 30) throw new UsageError(`--max-level must be in [0, 30] (S2's levels). Received ${o.maxLevel}.`);
  checkThresholdFlags(o.tMax, o.tMin);
  if (o.partition !== undefined) {
    for (const key of ['tMax', 'tMin', 'maxLevel'] as const) {
      if (given(command, key)) throw new UsageError(`--partition gives the cells; --${key === 'tMax' ? 't-max' : key === 'tMin' ? 't-min' : 'max-level'} only applies when the run partitions its training photos itself.`);
    }
  }
}

/** The run's learning rate: warm-up, then a cosine to 0 at the last planned step (lengthened on --resume from the current rate). */
function scheduleOf(s: GeoRunSettings, stepsPerEpoch: number): Schedule {
  const totalSteps = scheduledSteps(s, stepsPerEpoch);
  const base = cosineFromPlan(s.lr, s.cosineExtensions, totalSteps);
  return s.warmupSteps > 0 ? linearWarmup(base, { steps: s.warmupSteps }) : base;
}

function optimizerOf(s: GeoRunSettings): () => tf.Optimizer {
  if (s.optimizer === 'rmsprop') return () => paperOptimizer(s.lr);
  if (s.optimizer === 'adam') return () => tf.train.adam(s.lr);
  return () => tf.train.momentum(s.lr, 0.9);
}

async function train(o: TrainFlags, command: Command): Promise<void> {
  checkFlags(o, command);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const resuming = o.resume !== undefined && o.resume !== false;
  const out = path.resolve(typeof o.resume === 'string' ? o.resume : o.out);
  if (typeof o.resume === 'string' && given(command, 'out') && path.resolve(o.out) !== out) {
    throw new UsageError(`--resume ${o.resume} and --out ${o.out} name different folders; give the run folder once (--resume <run-dir>).`);
  }
  const trainSource = sourceFromFlags(o);
  const valSource = sourceFromFlags({ data: o.valData, images: o.valImages }, 'val-');
  if (resuming && (trainSource !== null || valSource !== null || o.partition !== undefined)) throw new UsageError('--resume continues a run on its recorded data and cells: leave out --data, --val-data and --partition.');
  for (const [source, flag] of [[trainSource, '--data'], [valSource, '--val-data']] as const) {
    if (source !== null) for (const folder of sourceFolders(source)) checkSeparateFolders(out, folder, flag);
  }
  await withRunFolder(out, GEO_APP, { resuming, readSettings: readGeoRun, stateError: (message) => new UsageError(message) }, (store, recorded) =>
    trainInFolder(o, command, out, store, recorded, trainSource, valSource, log));
}

function checkResumeFlags(recorded: GeoRunSettings, o: TrainFlags, command: Command, runDir: string): void {
  checkRecordedFlags(recorded, o, command, runDir, RECORDED);
  // Thresholds may be lists (a hierarchy): compared by value.
  for (const [flag, key] of [['--t-max', 'tMax'], ['--t-min', 'tMin']] as const) {
    if (!given(command, key) || JSON.stringify(o[key]) === JSON.stringify(recorded[key])) continue;
    throw new UsageError(
      `${flag} ${String(o[key])} conflicts with the run in ${runDir}, which was trained with ${flag} ${String(recorded[key])}. ` +
        `Leave ${flag} out to continue the run as it was, or start a new run with another --out.`,
    );
  }
  if (given(command, 'init')) throw new UsageError("--init only starts a new run; --resume continues from the run's own checkpoint.");
}

async function trainInFolder(
  o: TrainFlags, command: Command, out: string, store: FileCheckpointStore, recorded: GeoRunSettings | null,
  trainSource: ReturnType<typeof sourceFromFlags>, valSource: ReturnType<typeof sourceFromFlags>, log: (line: string) => void,
): Promise<void> {
  const runtime = await setup({ log });
  // The data: recorded, named by flags, or generated into the run folder.
  let data = recorded?.data ?? trainSource;
  let val = recorded === null ? valSource : recorded.val;
  const generated = recorded?.generatedData ?? data === null;
  const seed = recorded?.seed ?? o.seed;
  if (data === null || (generated && !fs.existsSync(data.csv))) {
    const sets = await generateDefaultGeoData(path.join(out, 'data'), seed, log);
    data = sets.train;
    if (recorded === null) val = sets.val;
  }
  const valFraction = recorded?.valFraction ?? o.valFraction;
  let trainPhotos = await readGeoSource(data, '--data', log);
  let valPhotos: datasets.GeoRecord[] = [];
  if (val !== null) valPhotos = await readGeoSource(val, '--val-data', log);
  else ({ train: trainPhotos, val: valPhotos } = datasets.holdOut(trainPhotos, valFraction, seed));
  if (trainPhotos.length === 0) throw new UsageError(`--data ${data.csv}: no training photos left after holding out ${valPhotos.length} for validation. Lower --val-fraction or give --val-data.`);

  // The cells: the run's own copy, a given file, or a partition of the training photos.
  // With a hierarchy, `partition` is its finest partition: the classes the photos are labelled with.
  const partitionFile = path.join(out, PARTITION_JSON);
  let cells: GeoCells;
  let thresholds: { tMax: Thresholds | null; tMin: Thresholds | null; maxLevel: number | null };
  if (recorded !== null) {
    cells = readCellsFile(partitionFile, '--resume');
    thresholds = { tMax: recorded.tMax, tMin: recorded.tMin, maxLevel: recorded.maxLevel };
  } else if (o.partition !== undefined) {
    cells = readCellsFile(path.resolve(o.partition), '--partition');
    thresholds = { tMax: null, tMin: null, maxLevel: null };
  } else {
    const options = partitionSettings(trainPhotos.length, o.tMax, o.tMin, o.maxLevel);
    cells = buildCells(trainPhotos, options);
    thresholds = recordedThresholds(options);
    log(`partitioned the ${trainPhotos.length} training photos into ${describeCells(cells)} (t-max ${String(thresholds.tMax)}, t-min ${String(thresholds.tMin)}, max level ${o.maxLevel})`);
  }
  const { partition, hierarchy } = cells;
  if (hierarchy !== null && recorded === null && o.partition !== undefined) log(`--partition ${o.partition}: ${describeCells(cells)}`);
  if (partition.cells.length < 2) throw new UsageError(`the partition has ${partition.cells.length} cell; a classifier needs at least 2. Lower --t-max (or --t-min), or give more photos.`);
  const training = labelledRecords(trainPhotos, partition, 'drop');
  if (training.dropped > 0) log(`${training.dropped} of ${trainPhotos.length} training photos lie in no cell of the partition (discarded cells hold fewer than t-min photos) and are left out of training`);
  if (training.records.length === 0) throw new UsageError(`--data ${data.csv}: none of the training photos lies in a cell of the partition.`);
  const validation = labelledRecords(valPhotos, partition, 'nearest');

  // The settings, recorded before the first step.
  const batch = recorded?.batch ?? o.batch;
  const stepsPerEpoch = epochSteps(training.records.length, batch, true);
  let settings: GeoRunSettings;
  if (recorded === null) {
    settings = {
      arch: o.arch, alpha: o.alpha, inputSize: o.inputSize, data, generatedData: generated, val, valFraction, seed,
      partitionFrom: o.partition === undefined ? null : path.resolve(o.partition), ...thresholds, locate: o.locate, topK: o.topK,
      optimizer: o.optimizer, batch, accumulate: o.accumulate, lr: o.lr ?? DEFAULT_LEARNING_RATES[o.optimizer], warmupSteps: o.warmupSteps, weightDecay: o.weightDecay,
      labelSmoothing: o.labelSmoothing, augment: o.augment, valEvery: o.valEvery,
      ...runLengthFromFlags(o, DEFAULT_EPOCHS), cosineExtensions: [],
      init: o.init === undefined ? null : o.init === 'face-api' ? o.init : path.resolve(o.init),
    };
    writeJsonFile(partitionFile, cellsJson(cells));
  } else {
    checkResumeFlags(recorded, o, command, out);
    settings = { ...recorded, epochs: o.epochs ?? (o.steps !== undefined ? null : recorded.epochs), steps: o.steps ?? (o.epochs !== undefined ? null : recorded.steps), accumulate: o.accumulate };
    const lengthened = await lengthenedCosineOnResume({ plan: recorded.cosineExtensions, before: scheduledSteps(recorded, stepsPerEpoch), after: scheduledSteps(settings, stepsPerEpoch), lastStep: () => store.stepOf('last'), log });
    if (lengthened !== null) settings = { ...settings, cosineExtensions: lengthened };
  }
  await writeRunRecord(out, GEO_APP, settings);

  let skippedImages = 0;
  const onSkip = (file: string, error: Error) => {
    skippedImages += 1;
    log(`warning: skipped ${file}: ${error.message}`);
  };
  const classes = cellLabels(partition);
  const concurrency = Math.max(2, settings.batch);
  const trainData = datasets.classificationData(training.records, classes, { inputSize: settings.inputSize, augment: settings.augment ? {} : false, prefetch: 2, concurrency, onSkip });
  const valData = validation.records.length > 0 ? datasets.classificationData(validation.records, classes, { inputSize: settings.inputSize, augment: false, prefetch: 2, concurrency, onSkip }) : undefined;
  if (valData === undefined) log('note: no validation photos (give --val-data or --val-fraction > 0); the distances will not be measured');
  const truth = new Map(valPhotos.map((p) => [p.path, { lat: p.lat, lon: p.lon }]));

  const description: GeoModelDescription = { arch: settings.arch, alpha: settings.alpha, inputSize: settings.inputSize, locate: settings.locate, topK: settings.topK };
  const model = buildGeoModel(description, cells, settings.seed);
  try {
    let init: InitReport | null = null;
    if (settings.init !== null && recorded === null) {
      try {
        init = await initFromModel(model, settings.init);
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
      }
      if (init.copied === 0) throw new UsageError(`--init ${settings.init}: none of its layers fits this ${settings.arch} α=${settings.alpha} model. Use the --arch and --alpha of the model you start from.`);
      log(`--init: copied ${init.copied} of ${init.layers} layers with weights from ${settings.init}`);
    }
    const geoOptions = { truth, mode: settings.locate, topK: settings.topK, labelSmoothing: settings.labelSmoothing };
    const task = hierarchy === null ? geoTask({ partition, ...geoOptions }) : geoHierarchyTask({ hierarchy, ...geoOptions });
    const plan = rangeErrorsAsUsage(() => planTrainingEngine({ engine: o.engine, model, batchSize: settings.batch, backend: runtime.backend, accumulate: settings.accumulate, workers: o.workers }), `--batch ${settings.batch}, --input-size ${settings.inputSize}${o.workers === undefined ? '' : `, --workers ${o.workers}`}`);
    log(`training engine: ${plan.runsOn}${plan.engine === 'onnx' && hierarchy !== null ? `; the loss (the sum of the ${hierarchy.partitions.length} heads' cross-entropies) runs in tfjs between the compiled forward and backward halves` : ''}`);
    if (plan.message !== null) log(plan.message);
    const stop = stopOnSignals(log);
    const metricsFile = path.join(out, 'metrics.jsonl');
    if (recorded === null) fs.rmSync(metricsFile, { force: true });
    const budgetMinutes = minutesToPlan(settings, o.maxMinutes);
    const planned = async (s: GeoRunSettings) => {
      settings = s;
      await writeRunRecord(out, GEO_APP, s);
      return scheduleOf(s, stepsPerEpoch);
    };
    let result: FitResult;
    try {
      result = await fit(model, trainData, {
        task,
        runner: plan.engine === 'onnx'
          ? onnxTrainingRunner({ loss: hierarchy === null ? classificationLoss({ labelSmoothing: settings.labelSmoothing }) : 'split' })
          : plan.workers > 1 ? dataParallel({ workers: plan.workers, backend: runtime.backend }) : localRunner(),
        epochs: settings.epochs ?? undefined,
        steps: settings.steps ?? undefined,
        maxMinutes: o.maxMinutes ?? budgetMinutes ?? undefined,
        plan: budgetMinutes === null ? undefined : cosinePlanner({ minutes: budgetMinutes, settings, stepsPerEpoch, validationImages: validation.records.length, log, planned }),
        batchSize: settings.batch,
        dropRemainder: true,
        accumulate: plan.accumulate,
        seed: settings.seed,
        schedule: scheduleOf(settings, stepsPerEpoch),
        optimizer: optimizerOf(settings),
        weightDecay: settings.weightDecay,
        validation: valData,
        validateEvery: settings.valEvery,
        checkpoints: { store, everyMinutes: o.checkpointMinutes },
        resume: recorded !== null,
        signal: stop.signal,
        callbacks: [metricsLogCallback((line) => fs.appendFileSync(metricsFile, line)), progressCallback({ format: formatGeoMetric })],
      });
    } catch (error) {
      if (error instanceof TrainingDivergedError) throw new Error(`${error.message} Checkpoints are in ${store.dir}.`);
      if (error instanceof RangeError && /gave no batches/.test(error.message)) {
        throw new Error(`--data ${data.csv}: none of the ${training.records.length} training photos could be read (${skippedImages} skipped, see the warnings above).`);
      }
      throw error;
    } finally {
      stop.dispose();
    }
    const modelDir = path.join(out, 'model');
    await saveGeoModel(modelDir, model, cells, description);
    const details = (result.val?.details as GeoValidation | undefined) ?? null;
    const maps = await writeRunMaps(out, partition, details, log);
    report(o, { result, settings, partition, hierarchy, details, trainImages: training.records.length, droppedImages: training.dropped, valImages: validation.records.length, skippedImages, init, engine: plan.engine, backend: plan.engine === 'onnx' ? 'onnxruntime' : runtime.backend, workers: plan.workers, out, modelDir, metricsFile, maps });
    const signal = stop.received();
    if (signal !== null) process.exitCode = signal === 'SIGINT' ? 130 : 143;
  } finally {
    model.dispose();
  }
}

interface Outcome {
  result: FitResult;
  settings: GeoRunSettings;
  partition: S2Partition;
  hierarchy: S2Hierarchy | null;
  details: GeoValidation | null;
  trainImages: number;
  droppedImages: number;
  valImages: number;
  skippedImages: number;
  init: InitReport | null;
  engine: TrainingEngine;
  backend: string;
  workers: number;
  out: string;
  modelDir: string;
  metricsFile: string;
  maps: string[];
}

function report(o: TrainFlags, r: Outcome): void {
  const { result, settings, details } = r;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      ...(details === null ? { withinKm: null, medianKm: null, baseline: null } : geoJsonScores(details)),
      top1: result.val?.metrics.top1 ?? null,
      cells: r.partition.cells.length,
      ...(r.hierarchy === null ? {} : { cellsPerPartition: r.hierarchy.partitions.map((p) => p.cells.length) }),
      steps: result.steps, epochs: result.epochs, stoppedBy: result.stoppedBy, resumedFrom: result.resumedFrom, seconds: result.seconds, timing: result.timing, best: result.best,
      arch: settings.arch, alpha: settings.alpha, inputSize: settings.inputSize, locate: settings.locate, topK: settings.topK,
      trainImages: r.trainImages, droppedImages: r.droppedImages, valImages: r.valImages, skippedImages: r.skippedImages, init: r.init, engine: r.engine, backend: r.backend, workers: r.workers, seed: settings.seed,
      out: r.out, modelDir: r.modelDir, metrics: r.metricsFile, maps: r.maps,
    })}\n`);
    return;
  }
  const lines = [
    `trained MobileNet ${settings.arch} α=${settings.alpha} ${settings.inputSize}px over ${r.hierarchy === null ? `${r.partition.cells.length} S2 cells` : `${describeCells({ partition: r.partition, hierarchy: r.hierarchy })}, one head each,`} on ${r.trainImages} photos: ` +
      `${result.steps} steps, ${result.epochs} epoch${result.epochs === 1 ? '' : 's'} complete, in ${formatDuration(result.seconds)}` +
      `${result.resumedFrom === null ? '' : ` (resumed at step ${result.resumedFrom})`} on ${r.workers > 1 ? `${r.backend} × ${r.workers}` : r.backend}; stopped by ${result.stoppedBy}; ${formatDataWait(result.timing)}`,
  ];
  if (details === null) lines.push('validation: none');
  else lines.push(`validation (${r.valImages} photos; cell top-1 ${(100 * (result.val?.metrics.top1 ?? NaN)).toFixed(1)}%):`, formatScaleTable(details));
  lines.push(`model: ${r.modelDir} (model.json, weights.bin, partition.json, geo.json)`, `run folder: ${r.out} (run.json, partition.json, checkpoints/, metrics.jsonl${r.maps.length > 0 ? `, ${r.maps.map((m) => path.basename(m)).join(', ')}` : ''})`);
  if (result.stoppedBy !== 'epochs' && result.stoppedBy !== 'steps') lines.push(`continue with: mobilenet-geo train --resume ${r.out}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
