/** `mobilenet-classify train`: fit a MobileNet classifier on an ImageFolder (or the generated default data). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { setup } from '@mobilenets/runtime';
import { UsageError, parseIntegerOption, parseNumberOption } from '@mobilenets/cli-kit';
import { FitResult, TrainingData, TrainingDivergedError, cosineDecay, fit, linearWarmup, paperSchedule } from '@mobilenets/training';
import { FileCheckpointStore } from '../checkpoint-store';
import { learningCurveSvg, writePng } from '../charts';
import * as datasets from '@mobilenets/datasets';
import { InitReport, buildClassifier, freezeBackbone, initFromModel, saveClassifier } from '../model-io';
import { formatDuration, metricsLogCallback, progressCallback, readLearningCurve } from '../reporting';
import { GENERATED_DEFAULTS, generateDefaultData } from './generate';
import { addArchitectureOptions, ArchCliOptions, resolveData } from './shared';

interface TrainOptions extends ArchCliOptions {
  data?: string;
  val?: string;
  valFraction: number;
  epochs?: number;
  steps?: number;
  maxMinutes?: number;
  batch: number;
  lr: number;
  warmupSteps: number;
  schedule: 'paper' | 'cosine';
  weightDecay: number;
  labelSmoothing: number;
  ema?: number;
  augment: boolean;
  checkpointEvery: number;
  keep: number;
  out: string;
  resume?: boolean;
  init?: string;
  freezeBackbone?: boolean;
  seed: number;
  json?: boolean;
}

export function trainCommand(): Command {
  return addArchitectureOptions(new Command('train'))
    .description("train a classifier with the papers' recipe (RMSprop 0.9/0.9/ε=1, lr 0.045 × 0.98 per epoch, weight decay 4e-5)")
    .option('--data <dir>', 'ImageFolder: one subfolder per class (or train/ and val/ subfolders); default: generate the procedural dataset into <out>/data')
    .option('--val <dir>', 'validation ImageFolder (default: hold out --val-fraction of --data)')
    .addOption(new Option('--val-fraction <f>', 'share of each class held out for validation when --val is not given').argParser(parseNumberOption('--val-fraction')).default(0.2))
    .addOption(new Option('--epochs <n>', 'epochs in total (default 10 when neither --steps nor --max-minutes is given)').argParser(parseIntegerOption('--epochs', 1)))
    .addOption(new Option('--steps <n>', 'optimizer steps in total').argParser(parseIntegerOption('--steps', 1)))
    .addOption(new Option('--max-minutes <m>', 'stop cleanly after this many minutes (saving a checkpoint)').argParser(parseNumberOption('--max-minutes')))
    .addOption(new Option('--batch <n>', 'images per step').argParser(parseIntegerOption('--batch', 1)).default(32))
    .addOption(new Option('--lr <x>', 'initial learning rate, decayed ×0.98 per epoch').argParser(parseNumberOption('--lr')).default(0.045))
    .addOption(new Option('--warmup-steps <n>', 'linear learning-rate warm-up steps').argParser(parseIntegerOption('--warmup-steps', 0)).default(0))
    .addOption(new Option('--schedule <name>', "learning-rate schedule: 'paper' (×0.98 per epoch) or 'cosine' (to 0 over --steps or --epochs)").choices(['paper', 'cosine']).default('paper'))
    .addOption(new Option('--weight-decay <x>', 'L2 on conv and FC kernels').argParser(parseNumberOption('--weight-decay')).default(4e-5))
    .addOption(new Option('--label-smoothing <x>', 'label smoothing ε').argParser(parseNumberOption('--label-smoothing')).default(0))
    .addOption(new Option('--ema <decay>', 'keep an exponential moving average of the weights (e.g. 0.999) for validation and the saved model').argParser(parseNumberOption('--ema')))
    .option('--no-augment', 'no random crops, flips or colour changes')
    .addOption(new Option('--checkpoint-every <n>', 'also checkpoint every n steps (0: at epoch ends and at a stop only)').argParser(parseIntegerOption('--checkpoint-every', 0)).default(0))
    .addOption(new Option('--keep <k>', 'step checkpoints to keep').argParser(parseIntegerOption('--keep', 0)).default(3))
    .option('--out <dir>', 'output directory: model/, checkpoints/, metrics.jsonl, learning-curve.png', 'mobilenet-classify-out')
    .option('--resume', "continue the run in --out from its last checkpoint (same data order, optimizer state and schedule)")
    .option('--init <model-dir>', "start from the weights of a saved model (layers matched by name and shape), or 'face-api': the trained MobileNetV1 body of face-api's SSD face detector (--arch v1 --alpha 1)")
    .option('--freeze-backbone', "train only the classifier layer ('Logits')")
    .addOption(new Option('--seed <n>', 'seed of the validation split, data order, augmentation and initial weights').argParser(parseIntegerOption('--seed')).default(0))
    .option('--json', 'print one JSON object at the end')
    .addHelpText('after', '\nExamples:\n  mobilenet-classify train --arch v1 --alpha 0.25 --input-size 64 --epochs 5 --out runs/shapes\n  mobilenet-classify train --data photos/ --arch v2 --alpha 0.35 --input-size 96 --init runs/shapes/model --freeze-backbone --epochs 3')
    .action(async (o: TrainOptions) => {
      await train(o);
    });
}

async function train(o: TrainOptions): Promise<void> {
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new UsageError(`--val-fraction must be in [0, 1). Received ${o.valFraction}.`);
  if (o.maxMinutes !== undefined && !(o.maxMinutes > 0)) throw new UsageError(`--max-minutes must be > 0. Received ${o.maxMinutes}.`);
  if (!(o.lr > 0)) throw new UsageError(`--lr must be > 0. Received ${o.lr}.`);
  if (o.ema !== undefined && !(o.ema > 0 && o.ema < 1)) throw new UsageError(`--ema must be in (0, 1), e.g. 0.999. Received ${o.ema}.`);
  const runtime = await setup({ log: (m) => process.stderr.write(`${m}\n`) });
  const out = path.resolve(o.out);
  const checkpointsDir = path.join(out, 'checkpoints');
  const store = new FileCheckpointStore(checkpointsDir);
  const existing = await store.list();
  if (o.resume && !existing.includes('last')) {
    throw new UsageError(`--resume: there is no checkpoint to resume in ${path.join(checkpointsDir, 'last')}. Start without --resume, or give the --out of an earlier run.`);
  }
  if (!o.resume && existing.length > 0) {
    throw new UsageError(`${checkpointsDir} holds checkpoints of an earlier run (${existing.join(', ')}): pass --resume to continue it, or choose another --out.`);
  }
  fs.mkdirSync(out, { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);

  let dataDir = o.data;
  if (dataDir === undefined) {
    dataDir = path.join(out, 'data');
    if (!fs.existsSync(dataDir)) {
      log(`no --data: generating the procedural dataset (${GENERATED_DEFAULTS.classes} classes × ${GENERATED_DEFAULTS.imagesPerClass} images, ${o.inputSize}px) in ${dataDir}`);
      await generateDefaultData(dataDir, { ...GENERATED_DEFAULTS, size: o.inputSize, seed: o.seed });
    }
  }
  const { classes, train: trainRecords, val: valRecords } = await resolveData(dataDir, o.val, o.valFraction, o.seed, log);
  let skippedImages = 0;
  const onSkip = (file: string, error: Error) => {
    skippedImages += 1;
    log(`warning: skipped ${file}: ${error.message}`);
  };
  const ds = datasets;
  const trainData: TrainingData = ds.classificationData(trainRecords, classes, { inputSize: o.inputSize, augment: o.augment ? {} : false, prefetch: 2, onSkip });
  const valData: TrainingData | undefined = valRecords.length > 0 ? ds.classificationData(valRecords, classes, { inputSize: o.inputSize, augment: false, prefetch: 2, onSkip }) : undefined;
  if (valData === undefined) log('note: no validation images (use --val or --val-fraction > 0); top-1/top-5 will not be measured');

  const model = buildClassifier(o, classes.length);
  let init: InitReport | null = null;
  if (o.init !== undefined) {
    init = await initFromModel(model, o.init);
    log(`--init: copied ${init.copied} of ${init.layers} layers with weights from ${o.init}` +
      (init.skipped.length > 0 ? ` (kept fresh: ${init.skipped.map((s) => `${s.layer}: ${s.reason}`).join('; ')})` : ''));
  }
  if (o.freezeBackbone) {
    freezeBackbone(model);
    log(`--freeze-backbone: training only 'Logits' (${model.trainableWeights.length} weights of ${model.weights.length})`);
  }

  const epochs = o.epochs ?? (o.steps === undefined && o.maxMinutes === undefined ? 10 : undefined);
  let base = paperSchedule(o.lr);
  if (o.schedule === 'cosine') {
    const batchesPerEpoch = Math.ceil(trainRecords.length / o.batch);
    const totalSteps = o.steps ?? (epochs === undefined ? undefined : epochs * batchesPerEpoch);
    if (totalSteps === undefined) throw new UsageError('--schedule cosine needs --steps or --epochs (it decays to 0 at the last step).');
    base = cosineDecay({ initial: o.lr, totalSteps });
  }
  const schedule = o.warmupSteps > 0 ? linearWarmup(base, { steps: o.warmupSteps }) : base;
  const metricsFile = path.join(out, 'metrics.jsonl');
  if (!o.resume) fs.rmSync(metricsFile, { force: true });
  const controller = new AbortController();
  const onSigint = () => {
    log('\ninterrupted: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)');
    controller.abort();
    process.removeListener('SIGINT', onSigint);
  };
  process.on('SIGINT', onSigint);
  let result: FitResult;
  try {
    result = await fit(model, trainData, {
      epochs,
      steps: o.steps,
      maxMinutes: o.maxMinutes,
      batchSize: o.batch,
      seed: o.seed,
      schedule,
      weightDecay: o.weightDecay,
      labelSmoothing: o.labelSmoothing,
      ema: o.ema,
      validation: valData,
      checkpoints: { store, everySteps: o.checkpointEvery, keep: o.keep },
      resume: o.resume,
      signal: controller.signal,
      callbacks: [metricsLogCallback(metricsFile), progressCallback()],
    });
  } catch (error) {
    if (error instanceof TrainingDivergedError) {
      throw new Error(`${error.message} Checkpoints are in ${checkpointsDir}.`, { cause: undefined });
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }

  const modelDir = path.join(out, 'model');
  await saveClassifier(modelDir, model, classes);
  const curveFile = path.join(out, 'learning-curve.png');
  const title = `MobileNet ${o.arch.toUpperCase()} α=${o.alpha} ${o.inputSize}px on ${dataDir} (${classes.length} classes)`;
  await writePng(learningCurveSvg(readLearningCurve(metricsFile), title), curveFile);
  model.dispose();

  const val = result.val;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      top1: val?.top1 ?? null,
      top5: val?.top5 ?? null,
      valLoss: val?.loss ?? null,
      valImages: val?.count ?? 0,
      trainLoss: result.history.at(-1)?.train.loss ?? null,
      steps: result.steps,
      epochs: result.epochs,
      stoppedBy: result.stoppedBy,
      resumedFrom: result.resumedFrom,
      seconds: result.seconds,
      best: result.best,
      classes,
      trainImages: trainRecords.length,
      skippedImages,
      init,
      backend: runtime.backend,
      out,
      model: modelDir,
      checkpoints: checkpointsDir,
      metrics: metricsFile,
      learningCurve: curveFile,
    })}\n`);
    return;
  }
  const lines = [
    `trained MobileNet ${o.arch} α=${o.alpha} ${o.inputSize}px on ${trainRecords.length} images of ${classes.length} classes: ` +
      `${result.steps} steps, ${result.epochs} epoch${result.epochs === 1 ? '' : 's'} complete, in ${formatDuration(result.seconds)}` +
      `${result.resumedFrom === null ? '' : ` (resumed at step ${result.resumedFrom})`}; stopped by ${result.stoppedBy}`,
    val === null
      ? 'validation: none'
      : `validation (${val.count} images): top-1 ${(100 * val.top1).toFixed(1)}%, top-5 ${(100 * val.top5).toFixed(1)}%, loss ${val.loss.toFixed(4)}` +
        (result.best === null ? '' : `; best epoch ${result.best.epoch + 1}: top-1 ${(100 * result.best.top1).toFixed(1)}%`),
    `model: ${modelDir} (with labels.json)`,
    `checkpoints: ${checkpointsDir}   metrics: ${metricsFile}   learning curve: ${curveFile}`,
  ];
  if (result.stoppedBy !== 'epochs' && result.stoppedBy !== 'steps') lines.push(`continue with: mobilenet-classify train --out ${o.out} --resume (and the same options)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
