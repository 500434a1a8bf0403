/**
 * The training loop: the MobileNet papers' recipe by default (RMSprop with decay 0.9, momentum 0.9,
 * ε = 1; learning rate 0.045 decayed ×0.98 per epoch; L2 weight decay 4e-5 on conv and FC kernels),
 * stopping rules, checkpoints through an injected store, exact resume, callbacks and validation.
 *
 * fit prints nothing and touches no files: progress goes to callbacks, checkpoints to the store.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationBatch, TrainingData, checkBatch } from './data';
import { EmaState, WeightEma } from './ema';
import { EvaluationResult, evaluate } from './metrics';
import { Schedule, paperSchedule } from './schedules';
import { trainStepWithMetrics } from './step';

/** A checkpoint as fit hands it to a store: the model, its optimizer and fit's JSON state. */
export interface StoredCheckpoint {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  state: unknown;
}

/**
 * Where checkpoints go. Implementations live where files do (the apps, runtime); tests use memory.
 * `load` writes the saved weights into `model` and returns a rebuilt optimizer with its state, or
 * null when there is no checkpoint of that name.
 */
export interface CheckpointStore {
  save(name: string, checkpoint: StoredCheckpoint): Promise<void>;
  load(name: string, model: tfl.LayersModel): Promise<{ optimizer: tf.Optimizer; state: unknown } | null>;
  remove(name: string): Promise<void>;
  list(): Promise<string[]>;
}

/** Checkpoint names fit uses. */
export const CHECKPOINT_NAMES = { last: 'last', best: 'best', step: (step: number) => `step-${step}` } as const;
const STEP_CHECKPOINT = /^step-(\d+)$/;

export interface StepInfo {
  /** Optimizer steps completed so far over the whole run (this one included). */
  step: number;
  /** 0-based epoch of this step. */
  epoch: number;
  /** Batches of this epoch completed (this one included). */
  batch: number;
  loss: number;
  /** Top-1 accuracy of this batch, in training mode, before the update. */
  accuracy: number;
  /** Images in this batch over the wall time since the previous step ended (data loading included). */
  imagesPerSecond: number;
  lr: number;
}

export interface EpochSummary {
  epoch: number;
  /** Mean loss and top-1 accuracy over the epoch's training batches. */
  train: { loss: number; accuracy: number; images: number };
  /** Validation metrics (with the averaged weights when EMA is on), null without validation data. */
  val: { top1: number; top5: number; loss: number } | null;
  /** Step count at the end of the epoch. */
  step: number;
  lr: number;
}

export interface EpochInfo extends EpochSummary {
  /** The full validation result (per class, confusion), null without validation data. */
  evaluation: EvaluationResult | null;
}

export type StopReason = 'epochs' | 'steps' | 'maxMinutes' | 'signal';

export interface FitResult {
  /** Optimizer steps over the whole run (resumed ones included). */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  stoppedBy: StopReason;
  /** One entry per completed epoch, those before a resume included. */
  history: EpochSummary[];
  /** Validation metrics of the final weights (averaged when EMA is on), null without validation data. */
  val: EvaluationResult | null;
  /** The best epoch by validation top-1, null without validation data. */
  best: { epoch: number; step: number; top1: number } | null;
  /** Wall time of this call, seconds. */
  seconds: number;
  /** The step this call resumed from, null when it started fresh. */
  resumedFrom: number | null;
}

export interface TrainBeginInfo {
  step: number;
  epoch: number;
  /** Batches per epoch: ⌈data.size / batchSize⌉. */
  stepsPerEpoch: number;
  /** Steps the run will take in total when known from `epochs`/`steps`, else null. */
  totalSteps: number | null;
  resumed: boolean;
}

/** Hooks called by fit (awaited, in order). */
export interface FitCallback {
  onTrainBegin?(info: TrainBeginInfo): void | Promise<void>;
  onStepEnd?(info: StepInfo): void | Promise<void>;
  onEpochEnd?(info: EpochInfo): void | Promise<void>;
  /** Called after a checkpoint is saved. */
  onCheckpoint?(info: { name: string; step: number }): void | Promise<void>;
  onTrainEnd?(result: FitResult): void | Promise<void>;
}

export interface CheckpointOptions {
  store: CheckpointStore;
  /** Also save every this many steps (as 'last' and 'step-<n>'); 0: only at epoch ends and at a stop. Default 0. */
  everySteps?: number;
  /** Step checkpoints to keep (oldest removed first). Default 3. */
  keep?: number;
}

export interface FitOptions {
  /** Total epochs (the whole run, resumed ones included). Default: 1 when neither steps nor maxMinutes is given, else unlimited. */
  epochs?: number;
  /** Total optimizer steps (the whole run). */
  steps?: number;
  /** Wall-clock budget of this call; training stops at the first step boundary past it and saves 'last'. */
  maxMinutes?: number;
  /** Images per optimizer step. Default 32. */
  batchSize?: number;
  /** Seed of the data order (and augmentation) passed to `data.batches`. Default 0. */
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
  /** Default: {@link paperSchedule} (0.045 × 0.98 per epoch). */
  schedule?: Schedule;
  /** Builds the optimizer for a fresh run (its learning rate is set from the schedule every step). Default: the papers' RMSprop. */
  optimizer?: () => tf.Optimizer;
  /** L2 coefficient on conv and FC kernels. Default 4e-5. */
  weightDecay?: number;
  /** Default 0. */
  labelSmoothing?: number;
  /** Micro-batches per step whose gradients are averaged. Default 1. */
  accumulate?: number;
  /** Decay of an exponential moving average of the weights (e.g. 0.999), used for validation and left in the model at the end. Default off. */
  ema?: number;
  validation?: TrainingData;
  /** Default: batchSize. */
  validationBatchSize?: number;
  checkpoints?: CheckpointOptions;
  /** Continue from the store's 'last' checkpoint: weights, optimizer, schedule position and data order. */
  resume?: boolean;
  callbacks?: FitCallback[];
  /** Stops at the next step boundary (saving 'last') when aborted, e.g. on Ctrl-C. */
  signal?: AbortSignal;
  /** Milliseconds clock for maxMinutes and throughput; default performance.now. Tests pass a fake one. */
  clock?: () => number;
}

/** The papers' RMSprop: decay 0.9, momentum 0.9, ε = 1.0. */
export function paperOptimizer(learningRate = 0.045): tf.Optimizer {
  return tf.train.rmsprop(learningRate, 0.9, 0.9, 1.0);
}

/** The loss became NaN or infinite: training stopped without saving, the last good checkpoint is intact. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    readonly step: number,
    readonly epoch: number,
    readonly loss: number,
    readonly lastGoodCheckpoint: { name: string; step: number } | null,
    readonly lr: number,
  ) {
    super(
      `fit: the loss became ${loss} at step ${step} (epoch ${epoch}, learning rate ${lr}); training stopped. ` +
        (lastGoodCheckpoint === null
          ? 'No checkpoint was saved before it.'
          : `The last good checkpoint is '${lastGoodCheckpoint.name}' (step ${lastGoodCheckpoint.step}), left unchanged: resume from it with a lower learning rate.`),
    );
  }
}

/** What fit keeps in a checkpoint's state (JSON). */
export interface FitState {
  format: 'mobilenets-fit';
  version: 1;
  /** Optimizer steps done. */
  step: number;
  /** Current 0-based epoch and batches of it done. */
  epoch: number;
  batchInEpoch: number;
  seed: number;
  batchSize: number;
  /** Running sums of the current epoch's training batches. */
  epochLoss: number;
  epochCorrect: number;
  epochImages: number;
  history: EpochSummary[];
  best: { epoch: number; step: number; top1: number } | null;
  ema: EmaState | null;
}

function checkPositive(field: string, value: number | undefined, integer: boolean, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`fit: options.${field} must be a number. Received ${String(value)}.`);
  if ((integer && !Number.isInteger(value)) || value < min) {
    throw new RangeError(`fit: options.${field} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}. Received ${value}.`);
  }
}

function parseState(state: unknown, where: string): FitState {
  const s = state as Partial<FitState> | null;
  if (typeof s !== 'object' || s === null || s.format !== 'mobilenets-fit' || s.version !== 1) {
    throw new Error(`${where}: the checkpoint's state is not fit's (expected format 'mobilenets-fit' version 1); it was not saved by fit.`);
  }
  for (const key of ['step', 'epoch', 'batchInEpoch', 'seed', 'batchSize', 'epochLoss', 'epochCorrect', 'epochImages'] as const) {
    if (typeof s[key] !== 'number') throw new Error(`${where}: state.${key} must be a number. Received ${JSON.stringify(s[key])}.`);
  }
  if (!Array.isArray(s.history)) throw new Error(`${where}: state.history must be an array.`);
  return s as FitState;
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate?: number };
  if (typeof o.learningRate !== 'number') throw new TypeError(`fit: the optimizer ${optimizer.getClassName()} has no learningRate field to schedule.`);
  o.learningRate = lr;
}

/**
 * Trains `model` (a classifier with softmax output [batch, data.classes]) on `data`.
 * The model is updated in place; with `ema` its weights are the averaged ones when fit returns.
 */
export async function fit(model: tfl.LayersModel, data: TrainingData, options: FitOptions = {}): Promise<FitResult> {
  const {
    batchSize = 32,
    seed = 0,
    shuffle = true,
    schedule = paperSchedule(),
    weightDecay = 4e-5,
    labelSmoothing = 0,
    accumulate = 1,
    validation,
    callbacks = [],
    signal,
    clock = () => performance.now(),
  } = options;
  checkPositive('epochs', options.epochs, true, 1);
  checkPositive('steps', options.steps, true, 1);
  checkPositive('maxMinutes', options.maxMinutes, false, 0);
  checkPositive('batchSize', batchSize, true, 1);
  checkPositive('accumulate', accumulate, true, 1);
  checkPositive('validationBatchSize', options.validationBatchSize, true, 1);
  checkPositive('checkpoints.everySteps', options.checkpoints?.everySteps, true, 0);
  checkPositive('checkpoints.keep', options.checkpoints?.keep, true, 0);
  if (!Number.isInteger(seed)) throw new RangeError(`fit: options.seed must be an integer. Received ${seed}.`);
  if (accumulate > batchSize) throw new RangeError(`fit: options.accumulate (${accumulate}) cannot exceed options.batchSize (${batchSize}).`);
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new RangeError(`fit: options.labelSmoothing must be in [0, 1). Received ${labelSmoothing}.`);
  if (!(weightDecay >= 0)) throw new RangeError(`fit: options.weightDecay must be ≥ 0. Received ${weightDecay}.`);
  if (options.resume && options.checkpoints === undefined) throw new TypeError('fit: options.resume needs options.checkpoints.store to load the checkpoint from.');
  const classes = data.classes;
  const outputs = model.outputs[0].shape as number[];
  if (outputs.length !== 2 || outputs[1] !== classes) {
    throw new RangeError(`fit: the model '${model.name}' outputs [${outputs}] but the data has ${classes} classes; expected output [batch, ${classes}].`);
  }
  if (validation !== undefined && validation.classes !== classes) {
    throw new RangeError(`fit: options.validation has ${validation.classes} classes but the training data has ${classes}.`);
  }
  const stepsPerEpoch = Math.ceil(data.size / batchSize);
  if (stepsPerEpoch === 0) throw new RangeError('fit: the training data is empty (data.size is 0).');
  const epochs = options.epochs ?? (options.steps === undefined && options.maxMinutes === undefined ? 1 : Infinity);
  const maxSteps = options.steps ?? Infinity;
  const store = options.checkpoints?.store;
  const everySteps = options.checkpoints?.everySteps ?? 0;
  const keep = options.checkpoints?.keep ?? 3;
  const started = clock();

  let optimizer: tf.Optimizer | null = null;
  let ema: WeightEma | null = null;
  let state: FitState = {
    format: 'mobilenets-fit', version: 1, step: 0, epoch: 0, batchInEpoch: 0, seed, batchSize,
    epochLoss: 0, epochCorrect: 0, epochImages: 0, history: [], best: null, ema: null,
  };
  let resumedFrom: number | null = null;
  /** The newest checkpoint written by this run or found on resume: what survives a divergence. */
  let lastGood: { name: string; step: number } | null = null;
  let lastSavedStep = -1;

  const emit = async <K extends keyof FitCallback>(hook: K, arg: Parameters<NonNullable<FitCallback[K]>>[0]) => {
    for (const c of callbacks) await (c[hook] as ((a: typeof arg) => void | Promise<void>) | undefined)?.call(c, arg);
  };
  const save = async (name: string) => {
    if (store === undefined || optimizer === null) return;
    state.ema = ema === null ? null : ema.toJSON();
    await store.save(name, { model, optimizer, state: JSON.parse(JSON.stringify(state)) });
    state.ema = null;
    await emit('onCheckpoint', { name, step: state.step });
  };
  const saveLast = async () => {
    if (store === undefined || lastSavedStep === state.step) return;
    await save(CHECKPOINT_NAMES.last);
    lastSavedStep = state.step;
    lastGood = { name: CHECKPOINT_NAMES.last, step: state.step };
  };
  const saveStepCheckpoint = async () => {
    if (store === undefined) return;
    await save(CHECKPOINT_NAMES.step(state.step));
    const steps = (await store.list()).filter((n) => STEP_CHECKPOINT.test(n)).sort((a, b) => Number(STEP_CHECKPOINT.exec(a)![1]) - Number(STEP_CHECKPOINT.exec(b)![1]));
    for (const name of steps.slice(0, Math.max(0, steps.length - keep))) await store.remove(name);
  };
  const validate = async (): Promise<EvaluationResult | null> => {
    if (validation === undefined) return null;
    const run = () => evaluate(model, validation, { batchSize: options.validationBatchSize ?? batchSize });
    return ema === null ? run() : ema.withAveraged(run);
  };

  try {
    if (options.resume) {
      const loaded = await store!.load(CHECKPOINT_NAMES.last, model);
      if (loaded !== null) {
        optimizer = loaded.optimizer;
        state = parseState(loaded.state, `fit: checkpoint '${CHECKPOINT_NAMES.last}'`);
        if (state.seed !== seed || state.batchSize !== batchSize) {
          throw new RangeError(`fit: checkpoint '${CHECKPOINT_NAMES.last}' was trained with seed ${state.seed} and batchSize ${state.batchSize}, but options give seed ${seed} and batchSize ${batchSize}; resume with the same values to continue the same data order.`);
        }
        resumedFrom = state.step;
        lastSavedStep = state.step;
        lastGood = { name: CHECKPOINT_NAMES.last, step: state.step };
      }
    }
    if (optimizer === null) optimizer = (options.optimizer ?? paperOptimizer)();
    if (options.ema !== undefined && options.ema !== 0) {
      ema = new WeightEma(model, options.ema);
      if (state.ema !== null) ema.restore(state.ema, `fit: checkpoint '${CHECKPOINT_NAMES.last}'`);
      state.ema = null;
    }
    const totalSteps = Number.isFinite(epochs) || Number.isFinite(maxSteps) ? Math.min(maxSteps, epochs * stepsPerEpoch) : null;
    await emit('onTrainBegin', { step: state.step, epoch: state.epoch, stepsPerEpoch, totalSteps, resumed: resumedFrom !== null });

    let stoppedBy: StopReason | null = null;
    const shouldStop = (): StopReason | null => {
      if (state.step >= maxSteps) return 'steps';
      if (signal?.aborted) return 'signal';
      if (options.maxMinutes !== undefined && clock() - started >= options.maxMinutes * 60_000) return 'maxMinutes';
      return null;
    };
    let lastVal: EvaluationResult | null = null;
    let lastValStep = -1;
    let lr = schedule.lr(state.step, state.epoch);

    while (state.epoch < epochs && stoppedBy === null) {
      stoppedBy = shouldStop();
      if (stoppedBy !== null) break;
      const epoch = state.epoch;
      let previousEnd = clock();
      const batches = data.batches({ epoch, batchSize, seed, skip: state.batchInEpoch, shuffle });
      for await (const batch of batches) {
        stoppedBy = shouldStop();
        if (stoppedBy !== null) break;
        lr = schedule.lr(state.step, epoch);
        const result = step(model, optimizer, batch, classes, lr, { weightDecay, labelSmoothing, accumulate });
        if (!Number.isFinite(result.loss)) throw new TrainingDivergedError(state.step + 1, epoch, result.loss, lastGood, lr);
        ema?.update(state.step);
        state.step += 1;
        state.batchInEpoch += 1;
        state.epochLoss += result.loss * result.examples;
        state.epochCorrect += result.correct;
        state.epochImages += result.examples;
        const now = clock();
        const seconds = Math.max(now - previousEnd, 1e-3) / 1000;
        previousEnd = now;
        await emit('onStepEnd', {
          step: state.step, epoch, batch: state.batchInEpoch, loss: result.loss, accuracy: result.correct / result.examples,
          imagesPerSecond: result.examples / seconds, lr,
        });
        if (everySteps > 0 && state.step % everySteps === 0) {
          await saveStepCheckpoint();
          await saveLast();
        }
      }
      if (stoppedBy !== null) break;
      if (state.batchInEpoch === 0) throw new RangeError(`fit: data.batches yielded no batches for epoch ${epoch} (data.size is ${data.size}).`);

      const evaluation = await validate();
      lastVal = evaluation;
      lastValStep = state.step;
      const summary: EpochSummary = {
        epoch,
        train: { loss: state.epochLoss / state.epochImages, accuracy: state.epochCorrect / state.epochImages, images: state.epochImages },
        val: evaluation === null ? null : { top1: evaluation.top1, top5: evaluation.top5, loss: evaluation.loss },
        step: state.step,
        lr,
      };
      state.history.push(summary);
      state.epoch += 1;
      state.batchInEpoch = 0;
      state.epochLoss = 0;
      state.epochCorrect = 0;
      state.epochImages = 0;
      const improved = evaluation !== null && (state.best === null || evaluation.top1 > state.best.top1);
      if (improved) state.best = { epoch, step: state.step, top1: evaluation.top1 };
      if (improved) await save(CHECKPOINT_NAMES.best);
      lastSavedStep = -1; // the epoch counters changed even if the step did not
      await saveLast();
      await emit('onEpochEnd', { ...summary, evaluation });
    }
    if (stoppedBy === null) stoppedBy = 'epochs';
    await saveLast();

    const val = validation === undefined ? null : lastValStep === state.step && lastVal !== null ? lastVal : await validate();
    ema?.copyInto();
    const result: FitResult = {
      steps: state.step,
      epochs: state.epoch,
      stoppedBy,
      history: state.history,
      val,
      best: state.best,
      seconds: (clock() - started) / 1000,
      resumedFrom,
    };
    await emit('onTrainEnd', result);
    return result;
  } finally {
    optimizer?.dispose();
    ema?.dispose();
  }
}

function step(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  batch: ClassificationBatch,
  classes: number,
  lr: number,
  loss: { weightDecay: number; labelSmoothing: number; accumulate: number },
) {
  checkBatch(batch, classes, 'fit: training data');
  setLearningRate(optimizer, lr);
  const x = tf.tensor4d(batch.images, batch.shape);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, 'int32'), classes));
  try {
    return trainStepWithMetrics(model, optimizer, x, labels, { ...loss, accumulate: Math.min(loss.accumulate, batch.shape[0]) });
  } finally {
    tf.dispose([x, labels]);
  }
}
