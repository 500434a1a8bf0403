/** `mobilenet-classify train`: fit a MobileNet classifier on an ImageFolder (or the generated default data). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { FileCheckpointStore, MIN_BATCH_NORM_BATCH, type TrainingEngine, withRunFolder, classificationLoss, dataParallel, defaultWorkerCount, onnxTrainingRunner, planTrainingEngine, setup, writeRunRecord } from '@mobilenets/runtime';
import {
  ArchitectureOptions, UsageError, addArchitectureOptions, lengthenedCosineOnResume, addRunOptions, formatDataWait, formatDuration, parseIntegerOption, parseNumberOption, progressCallback, stopOnSignals, checkSeparateFolders, isInsideFolder, rangeErrorsAsUsage,
} from '@mobilenets/cli-kit';
import {
  FitResult, Schedule, TrainingDivergedError, classificationTask, cosineFromPlan, fit, linearWarmup, localRunner,
  metricsLogCallback, paperSchedule,
} from '@mobilenets/training';
import * as datasets from '@mobilenets/datasets';
import { learningCurveFromLog, learningCurveSvg, writePng } from '../charts';
import { InitReport, buildClassifier, freezeBackbone, initFromModel, saveClassifier } from '../model-io';
import { CLASSIFY_APP, ClassifyRunSettings, readClassifyRun } from '../run-settings';
import { GENERATED_DEFAULTS, generateDefaultData } from './generate';
import { maxPixelsOption, resolveData } from './shared';

interface TrainFlags extends ArchitectureOptions {
  data?: string;
  val?: string;
  valFraction: number;
  epochs?: number;
  steps?: number;
  maxMinutes?: number;
  batch: number;
  accumulate: number;
  workers?: number;
  lr: number;
  warmupSteps: number;
  schedule: 'paper' | 'cosine';
  weightDecay: number;
  labelSmoothing: number;
  ema?: number;
  augment: boolean;
  colorJitter?: boolean;
  checkpointEvery: number;
  checkpointMinutes: number;
  keep: number;
  maxPixels?: number;
  cacheMib: number;
  out: string;
  resume?: string | boolean;
  init?: string;
  freezeBackbone?: boolean;
  seed: number;
  json?: boolean;
  engine?: TrainingEngine;
}

/** Settings --resume takes from the run folder; a flag that names another value is an error. */
const RECORDED: { flag: string; key: keyof TrainFlags; setting: keyof ClassifyRunSettings }[] = [
  { flag: '--arch', key: 'arch', setting: 'arch' },
  { flag: '--alpha', key: 'alpha', setting: 'alpha' },
  { flag: '--input-size', key: 'inputSize', setting: 'inputSize' },
  { flag: '--dropout', key: 'dropout', setting: 'dropout' },
  { flag: '--bn-momentum', key: 'bnMomentum', setting: 'bnMomentum' },
  { flag: '--val-fraction', key: 'valFraction', setting: 'valFraction' },
  { flag: '--seed', key: 'seed', setting: 'seed' },
  { flag: '--batch', key: 'batch', setting: 'batch' },
  { flag: '--lr', key: 'lr', setting: 'lr' },
  { flag: '--schedule', key: 'schedule', setting: 'schedule' },
  { flag: '--warmup-steps', key: 'warmupSteps', setting: 'warmupSteps' },
  { flag: '--weight-decay', key: 'weightDecay', setting: 'weightDecay' },
  { flag: '--label-smoothing', key: 'labelSmoothing', setting: 'labelSmoothing' },
  { flag: '--ema', key: 'ema', setting: 'ema' },
  { flag: '--augment', key: 'augment', setting: 'augment' },
  { flag: '--color-jitter', key: 'colorJitter', setting: 'colorJitter' },
  { flag: '--init', key: 'init', setting: 'init' },
  { flag: '--freeze-backbone', key: 'freezeBackbone', setting: 'freezeBackbone' },
  { flag: '--max-pixels', key: 'maxPixels', setting: 'maxPixels' },
];

export function trainCommand(): Command {
  const command = addArchitectureOptions(new Command('train'), { training: true })
    .description("train a classifier with the papers' recipe (RMSprop 0.9/0.9/ε=1, lr 0.045 × 0.98 per epoch, weight decay 4e-5)")
    .option('--data <dir>', 'ImageFolder: one subfolder per class (or train/ and val/ subfolders); default: generate the procedural dataset into <out>/data')
    .option('--val <dir>', 'validation ImageFolder (default: hold out --val-fraction of --data)')
    .addOption(new Option('--val-fraction <f>', 'share of each class held out for validation when --val is not given').argParser(parseNumberOption('--val-fraction')).default(0.2))
    .addOption(new Option('--lr <x>', 'initial learning rate').argParser(parseNumberOption('--lr')).default(0.045))
    .addOption(new Option('--warmup-steps <n>', 'linear learning-rate warm-up steps').argParser(parseIntegerOption('--warmup-steps', 0)).default(0))
    .addOption(new Option('--schedule <name>', "learning-rate schedule: 'paper' (×0.98 per epoch) or 'cosine' (to 0 at the last step; lengthening it on --resume continues the decay from the current rate)").choices(['paper', 'cosine']).default('paper'))
    .addOption(new Option('--weight-decay <x>', 'L2 on conv and FC kernels').argParser(parseNumberOption('--weight-decay')).default(4e-5))
    .addOption(new Option('--label-smoothing <x>', 'label smoothing ε').argParser(parseNumberOption('--label-smoothing')).default(0))
    .addOption(new Option('--ema <decay>', 'keep an exponential moving average of the weights (e.g. 0.999) for validation and the saved model').argParser(parseNumberOption('--ema')))
    .option('--no-augment', 'no random crops or flips (evaluation preprocessing for training too)')
    .option('--color-jitter', 'with augmentation, also jitter brightness, contrast and saturation (the paper\'s milder Inception recipe; off by default: it slowed small-folder runs)')
    .addOption(new Option('--checkpoint-every <n>', 'also checkpoint every n steps (0: at epoch ends and at a stop only)').argParser(parseIntegerOption('--checkpoint-every', 0)).default(0))
    .addOption(new Option('--keep <k>', 'step checkpoints to keep').argParser(parseIntegerOption('--keep', 0)).default(3))
    .addOption(maxPixelsOption())
    .addOption(
      new Option('--cache-mib <n>', 'decoded training images kept in memory between epochs, in MiB: later epochs crop them without decoding the files again (same pixels, same results; 0: decode every epoch)')
        .argParser(parseIntegerOption('--cache-mib', 0))
        .default(1024),
    )
    .option('--init <model-dir>', "start from the weights of a saved model (layers matched by name and shape), or 'face-api': the trained MobileNetV1 body of face-api's SSD face detector (--arch v1 --alpha 1)")
    .option('--freeze-backbone', "train only the classifier layer ('Logits'); needs --init");
  return addRunOptions(command, {
    defaultEpochs: 10,
    workers: { byDefault: defaultWorkerCount(), minShare: MIN_BATCH_NORM_BATCH },
    out: { byDefault: 'mobilenet-classify-out', holds: 'run.json, model/, checkpoints/, metrics.jsonl, learning-curve.png' },
    seeds: 'the weights, the validation split, data order, augmentation and dropout',
  })
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  mobilenet-classify train --arch v1 --alpha 0.25 --input-size 64 --epochs 5 --out runs/shapes\n' +
        '  mobilenet-classify train --data photos/ --arch v1 --alpha 0.25 --input-size 64 --init runs/shapes/model --freeze-backbone --epochs 3 --out runs/photos\n' +
        '  mobilenet-classify train --resume runs/shapes --epochs 10      # continue, with two epochs more than planned',
    )
    .action(async (flags: TrainFlags, command: Command) => {
      await train(flags, command);
    });
}

/** True when the user typed the flag (as opposed to its default). */
const given = (command: Command, key: string) => command.getOptionValueSource(key) === 'cli';

function checkFlags(o: TrainFlags): void {
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new UsageError(`--val-fraction must be in [0, 1). Received ${o.valFraction}.`);
  if (o.maxMinutes !== undefined && !(o.maxMinutes > 0)) throw new UsageError(`--max-minutes must be > 0. Received ${o.maxMinutes}.`);
  if (!(o.lr > 0)) throw new UsageError(`--lr must be > 0. Received ${o.lr}.`);
  if (!(o.weightDecay >= 0)) throw new UsageError(`--weight-decay must be ≥ 0. Received ${o.weightDecay}.`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new UsageError(`--label-smoothing must be in [0, 1). Received ${o.labelSmoothing}.`);
  if (!(o.checkpointMinutes >= 0)) throw new UsageError(`--checkpoint-minutes must be ≥ 0. Received ${o.checkpointMinutes}.`);
  if (o.ema !== undefined && !(o.ema > 0 && o.ema < 1)) throw new UsageError(`--ema must be in (0, 1), e.g. 0.999. Received ${o.ema}.`);
  if (o.accumulate > o.batch) throw new UsageError(`--accumulate (${o.accumulate}) cannot exceed --batch (${o.batch}): each micro-batch needs at least one image.`);
  if (o.freezeBackbone && o.init === undefined) throw new UsageError('--freeze-backbone trains only the classifier on top of a trained backbone: give the backbone with --init <model-dir> or --init face-api.');
}

/** Refuses an output folder that would write into the data (its model/ and checkpoints/ would become classes), or data inside the output folder. */
function checkSeparate(out: string, data: string | null, dataFlag: string): void {
  checkSeparateFolders(out, data, dataFlag, "the run's model/ and checkpoints/ would become classes of the data");
}

const sameFolder = (a: string, b: string) => b !== '' && isInsideFolder(a, b) && isInsideFolder(b, a);

/** Settings of a fresh run, from the flags. */
function freshSettings(o: TrainFlags, data: string, generated: boolean, classes: string[], epochs: number | null): ClassifyRunSettings {
  return {
    arch: o.arch, alpha: o.alpha, inputSize: o.inputSize, variant: o.variant, activation: o.activation, dropout: o.dropout ?? null, bnMomentum: o.bnMomentum ?? null,
    data, generatedData: generated, val: o.val === undefined ? null : path.resolve(o.val), valFraction: o.valFraction, seed: o.seed, classes,
    batch: o.batch, accumulate: o.accumulate, lr: o.lr, schedule: o.schedule, cosineExtensions: [], warmupSteps: o.warmupSteps, weightDecay: o.weightDecay,
    labelSmoothing: o.labelSmoothing, ema: o.ema ?? null, augment: o.augment, colorJitter: o.colorJitter === true, maxPixels: o.maxPixels ?? null, epochs, steps: o.steps ?? null,
    init: o.init === undefined ? null : o.init === 'face-api' ? o.init : path.resolve(o.init), freezeBackbone: o.freezeBackbone === true,
  };
}

/**
 * The recorded settings with the stopping rules this call gives. Any other flag typed with --resume
 * must repeat the recorded value; the error names both.
 */
function resumedSettings(recorded: ClassifyRunSettings, o: TrainFlags, command: Command, runDir: string): ClassifyRunSettings {
  for (const { flag, key, setting } of RECORDED) {
    if (!given(command, key)) continue;
    let value: unknown = o[key];
    if (key === 'init' && typeof value === 'string' && value !== 'face-api') value = path.resolve(value);
    if (value !== (recorded[setting] ?? undefined) && !(value === undefined && recorded[setting] === null)) {
      throw new UsageError(`${flag} ${String(value)} conflicts with the run in ${runDir}, which was trained with ${flag} ${String(recorded[setting])}. Leave ${flag} out to continue the run as it was, or start a new run with another --out.`);
    }
  }
  for (const [flag, key, setting] of [['--data', 'data', 'data'], ['--val', 'val', 'val']] as const) {
    if (given(command, key) && !sameFolder(o[key] as string, (recorded[setting] as string | null) ?? '')) {
      throw new UsageError(`${flag} ${o[key]} conflicts with the run in ${runDir}, which was trained on ${recorded[setting] ?? 'a held-out share of --data'}. Leave ${flag} out to continue the run.`);
    }
  }
  return {
    ...recorded,
    epochs: o.epochs ?? (o.steps !== undefined ? null : recorded.epochs),
    steps: o.steps ?? (o.epochs !== undefined ? null : recorded.steps),
    accumulate: o.accumulate,
  };
}

/** The run's learning-rate schedule from its settings; a lengthened cosine run continues its decay. */
function scheduleOf(s: ClassifyRunSettings, stepsPerEpoch: number): Schedule {
  let base: Schedule = paperSchedule(s.lr);
  if (s.schedule === 'cosine') {
    const totalSteps = s.steps ?? (s.epochs === null ? null : s.epochs * stepsPerEpoch);
    if (totalSteps === null) throw new UsageError('--schedule cosine needs --steps or --epochs (it decays to 0 at the last step).');
    base = cosineFromPlan(s.lr, s.cosineExtensions, totalSteps);
  }
  return s.warmupSteps > 0 ? linearWarmup(base, { steps: s.warmupSteps }) : base;
}

async function train(o: TrainFlags, command: Command): Promise<void> {
  checkFlags(o);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const resuming = o.resume !== undefined && o.resume !== false;
  const out = path.resolve(typeof o.resume === 'string' ? o.resume : o.out);
  if (typeof o.resume === 'string' && given(command, 'out') && path.resolve(o.out) !== out) {
    throw new UsageError(`--resume ${o.resume} and --out ${o.out} name different folders; give the run folder once (--resume <run-dir>).`);
  }
  if (!resuming) checkSeparate(out, o.data ?? null, '--data');
  if (!resuming && o.val !== undefined) checkSeparate(out, o.val, '--val');
  await withRunFolder(out, CLASSIFY_APP, { resuming, readSettings: readClassifyRun, stateError: (message) => new UsageError(message) }, (store, recorded) =>
    trainInFolder(o, command, out, store, recorded, log));
}

async function trainInFolder(o: TrainFlags, command: Command, out: string, store: FileCheckpointStore, recorded: ClassifyRunSettings | null, log: (line: string) => void): Promise<void> {
  const runtime = await setup({ log });
  // The data.
  let dataDir = recorded?.data ?? (o.data === undefined ? path.join(out, 'data') : path.resolve(o.data));
  const generated = recorded?.generatedData ?? o.data === undefined;
  if (generated && !fs.existsSync(dataDir)) {
    const size = Math.min(o.inputSize, GENERATED_DEFAULTS.maxSize);
    log(`no --data: generating the procedural dataset (${GENERATED_DEFAULTS.classes} classes × ${GENERATED_DEFAULTS.imagesPerClass} images of ${size}px) in ${dataDir}`);
    await generateDefaultData(dataDir, { ...GENERATED_DEFAULTS, size, seed: o.seed });
  }
  dataDir = path.resolve(dataDir);
  const split = recorded ?? { val: o.val === undefined ? null : path.resolve(o.val), valFraction: o.valFraction, seed: o.seed };
  const { classes, train: trainRecords, val: valRecords } = await resolveData(dataDir, split.val ?? undefined, split.valFraction, split.seed, log);
  if (classes.length < 2) {
    throw new UsageError(`--data ${dataDir}: found ${classes.length} class folder${classes.length === 1 ? ` ('${classes[0]}')` : 's'}; a classifier needs at least 2 classes, one subfolder per class (${dataDir}/<class>/<image>.jpg).`);
  }
  if (recorded !== null && recorded.classes.join('\n') !== classes.join('\n')) {
    throw new UsageError(`--resume: the classes in ${dataDir} (${classes.join(', ')}) are not the ones the run was trained on (${recorded.classes.join(', ')}).`);
  }

  // The settings, recorded before the first step so that --resume and eval --run can rely on them.
  const stepsPerEpoch = Math.ceil(trainRecords.length / (recorded?.batch ?? o.batch));
  const defaultEpochs = o.steps === undefined && o.maxMinutes === undefined ? 10 : null;
  let settings = recorded === null ? freshSettings(o, dataDir, generated, classes, o.epochs ?? defaultEpochs) : resumedSettings(recorded, o, command, out);
  if (recorded !== null && settings.schedule === 'cosine') {
    const total = (s: ClassifyRunSettings) => s.steps ?? (s.epochs === null ? null : s.epochs * stepsPerEpoch);
    const [before, after] = [total(recorded), total(settings)];
    if (after !== null) {
      const lengthened = await lengthenedCosineOnResume({ plan: recorded.cosineExtensions, before: before ?? after, after, lastStep: () => store.stepOf('last'), log });
      if (lengthened !== null) settings = { ...settings, cosineExtensions: lengthened };
    }
  }
  await writeRunRecord(out, CLASSIFY_APP, settings);

  let skippedImages = 0;
  const onSkip = (file: string, error: Error) => {
    skippedImages += 1;
    log(`warning: skipped ${file}: ${error.message}`);
  };
  const decode = settings.maxPixels === null ? {} : { maxPixels: settings.maxPixels };
  // A batch's crops all in flight at once: onnxruntime's step holds the main thread, which a smaller limit
  // needs to start the next decode (V1 0.25-128 b32, 6 epochs: data wait 12.9 s at 2, 5.4 s at 32).
  const trainData = datasets.classificationData(trainRecords, classes, { inputSize: settings.inputSize, augment: settings.augment ? (settings.colorJitter ? { ...datasets.MILD_COLOR_JITTER } : {}) : false, prefetch: 2, concurrency: Math.min(settings.batch, 32), cacheBytes: o.cacheMib * 2 ** 20, onSkip, decode });
  const valData = valRecords.length > 0 ? datasets.classificationData(valRecords, classes, { inputSize: settings.inputSize, augment: false, prefetch: 2, onSkip, decode }) : undefined;
  if (valData === undefined) log('note: no validation images (use --val or --val-fraction > 0); top-1/top-5 will not be measured');

  const arch: ArchitectureOptions = { arch: settings.arch, alpha: settings.alpha, inputSize: settings.inputSize, variant: settings.variant, activation: settings.activation, dropout: settings.dropout ?? undefined, bnMomentum: settings.bnMomentum ?? undefined };
  const model = buildClassifier(arch, classes.length, settings.seed);
  try {
    let init: InitReport | null = null;
    if (settings.init !== null && recorded === null) {
      init = await initFromModel(model, settings.init);
      if (init.copied === 0) {
        throw new UsageError(
          `--init ${settings.init}: none of its layers fits this ${settings.arch} α=${settings.alpha} model (${init.layers} layers, e.g. ${summarize(init.skipped.map((s) => `${s.layer}: ${s.reason}`), 2)}). ` +
            'Use the --arch and --alpha of the model you start from.',
        );
      }
      log(`--init: copied ${init.copied} of ${init.layers} layers with weights from ${settings.init}${init.skipped.length > 0 ? `; kept fresh: ${summarize(init.skipped.map((s) => s.layer))}` : ''}`);
    }
    if (settings.freezeBackbone) freezeBackbone(model);

    const plan = rangeErrorsAsUsage(() => planTrainingEngine({ engine: o.engine, model, batchSize: settings.batch, backend: runtime.backend, accumulate: settings.accumulate, workers: o.workers }), `--batch ${settings.batch}, --input-size ${settings.inputSize}${o.workers === undefined ? '' : `, --workers ${o.workers}`}`);
    log(`training engine: ${plan.runsOn}`);
    if (plan.message !== null) log(plan.message);
    const onnx = plan.engine === 'onnx';
    const workers = plan.workers;
    const stop = stopOnSignals(log);
    const metricsFile = path.join(out, 'metrics.jsonl');
    if (recorded === null) fs.rmSync(metricsFile, { force: true });
    let result: FitResult;
    try {
      result = await fit(model, trainData, {
        task: classificationTask({ labelSmoothing: settings.labelSmoothing }),
        runner: onnx
          ? onnxTrainingRunner({ loss: classificationLoss({ labelSmoothing: settings.labelSmoothing }) })
          : workers > 1 ? dataParallel({ workers, backend: runtime.backend }) : localRunner(),
        epochs: settings.epochs ?? undefined,
        steps: settings.steps ?? undefined,
        maxMinutes: o.maxMinutes,
        batchSize: settings.batch,
        accumulate: plan.accumulate,
        seed: settings.seed,
        schedule: scheduleOf(settings, stepsPerEpoch),
        weightDecay: settings.weightDecay,
        ema: settings.ema ?? undefined,
        validation: valData,
        checkpoints: { store, everySteps: o.checkpointEvery, everyMinutes: o.checkpointMinutes, keep: o.keep },
        resume: recorded !== null,
        signal: stop.signal,
        callbacks: [metricsLogCallback((line) => fs.appendFileSync(metricsFile, line)), progressCallback()],
      });
    } catch (error) {
      if (error instanceof TrainingDivergedError) throw new Error(`${error.message} Checkpoints are in ${store.dir}.`);
      if (error instanceof RangeError && /gave no batches/.test(error.message)) {
        throw new Error(`--data ${dataDir}: none of the ${trainRecords.length} training images could be read (${skippedImages} skipped, see the warnings above). Expected JPEG, PNG or WebP files.`);
      }
      throw error;
    } finally {
      stop.dispose();
    }

    const modelDir = path.join(out, 'model');
    await saveClassifier(modelDir, model, classes);
    const curveFile = path.join(out, 'learning-curve.png');
    const title = `MobileNet ${settings.arch.toUpperCase()} α=${settings.alpha} ${settings.inputSize}px, ${classes.length} classes`;
    try {
      await writePng(learningCurveSvg(learningCurveFromLog(fs.readFileSync(metricsFile, 'utf8')), title), curveFile);
    } catch (error) {
      log(`warning: could not draw ${curveFile}: ${(error as Error).message}`);
    }
    report(o, { result, settings, classes, trainImages: trainRecords.length, skippedImages, init, engine: plan.engine, backend: onnx ? 'onnxruntime' : runtime.backend, workers, out, modelDir, curveFile, metricsFile, checkpoints: store.dir });
    // Stopped by a signal after saving: the shell's convention for "terminated by signal N" (128 + N).
    const signal = stop.received();
    if (signal !== null) process.exitCode = signal === 'SIGINT' ? 130 : 143;
  } finally {
    model.dispose();
  }
}

function summarize(names: string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

interface Outcome {
  result: FitResult;
  settings: ClassifyRunSettings;
  classes: string[];
  trainImages: number;
  skippedImages: number;
  init: InitReport | null;
  engine: TrainingEngine;
  backend: string;
  workers: number;
  out: string;
  modelDir: string;
  curveFile: string;
  metricsFile: string;
  checkpoints: string;
}

function report(o: TrainFlags, r: Outcome): void {
  const { result, settings } = r;
  const val = result.val?.metrics ?? null;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      top1: val?.top1 ?? null,
      top5: val?.top5 ?? null,
      valLoss: val?.loss ?? null,
      valImages: (result.val?.details as { count?: number } | undefined)?.count ?? 0,
      trainLoss: result.history.at(-1)?.train.loss ?? null,
      steps: result.steps,
      epochs: result.epochs,
      stoppedBy: result.stoppedBy,
      resumedFrom: result.resumedFrom,
      seconds: result.seconds,
      timing: result.timing,
      best: result.best,
      classes: r.classes,
      trainImages: r.trainImages,
      skippedImages: r.skippedImages,
      init: r.init,
      engine: r.engine,
      backend: r.backend,
      workers: r.workers,
      seed: settings.seed,
      out: r.out,
      model: r.modelDir,
      checkpoints: r.checkpoints,
      metrics: r.metricsFile,
      learningCurve: r.curveFile,
    })}\n`);
    return;
  }
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
  const lines = [
    `trained MobileNet ${settings.arch} α=${settings.alpha} ${settings.inputSize}px on ${r.trainImages} images of ${r.classes.length} classes: ` +
      `${result.steps} steps, ${result.epochs} epoch${result.epochs === 1 ? '' : 's'} complete, in ${formatDuration(result.seconds)}` +
      `${result.resumedFrom === null ? '' : ` (resumed at step ${result.resumedFrom})`} on ${r.workers > 1 ? `${r.backend} × ${r.workers}` : r.backend}; stopped by ${result.stoppedBy}; ${formatDataWait(result.timing)}`,
    val === null
      ? 'validation: none'
      : `validation (${(result.val?.details as { count?: number } | undefined)?.count ?? '?'} images): top-1 ${pct(val.top1)}, top-5 ${pct(val.top5)}, loss ${val.loss.toFixed(4)}` +
        (result.best === null ? '' : `; best epoch ${result.best.epoch + 1}: top-1 ${pct(result.best.value)}`),
    `model: ${r.modelDir} (with labels.json)`,
    `run folder: ${r.out} (run.json, checkpoints/, metrics.jsonl, learning-curve.png)`,
  ];
  if (result.stoppedBy !== 'epochs' && result.stoppedBy !== 'steps') lines.push(`continue with: mobilenet-classify train --resume ${r.out}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
