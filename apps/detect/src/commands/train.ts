/** `mobilenet-detect train`: train SSD / SSDLite on MobileNet, on COCO or VOC data or the procedural shapes set. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  FileCheckpointStore, MIN_BATCH_NORM_BATCH, type TrainingEngine, dataParallel, defaultTrainingEngine, defaultWorkerCount, initFromModel, onnxTrainingRunner, planTrainingEngine, setup,
  ssdStepLoss, withRunFolder, writeRunRecord, type InitReport,
} from '@mobilenets/runtime';
import { type RecordedSetting, UsageError, addRunOptions, checkRecordedFlags, checkSeparateFolders, lengthenedCosineOnResume, cosinePlanner, minutesToPlan, runLengthFromFlags, scheduledSteps, rangeErrorsAsUsage, formatDataWait, formatDuration, parseChoiceOption, parseIntegerOption, parseNumberOption, progressCallback, stopOnSignals } from '@mobilenets/cli-kit';
import { type AnchorCoverage, anchorCoverage, convertBoxes, formatAnchorCoverage } from '@mobilenets/box-math';
import { DETECTOR_JSON, SSD_VALIDATION_METRICS, ssdTask } from '@mobilenets/detection-ssd';
import { type FasterRcnnTaskOptions, fasterRcnnAnchorsCxcywh, fasterRcnnTask } from '@mobilenets/detection-faster-rcnn';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type FitResult, type Schedule, type StepRunnerFactory, TrainingDivergedError, cosineFromPlan, epochSteps, fit, linearWarmup, localRunner, metricsLogCallback, paperOptimizer,
} from '@mobilenets/training';
import * as datasets from '@mobilenets/datasets';
import { fasterRcnnOnnxRunner } from '../faster-rcnn-onnx';
import { describeSource, generateDefaultDetectionData, readSource, sourceFolders, sourceFromFlags } from '../data';
import { ANCHOR_LAYOUTS, type AnchorLayout, type DetectorKind, FASTER_RCNN_JSON, anchorsOf, buildDetector, buildFasterRcnn, saveDetector, saveFasterRcnn, type DetectorDescription } from '../detector-io';
import { DETECT_APP, type DetectRunSettings, readDetectRun } from '../run-settings';

interface TrainFlags {
  model: DetectorKind;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  anchors: AnchorLayout;
  /** Undefined unless given: commander sets a plain boolean flag only when it is on the command line. */
  fpn?: boolean;
  data?: string;
  images?: string;
  voc?: string;
  vocSplit?: string;
  valData?: string;
  valImages?: string;
  valVoc?: string;
  valFraction: number;
  epochs?: number;
  steps?: number;
  maxMinutes?: number;
  batch: number;
  accumulate: number;
  workers?: number;
  engine?: TrainingEngine;
  optimizer: 'momentum' | 'rmsprop' | 'adam';
  lr?: number;
  warmupSteps: number;
  weightDecay: number;
  scoreFunction: 'softmax' | 'sigmoid';
  augment: boolean;
  cropArea: number;
  zoomOut: number;
  valEvery: number;
  checkpointMinutes: number;
  out: string;
  resume?: string | boolean;
  init?: string;
  seed: number;
  json?: boolean;
}

/**
 * `--crop-area`'s default: crops down to 30 % of the image. The SSD paper's 10 % learnt more slowly per
 * epoch on the procedural set (held-out mAP 0.434 against 0.505 after 16 epochs; README, detection section).
 */
export const DEFAULT_CROP_AREA = 0.3;

/**
 * `--zoom-out`'s default: views shrunk by up to 2 on half the training images. On the procedural set
 * (Adam, 30 minutes) it raised held-out APsmall from 0.249 to 0.317 at epoch 20 and mAP at epoch 35 from
 * 0.709 to 0.736 (README, detection section).
 */
export const DEFAULT_ZOOM_OUT = 2;

/** `--batch`'s default for a Faster R-CNN (16 for SSD): at 16 on one wasm heap its crops overran the heap (V2 α 0.5, 320 px). */
export const FASTER_RCNN_DEFAULT_BATCH = 8;

/** The models' names in reports. */
const MODEL_NAMES: Readonly<Record<DetectorKind, string>> = { ssd: 'SSD', ssdlite: 'SSDLite', 'faster-rcnn': 'Faster R-CNN' };

/** Epochs of a run given neither --epochs, --steps nor --max-minutes. */
const DEFAULT_EPOCHS = 30;

/**
 * Learning rates that trained the procedural set well from scratch at batch 16 (see the README's
 * detection section). Adam, the default optimizer: 0.003 (held-out mAP 0.487 after 12 of 16 epochs,
 * against 0.210 at 0.001); in 30 minutes it reached mAP 0.726 where momentum SGD at 0.025 reached 0.673.
 */
export const DEFAULT_LEARNING_RATES = { momentum: 0.025, rmsprop: 0.004, adam: 0.003 } as const;

/** Settings --resume takes from the run folder; a flag that names another value is an error. */
const RECORDED: RecordedSetting<TrainFlags, DetectRunSettings>[] = [
  { flag: '--model', key: 'model', setting: 'model' },
  { flag: '--arch', key: 'arch', setting: 'arch' },
  { flag: '--alpha', key: 'alpha', setting: 'alpha' },
  { flag: '--input-size', key: 'inputSize', setting: 'inputSize' },
  { flag: '--anchors', key: 'anchors', setting: 'anchors' },
  { flag: '--fpn', key: 'fpn', setting: 'fpn' },
  { flag: '--val-fraction', key: 'valFraction', setting: 'valFraction' },
  { flag: '--seed', key: 'seed', setting: 'seed' },
  { flag: '--batch', key: 'batch', setting: 'batch' },
  { flag: '--optimizer', key: 'optimizer', setting: 'optimizer' },
  { flag: '--lr', key: 'lr', setting: 'lr' },
  { flag: '--warmup-steps', key: 'warmupSteps', setting: 'warmupSteps' },
  { flag: '--weight-decay', key: 'weightDecay', setting: 'weightDecay' },
  { flag: '--score-function', key: 'scoreFunction', setting: 'scoreFunction' },
  { flag: '--augment', key: 'augment', setting: 'augment' },
  { flag: '--crop-area', key: 'cropArea', setting: 'cropArea' },
  { flag: '--zoom-out', key: 'zoomOut', setting: 'zoomOut' },
  { flag: '--val-every', key: 'valEvery', setting: 'valEvery' },
];

export function trainCommand(): Command {
  const command = new Command('train')
    .description('train an SSD or SSDLite detector on a MobileNet backbone (from scratch, or from a backbone with --init)')
    .addOption(new Option('--model <head>', "'ssdlite' (depthwise-separable extra layers and predictors, MobileNetV2 paper), 'ssd' (MobileNet paper, Table 13) or 'faster-rcnn' (two stages: RPN on the stride-16 map, the backbone's last layers on 14×14 crops of 300 proposals)").argParser(parseChoiceOption('--model', ['ssd', 'ssdlite', 'faster-rcnn'] as const)).default('ssdlite'))
    .addOption(new Option('--arch <arch>', 'MobileNet version of the backbone (v2: the MobileNetV2 paper\'s SSDLite backbone)').argParser(parseChoiceOption('--arch', ['v1', 'v2'] as const)).default('v2'))
    .addOption(new Option('--alpha <α>', 'width multiplier α of the backbone').argParser(parseNumberOption('--alpha')).default(0.5))
    .addOption(new Option('--input-size <pixels>', 'network input side, a multiple of 32 (images are resized to it, aspect ratio not kept, as SSD does)').argParser(parseIntegerOption('--input-size', 64)).default(320))
    .addOption(new Option('--anchors <layout>', "'tf' (TF's SSD anchor generator: 3 anchors a cell on the finest feature map, 6 on the others), 'torchvision' (6 on every map, as torchvision's SSDLite320), 'dense' (torchvision's 6 and TF's small square: 7 on the finest map) or 'fine' (dense, plus a stride-8 feature map with 3 small squares for objects of 12–32 px at 320); the share of training boxes each layout reaches is printed at the start").argParser(parseChoiceOption('--anchors', Object.keys(ANCHOR_LAYOUTS) as AnchorLayout[])).default('fine'))
    .option('--fpn', "FPN's top-down pathway (FPN-lite): each tapped backbone map also gets the deeper map above it (1×1 conv, upsampled, added), so the fine maps that find small objects see deeper features")
    .option('--data <file.json>', 'COCO instances JSON of the training images (default: generate the procedural shapes set into <out>/data)')
    .option('--images <dir>', "folder --data's file_names are relative to (default: the JSON file's folder)")
    .option('--voc <dir>', 'a Pascal VOC folder (Annotations/, JPEGImages/) instead of --data')
    .option('--voc-split <name>', 'with --voc: an image set of ImageSets/Main (e.g. trainval)')
    .option('--val-data <file.json>', 'COCO JSON of validation images (default: hold out --val-fraction of the training images)')
    .option('--val-images <dir>', "folder --val-data's file_names are relative to")
    .option('--val-voc <dir>', 'a Pascal VOC folder of validation images')
    .addOption(new Option('--val-fraction <f>', 'share of the training images held out for validation when no validation set is given').argParser(parseNumberOption('--val-fraction')).default(0.2))
    .addOption(new Option('--optimizer <name>', "'adam' (learnt the procedural set fastest from scratch), 'momentum' (SGD, momentum 0.9: torchvision's SSDLite recipe) or 'rmsprop' (the papers' RMSprop: TF's ssd_mobilenet_v1 recipe)").argParser(parseChoiceOption('--optimizer', ['momentum', 'rmsprop', 'adam'] as const)).default('adam'))
    .addOption(new Option('--lr <x>', `initial learning rate, decayed by a cosine to 0 at the last step (default: adam ${DEFAULT_LEARNING_RATES.adam}, momentum ${DEFAULT_LEARNING_RATES.momentum}, rmsprop ${DEFAULT_LEARNING_RATES.rmsprop})`).argParser(parseNumberOption('--lr')))
    .addOption(new Option('--warmup-steps <n>', 'linear learning-rate warm-up steps').argParser(parseIntegerOption('--warmup-steps', 0)).default(50))
    .addOption(new Option('--weight-decay <x>', 'L2 on conv kernels').argParser(parseNumberOption('--weight-decay')).default(4e-5))
    .addOption(new Option('--score-function <fn>', "class scores: 'softmax' over background and classes (torchvision, the SSD paper) or 'sigmoid' per class (TF's configs)").argParser(parseChoiceOption('--score-function', ['softmax', 'sigmoid'] as const)).default('softmax'))
    .option('--no-augment', 'no SSD random crop, zoom-out or horizontal flip')
    .addOption(new Option('--crop-area <f>', "smallest share of the image SSD's random crop keeps, in (0, 1] (the SSD paper: 0.1); 1: no crop, the horizontal flip only").argParser(parseNumberOption('--crop-area')).default(DEFAULT_CROP_AREA))
    .addOption(new Option('--zoom-out <s>', "SSD's zoom-out (the SSD paper's expansion, for small objects): half the training views are shrunk by a factor up to this on each side and placed at random on a mid-grey canvas; 1: none").argParser(parseNumberOption('--zoom-out')).default(DEFAULT_ZOOM_OUT))
    .addOption(new Option('--val-every <n>', 'validate (COCO mAP) every n epochs and at the end').argParser(parseIntegerOption('--val-every', 1)).default(1))
    .option('--init <source>', "start the backbone from trained weights: a model folder (a classifier or detector from these apps; layers matched by name and shape), or 'face-api' (MobileNetV1 α = 1 from face-api's face detector)");
  return addRunOptions(command, {
    defaultEpochs: DEFAULT_EPOCHS,
    defaultBatch: 16,
    workers: { byDefault: defaultWorkerCount(), minShare: MIN_BATCH_NORM_BATCH },
    out: { byDefault: 'mobilenet-detect-out', holds: 'run.json, model/, checkpoints/, metrics.jsonl' },
    seeds: 'the weights, the validation split, data order and augmentation',
    plansToMaxMinutes: true,
  })
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  mobilenet-detect train --epochs 2 --out runs/shapes                    # SSDLite V2 α 0.5 at 320 on the procedural set\n' +
        '  mobilenet-detect train --model ssd --data train.json --val-data val.json --out runs/coco\n' +
        '  mobilenet-detect train --resume runs/shapes --epochs 4                 # continue, two epochs more',
    )
    .action(async (flags: TrainFlags, command: Command) => {
      await train(flags, command);
    });
}

const given = (command: Command, key: string) => command.getOptionValueSource(key) === 'cli';

function checkFlags(o: TrainFlags): void {
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new UsageError(`--val-fraction must be in [0, 1). Received ${o.valFraction}.`);
  if (o.maxMinutes !== undefined && !(o.maxMinutes > 0)) throw new UsageError(`--max-minutes must be > 0. Received ${o.maxMinutes}.`);
  if (o.lr !== undefined && !(o.lr > 0)) throw new UsageError(`--lr must be > 0. Received ${o.lr}.`);
  if (!(o.weightDecay >= 0)) throw new UsageError(`--weight-decay must be ≥ 0. Received ${o.weightDecay}.`);
  if (!(o.checkpointMinutes >= 0)) throw new UsageError(`--checkpoint-minutes must be ≥ 0. Received ${o.checkpointMinutes}.`);
  if (o.accumulate > o.batch) throw new UsageError(`--accumulate (${o.accumulate}) cannot exceed --batch (${o.batch}): each micro-batch needs at least one image.`);
  if (!(o.cropArea > 0 && o.cropArea <= 1)) throw new UsageError(`--crop-area must be in (0, 1]. Received ${o.cropArea}.`);
  if (!(o.zoomOut >= 1 && o.zoomOut <= 4)) throw new UsageError(`--zoom-out must be in [1, 4]. Received ${o.zoomOut}.`);
  if (o.inputSize % 32 !== 0) throw new UsageError(`--input-size must be a multiple of 32 (e.g. 320, 300 is not). Received ${o.inputSize}.`);
}

/**
 * The training augmentation a run's settings name: SSD's random crop down to `cropArea` of the image
 * (none at 1), its zoom-out by up to `zoomOut` (none at 1) and the horizontal flip, or nothing.
 */
function augmentationOf(s: DetectRunSettings): boolean | datasets.DetectionAugmentOptions {
  if (!s.augment) return false;
  return { crop: s.cropArea >= 1 ? false : { area: [s.cropArea, 1] }, zoomOut: s.zoomOut > 1 ? { maxScale: s.zoomOut } : false, flip: true };
}

/** The run's learning rate: warm-up, then a cosine to 0 at the last planned step (lengthened on --resume from the current rate). */
function scheduleOf(s: DetectRunSettings, stepsPerEpoch: number): Schedule {
  const totalSteps = scheduledSteps(s, stepsPerEpoch);
  const base = cosineFromPlan(s.lr, s.cosineExtensions, totalSteps);
  return s.warmupSteps > 0 ? linearWarmup(base, { steps: s.warmupSteps }) : base;
}

/** Images the anchor-coverage line looks at, at most (evenly spread over the training set). */
const COVERAGE_IMAGES = 5000;

/** How well the anchors fit the training boxes (not ignored ones), at SSD's matching IoU 0.5. */
function trainingAnchorCoverage(records: readonly datasets.DetectionRecord[], anchorsCxcywh: Float64Array): AnchorCoverage {
  const every = Math.max(1, Math.ceil(records.length / COVERAGE_IMAGES));
  const images = records.filter((_, i) => i % every === 0).map((r) => {
    const kept: number[] = [];
    r.labels.forEach((_, g) => {
      if (!r.ignore[g]) kept.push(r.boxesXyxy[4 * g] / r.width, r.boxesXyxy[4 * g + 1] / r.height, r.boxesXyxy[4 * g + 2] / r.width, r.boxesXyxy[4 * g + 3] / r.height);
    });
    return { boxesXyxy: kept, width: r.width, height: r.height };
  });
  return anchorCoverage(images, convertBoxes(anchorsCxcywh, 'cxcywh', 'xyxy'));
}

function optimizerOf(s: DetectRunSettings): () => tf.Optimizer {
  if (s.optimizer === 'rmsprop') return () => paperOptimizer(s.lr);
  if (s.optimizer === 'adam') return () => tf.train.adam(s.lr);
  return () => tf.train.momentum(s.lr, 0.9);
}

async function train(o: TrainFlags, command: Command): Promise<void> {
  checkFlags(o);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const resuming = o.resume !== undefined && o.resume !== false;
  const out = path.resolve(typeof o.resume === 'string' ? o.resume : o.out);
  if (typeof o.resume === 'string' && given(command, 'out') && path.resolve(o.out) !== out) {
    throw new UsageError(`--resume ${o.resume} and --out ${o.out} name different folders; give the run folder once (--resume <run-dir>).`);
  }
  const trainSource = sourceFromFlags(o);
  const valSource = sourceFromFlags({ data: o.valData, images: o.valImages, voc: o.valVoc }, 'val-');
  if (resuming && (trainSource !== null || valSource !== null)) throw new UsageError('--resume continues a run on its recorded data: leave out --data, --voc and --val-*.');
  for (const [source, flag] of [[trainSource, '--data'], [valSource, '--val-data']] as const) {
    if (source !== null) for (const folder of sourceFolders(source)) checkSeparateFolders(out, folder, flag);
  }
  await withRunFolder(out, DETECT_APP, { resuming, readSettings: readDetectRun, stateError: (message) => new UsageError(message) }, (store, recorded) =>
    trainInFolder(o, command, out, store, recorded, trainSource, valSource, log));
}

function checkResumeFlags(recorded: DetectRunSettings, o: TrainFlags, command: Command, runDir: string): void {
  checkRecordedFlags(recorded, o, command, runDir, RECORDED);
  if (given(command, 'init')) throw new UsageError('--init only starts a new run; --resume continues from the run\'s own checkpoint.');
}

async function trainInFolder(
  o: TrainFlags, command: Command, out: string, store: FileCheckpointStore, recorded: DetectRunSettings | null,
  trainSource: ReturnType<typeof sourceFromFlags>, valSource: ReturnType<typeof sourceFromFlags>, log: (line: string) => void,
): Promise<void> {
  const runtime = await setup({ log });
  // The data: recorded, named by flags, or generated into the run folder.
  let data = recorded?.data ?? trainSource;
  let val = recorded === null ? valSource : recorded.val;
  const generated = recorded?.generatedData ?? data === null;
  if (data === null || (generated && !fs.existsSync(path.join(out, 'data', 'train', 'annotations.json')))) {
    const sets = await generateDefaultDetectionData(path.join(out, 'data'), recorded?.seed ?? o.seed, log);
    data = sets.train;
    if (recorded === null) val = sets.val;
  }
  const valFraction = recorded?.valFraction ?? o.valFraction;
  const seed = recorded?.seed ?? o.seed;
  const trainSet = await readSource(data, '--data', log);
  let trainRecords = trainSet.records;
  let valRecords: datasets.DetectionRecord[] = [];
  if (val !== null) {
    const valSet = await readSource(val, '--val-data', log);
    const unknown = valSet.classes.filter((c) => !trainSet.classes.includes(c));
    if (unknown.length > 0) throw new UsageError(`--val-data ${describeSource(val)}: classes ${unknown.join(', ')} are not classes of the training data (${trainSet.classes.join(', ')}).`);
    valRecords = valSet.records.map((r) => ({ ...r, labels: Int32Array.from(r.labels, (l) => trainSet.classes.indexOf(valSet.classes[l])) }));
  } else {
    ({ train: trainRecords, val: valRecords } = datasets.holdOut(trainSet.records, valFraction, seed));
  }
  if (trainRecords.length === 0) throw new UsageError(`--data ${describeSource(data)}: no training images left after holding out ${valRecords.length} for validation. Lower --val-fraction or give --val-data.`);
  const classes = trainSet.classes;
  if (recorded !== null && recorded.classes.join('\n') !== classes.join('\n')) {
    throw new UsageError(`--resume: the classes of ${describeSource(data)} (${classes.join(', ')}) are not the ones the run was trained on (${recorded.classes.join(', ')}).`);
  }

  // The settings, recorded before the first step.
  // A Faster R-CNN step holds 64 crops an image besides the images: 8 images (4 a worker) by default.
  const batch = recorded?.batch ?? (o.model === 'faster-rcnn' && !given(command, 'batch') ? FASTER_RCNN_DEFAULT_BATCH : o.batch);
  // Every step a full batch: the onnxruntime engine would compile (and keep the memory of) a second step for a short one.
  const stepsPerEpoch = epochSteps(trainRecords.length, batch, true);
  let settings: DetectRunSettings;
  if (recorded === null) {
    settings = {
      model: o.model, arch: o.arch, alpha: o.alpha, inputSize: o.inputSize, anchors: o.anchors, fpn: o.fpn ?? false, data, generatedData: generated, val, valFraction, seed, classes,
      scoreFunction: o.scoreFunction, optimizer: o.optimizer, batch, accumulate: o.accumulate, lr: o.lr ?? DEFAULT_LEARNING_RATES[o.optimizer], warmupSteps: o.warmupSteps,
      weightDecay: o.weightDecay, augment: o.augment, cropArea: o.cropArea, zoomOut: o.zoomOut, valEvery: o.valEvery,
      ...runLengthFromFlags(o, DEFAULT_EPOCHS), cosineExtensions: [],
      init: o.init === undefined ? null : o.init === 'face-api' ? o.init : path.resolve(o.init),
    };
  } else {
    checkResumeFlags(recorded, o, command, out);
    settings = { ...recorded, epochs: o.epochs ?? (o.steps !== undefined ? null : recorded.epochs), steps: o.steps ?? (o.epochs !== undefined ? null : recorded.steps), accumulate: o.accumulate };
    const lengthened = await lengthenedCosineOnResume({ plan: recorded.cosineExtensions, before: scheduledSteps(recorded, stepsPerEpoch), after: scheduledSteps(settings, stepsPerEpoch), lastStep: () => store.stepOf('last'), log });
    if (lengthened !== null) settings = { ...settings, cosineExtensions: lengthened };
  }
  await writeRunRecord(out, DETECT_APP, settings);

  let skippedImages = 0;
  const onSkip = (file: string, error: Error) => {
    skippedImages += 1;
    log(`warning: skipped ${file}: ${error.message}`);
  };
  // A whole batch of decodes in flight: sharp decodes the next batch on libuv's threads while a
  // training step holds the main thread (onnxruntime's run is synchronous), instead of two at a time.
  const concurrency = Math.max(2, settings.batch);
  const trainData = datasets.detectionData(trainRecords, classes, { inputSize: settings.inputSize, augment: augmentationOf(settings), prefetch: 2, concurrency, onSkip });
  const valData = valRecords.length > 0 ? datasets.detectionData(valRecords, classes, { inputSize: settings.inputSize, augment: false, prefetch: 2, concurrency, onSkip }) : undefined;
  if (valData === undefined) log('note: no validation images (give --val-data or --val-fraction > 0); mAP will not be measured');

  const description: DetectorDescription = { model: settings.model, arch: settings.arch, alpha: settings.alpha, inputSize: settings.inputSize, anchors: settings.anchors, fpn: settings.fpn, classes, scoreFunction: settings.scoreFunction };
  const detector = runDetector(description, settings, o.engine);
  try {
    let init: InitReport | null = null;
    if (settings.init !== null && recorded === null) {
      try {
        init = await initFromModel(detector.model, settings.init);
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
      }
      if (init.copied === 0) throw new UsageError(`--init ${settings.init}: none of its layers fits this ${settings.arch} α=${settings.alpha} detector. Use the --arch and --alpha of the model you start from.`);
      log(`--init: copied ${init.copied} of ${init.layers} layers with weights from ${settings.init}`);
    }
    const coverage = trainingAnchorCoverage(trainRecords, detector.anchorsCxcywh);
    log(`anchors: ${detector.anchorLayout}, ${detector.anchors} an image; training set: ${formatAnchorCoverage(coverage)}`);
    const plan = rangeErrorsAsUsage(() => planTrainingEngine({ engine: detector.engine, model: detector.planModel, batchSize: settings.batch, backend: runtime.backend, accumulate: settings.accumulate, workers: o.workers ?? detector.workers }), `--batch ${settings.batch}, --input-size ${settings.inputSize}${o.workers === undefined ? '' : `, --workers ${o.workers}`}`);
    log(`training engine: ${plan.runsOn}`);
    if (plan.message !== null) log(plan.message);
    const stop = stopOnSignals(log);
    const metricsFile = path.join(out, 'metrics.jsonl');
    if (recorded === null) fs.rmSync(metricsFile, { force: true });
    const budgetMinutes = minutesToPlan(settings, o.maxMinutes);
    const planned = async (s: DetectRunSettings) => {
      settings = s;
      await writeRunRecord(out, DETECT_APP, s);
      return scheduleOf(s, stepsPerEpoch);
    };
    let result: FitResult;
    try {
      result = await fit(detector.model, trainData, {
        task: detector.task,
        runner: plan.engine === 'onnx'
          ? detector.onnxRunner()
          : plan.workers > 1 ? dataParallel({ workers: plan.workers, backend: runtime.backend }) : localRunner(),
        epochs: settings.epochs ?? undefined,
        steps: settings.steps ?? undefined,
        maxMinutes: o.maxMinutes ?? budgetMinutes ?? undefined,
        plan: budgetMinutes === null ? undefined : cosinePlanner({ minutes: budgetMinutes, settings, stepsPerEpoch, validationImages: valRecords.length, log, planned }),
        batchSize: settings.batch,
        dropRemainder: true,
        accumulate: plan.accumulate,
        seed: settings.seed,
        schedule: scheduleOf(settings, stepsPerEpoch),
        optimizer: optimizerOf(settings),
        weightDecay: settings.weightDecay,
        validation: valData,
        validateEvery: settings.valEvery,
        batchNormStatistics: false,
        checkpoints: { store, everyMinutes: o.checkpointMinutes },
        resume: recorded !== null,
        signal: stop.signal,
        callbacks: [metricsLogCallback((line) => fs.appendFileSync(metricsFile, line)), progressCallback()],
      });
    } catch (error) {
      if (error instanceof TrainingDivergedError) throw new Error(`${error.message} Checkpoints are in ${store.dir}.`);
      if (error instanceof RangeError && /gave no batches/.test(error.message)) {
        throw new Error(`--data ${describeSource(data)}: none of the ${trainRecords.length} training images could be read (${skippedImages} skipped, see the warnings above).`);
      }
      throw error;
    } finally {
      stop.dispose();
    }
    const modelDir = path.join(out, 'model');
    await detector.save(modelDir);
    report(o, { result, settings, anchors: detector.anchors, coverage, trainImages: trainRecords.length, valImages: valRecords.length, skippedImages, init, engine: plan.engine, backend: plan.engine === 'onnx' ? 'onnxruntime' : runtime.backend, workers: plan.workers, out, modelDir, metricsFile });
    const signal = stop.received();
    if (signal !== null) process.exitCode = signal === 'SIGINT' ? 130 : 143;
  } finally {
    detector.model.dispose();
  }
}

/** What training needs of the run's detector, whichever kind it is. */
interface RunDetector {
  model: tfl.LayersModel;
  /** The single-input model whose memory decides the batch plan (a Faster R-CNN's first stage). */
  planModel: tfl.LayersModel;
  task: ReturnType<typeof ssdTask> | ReturnType<typeof fasterRcnnTask>;
  /** Normalised cxcywh anchors (the coverage line) and their count an image. */
  anchorsCxcywh: Float64Array;
  anchors: number;
  anchorLayout: string;
  engine: TrainingEngine | undefined;
  /** Workers when --workers is not given; undefined: the memory plan decides. */
  workers: number | undefined;
  /** The step runner of the onnxruntime engine. */
  onnxRunner(): StepRunnerFactory;
  save(dir: string): Promise<void>;
}

function runDetector(description: DetectorDescription, settings: DetectRunSettings, engine: TrainingEngine | undefined): RunDetector {
  if (description.model === 'faster-rcnn') {
    const f = buildFasterRcnn(description, settings.seed);
    const anchorsCxcywh = fasterRcnnAnchorsCxcywh(f);
    const taskOptions: FasterRcnnTaskOptions = { anchorsCxcywh, classes: description.classes.length, cropSize: f.cropSize, seed: settings.seed };
    const onnx = (engine ?? defaultTrainingEngine()) === 'onnx';
    const [ih] = f.inputSize;
    const sizes = f.anchorConfig.scales.map((s) => Math.round(s * f.anchorConfig.height)).join(', ');
    return {
      model: f.model, planModel: f.firstStage, anchorsCxcywh, anchors: f.anchors, engine,
      // The plan measures the first stage only (one input); the crops' memory is not in it: on tfjs, every core, each with its share.
      workers: onnx ? undefined : defaultWorkerCount(),
      onnxRunner: () => fasterRcnnOnnxRunner({ task: taskOptions }),
      anchorLayout: `grid anchors of ${sizes} px at ${ih} px, aspect ratios ${f.anchorConfig.aspectRatios.join(', ')}, stride 16`,
      task: fasterRcnnTask(taskOptions),
      save: (dir) => saveFasterRcnn(dir, f, description),
    };
  }
  const ssd = buildDetector(description, settings.seed);
  const anchorsCxcywh = anchorsOf(ssd, description);
  return {
    model: ssd.model, planModel: ssd.model, anchorsCxcywh, anchors: ssd.anchors, engine, workers: undefined, anchorLayout: `'${settings.anchors}' layout`,
    onnxRunner: () => onnxTrainingRunner({ loss: ssdStepLoss({ scoreFunction: settings.scoreFunction }) }),
    task: ssdTask({ anchorsCxcywh, classes: description.classes.length, scoreFunction: settings.scoreFunction }),
    save: (dir) => saveDetector(dir, ssd, description),
  };
}

interface Outcome {
  result: FitResult;
  settings: DetectRunSettings;
  /** Anchors an image (a Faster R-CNN's first stage's). */
  anchors: number;
  coverage: AnchorCoverage;
  trainImages: number;
  valImages: number;
  skippedImages: number;
  init: InitReport | null;
  engine: TrainingEngine;
  backend: string;
  workers: number;
  out: string;
  modelDir: string;
  metricsFile: string;
}

function report(o: TrainFlags, r: Outcome): void {
  const { result, settings } = r;
  const val = result.val?.metrics ?? null;
  const stats = val === null ? null : SSD_VALIDATION_METRICS.map((name) => val[name]);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      mAP: val?.mAP ?? null, AP50: val?.AP50 ?? null, stats,
      perCategory: (result.val?.details as { perCategory?: unknown } | undefined)?.perCategory ?? null,
      steps: result.steps, epochs: result.epochs, stoppedBy: result.stoppedBy, resumedFrom: result.resumedFrom, seconds: result.seconds, timing: result.timing, best: result.best,
      model: settings.model, arch: settings.arch, alpha: settings.alpha, inputSize: settings.inputSize, anchors: r.anchors, anchorLayout: settings.anchors, fpn: settings.fpn, anchorCoverage: r.coverage, classes: settings.classes,
      trainImages: r.trainImages, valImages: r.valImages, skippedImages: r.skippedImages, init: r.init, engine: r.engine, backend: r.backend, workers: r.workers, seed: settings.seed,
      out: r.out, modelDir: r.modelDir, metrics: r.metricsFile,
    })}\n`);
    return;
  }
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
  const lines = [
    `trained ${MODEL_NAMES[settings.model]} on MobileNet ${settings.arch} α=${settings.alpha} ${settings.inputSize}px (${r.anchors} anchors) on ${r.trainImages} images of ${settings.classes.length} classes: ` +
      `${result.steps} steps, ${result.epochs} epoch${result.epochs === 1 ? '' : 's'} complete, in ${formatDuration(result.seconds)}` +
      `${result.resumedFrom === null ? '' : ` (resumed at step ${result.resumedFrom})`} on ${r.workers > 1 ? `${r.backend} × ${r.workers}` : r.backend}; stopped by ${result.stoppedBy}; ${formatDataWait(result.timing)}`,
    val === null ? 'validation: none' : `validation (${r.valImages} images): mAP ${f(val.mAP)}, AP50 ${f(val.AP50)}, AP75 ${f(val.AP75)}, AR100 ${f(val.AR100)}` +
      (result.best === null ? '' : `; best epoch ${result.best.epoch + 1}: mAP ${f(result.best.value)}`),
    `model: ${r.modelDir} (model.json, weights.bin, ${settings.model === 'faster-rcnn' ? FASTER_RCNN_JSON : DETECTOR_JSON})`,
    `run folder: ${r.out} (run.json, checkpoints/, metrics.jsonl)`,
  ];
  if (result.stoppedBy !== 'epochs' && result.stoppedBy !== 'steps') lines.push(`continue with: mobilenet-detect train --resume ${r.out}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
