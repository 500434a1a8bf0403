/**
 * The training loop, for any task: the MobileNet papers' recipe by default (RMSprop with decay 0.9,
 * momentum 0.9, ε = 1; learning rate 0.045 decayed ×0.98 per epoch; L2 weight decay 4e-5 on conv and
 * FC kernels), stopping rules, checkpoints through an injected store, exact resume, EMA of the weights,
 * validation and callbacks. What a batch is, what the loss is and how validation is measured comes from
 * the task (classification by default); where the step runs comes from the runner (this thread by default).
 *
 * fit prints nothing and touches no files: progress goes to callbacks, checkpoints to the store.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { classificationTask } from './classification-task';
import type { ClassificationBatch, TrainingData } from './data';
import { recomputeBatchNormStatistics } from './batch-norm-statistics';
import { EmaState, WeightEma } from './ema';
import { paperOptimizer } from './optimizers';
import { StepRunner, StepRunnerFactory, localRunner } from './runner';
import { Schedule, paperSchedule } from './schedules';
import type { EpochTiming } from './time-budget';
import type { Task, ValidationProgress, ValidationResult } from './task';

/** A checkpoint as fit hands it to a store: the model, its optimizer and fit's JSON state. */
export interface StoredCheckpoint {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  state: unknown;
}

/**
 * Where checkpoints go. Implementations live where files do (runtime's FileCheckpointStore); tests use
 * memory. `load` writes the saved weights into `model` and returns a rebuilt optimizer with its state,
 * or null when there is no checkpoint of that name.
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
  /** The batch's loss: the sum of `losses`. */
  loss: number;
  /** Named parts of the loss (the task's, and `weightDecay`). */
  losses: Record<string, number>;
  /** The task's training metrics for this batch, in training mode, before the update (classification: accuracy). */
  metrics: Record<string, number>;
  examples: number;
  /** Examples in this batch over the wall time since the previous step ended (data loading included). */
  imagesPerSecond: number;
  /** Seconds this step waited for its batch from the data source (0 when the loader kept ahead). */
  dataWaitSeconds: number;
  lr: number;
}

export interface EpochSummary {
  epoch: number;
  /** Example-weighted means over the epoch's training batches. */
  train: { loss: number; losses: Record<string, number>; metrics: Record<string, number>; examples: number };
  /** Validation metrics (with the averaged weights when EMA is on), null without validation data. */
  val: Record<string, number> | null;
  /** Step count at the end of the epoch. */
  step: number;
  lr: number;
}

export interface EpochInfo<Details = unknown> extends EpochSummary {
  /** The full validation result (classification: per class, confusion), null without validation data. */
  validation: ValidationResult<Details> | null;
}

export type StopReason = 'epochs' | 'steps' | 'maxMinutes' | 'signal';

/** The best epoch by the task's best metric. */
export interface BestEpoch {
  epoch: number;
  step: number;
  metric: string;
  value: number;
}

export interface FitResult<Details = unknown> {
  /** Optimizer steps over the whole run (resumed ones included). */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  stoppedBy: StopReason;
  /** One entry per completed epoch, those before a resume included. */
  history: EpochSummary[];
  /** Validation of the final weights (averaged when EMA is on), null without validation data. */
  val: ValidationResult<Details> | null;
  /** The best epoch by the task's best metric, null without validation data. */
  best: BestEpoch | null;
  /** Wall time of this call, seconds. */
  seconds: number;
  /**
   * Seconds of this call spent in training steps (task.prepare, the step, the callbacks between steps),
   * and seconds the steps waited for their batches from the data source: the loader starves the
   * step when the second is not small next to the first.
   */
  timing: { stepSeconds: number; dataWaitSeconds: number };
  /** The step this call resumed from, null when it started fresh. */
  resumedFrom: number | null;
}

export interface TrainBeginInfo {
  step: number;
  epoch: number;
  /** Batches per epoch: ⌈data.size / batchSize⌉ (⌊…⌋ with dropRemainder). */
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
  /** Called when FitOptions.plan has set the run's length: the run now ends at `totalSteps`. */
  onPlan?(info: { step: number; totalSteps: number; schedule: Schedule }): void | Promise<void>;
  /** Called after each validation batch. */
  onValidationProgress?(info: ValidationProgress & { step: number }): void | Promise<void>;
  /** Called after a checkpoint is saved. */
  onCheckpoint?(info: { name: string; step: number }): void | Promise<void>;
  onTrainEnd?(result: FitResult): void | Promise<void>;
}

export interface CheckpointOptions {
  store: CheckpointStore;
  /** Also save every this many steps (as 'last' and 'step-<n>'); 0: only at epoch ends and at a stop. Default 0. */
  everySteps?: number;
  /**
   * Also save 'last' when this many minutes have passed since the last save (0: off), which bounds the
   * work a hard kill can lose. Default 0.
   */
  everyMinutes?: number;
  /** Step checkpoints to keep (oldest removed first). Default 3. */
  keep?: number;
}

export interface FitOptions<Batch = ClassificationBatch> {
  /** What a batch is, the loss and validation. Default: {@link classificationTask}(). */
  task?: Task<Batch>;
  /** Where steps run. Default: {@link localRunner}() (this thread). runtime's dataParallel() uses worker threads. */
  runner?: StepRunnerFactory;
  /** Total epochs (the whole run, resumed ones included). Default: 1 when neither steps nor maxMinutes is given, else unlimited. */
  epochs?: number;
  /** Total optimizer steps (the whole run). */
  steps?: number;
  /** Wall-clock budget of this call; training stops at the first step boundary past it and saves 'last'. */
  maxMinutes?: number;
  /** Examples per optimizer step. Default 32. */
  batchSize?: number;
  /** Seed of the data order, augmentation and dropout masks (passed to `data.batches` and the runner). Default 0. */
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
  /**
   * Leave out each epoch's last batch when it is short (its examples train in other epochs: the order is
   * reshuffled every epoch), so every step has `batchSize` examples. The onnxruntime engine compiles one
   * step per batch shape and keeps each one's memory, so a short batch would cost a second compiled step
   * and its memory (measured: 8.6 GB peak RSS instead of 5.8 GB for SSDLite V2 α 0.5 at 320 px, batch 32).
   * With fewer examples than one batch, the one short batch stays. Default false.
   */
  dropRemainder?: boolean;
  /** Default: {@link paperSchedule} (0.045 × 0.98 per epoch). */
  schedule?: Schedule;
  /** Builds the optimizer for a fresh run (its learning rate is set from the schedule every step). Default: the papers' RMSprop. */
  optimizer?: () => tf.Optimizer;
  /** L2 coefficient on conv and FC kernels. Default 4e-5. */
  weightDecay?: number;
  /** Micro-batches per step (per worker) whose gradients are averaged. Default 1. */
  accumulate?: number;
  /** Decay of an exponential moving average of the weights (e.g. 0.999), used for validation and left in the model at the end. Default off. */
  ema?: number;
  validation?: TrainingData<Batch>;
  /** Validate after every n-th epoch only (the final weights are always validated). Default 1. */
  validateEvery?: number;
  /** Default: batchSize. */
  validationBatchSize?: number;
  /**
   * Before each validation and at the end, recompute the batch-norm moving statistics for the current
   * weights from this many training examples (see batch-norm-statistics.ts: the moving averages lag the
   * weights in short runs). false keeps the moving averages as training left them. Default 512.
   */
  batchNormStatistics?: number | false;
  checkpoints?: CheckpointOptions;
  /** Continue from the store's 'last' checkpoint: weights, optimizer, schedule position and data order. */
  resume?: boolean;
  callbacks?: FitCallback[];
  /** Stops at the next step boundary (saving 'last') when aborted, e.g. on Ctrl-C or SIGTERM. */
  signal?: AbortSignal;
  /** Milliseconds clock for maxMinutes, everyMinutes and throughput; default performance.now. Tests pass a fake one. */
  clock?: () => number;
  /**
   * Sets the run's length from its measured speed (a time budget: see time-budget.ts'
   * stepsWithinMinutes). Called at the end of the first epoch this call completes (after its
   * validation and checkpoint) or after `planAfterSteps` steps of the call if that comes first, with
   * what it measured; fit then follows the returned schedule and also stops at the returned step.
   * Called again, to correct the plan, at the end of every later epoch while steps remain, timed over
   * the steps since the previous plan — a run's speed drifts: first epochs run slower than later ones —
   * with the latest validation's seconds (null until one was measured). Each schedule must give the same rates as before for the steps already
   * taken (extendedCosine does), and the caller records each plan so that a resumed run passes it as
   * `schedule` and `steps` instead of planning again.
   */
  plan?: (timing: EpochTiming) => RunPlan | Promise<RunPlan>;
  /** With `plan`: plan after this many steps of the call when the first epoch is longer. Default 50. */
  planAfterSteps?: number;
}

/** What FitOptions.plan returns: the run's total steps and the schedule from here on. */
export interface RunPlan {
  steps: number;
  schedule: Schedule;
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
  version: 2;
  /** The task that wrote it (a checkpoint of one task does not resume another). */
  task: string;
  /** Optimizer steps done. */
  step: number;
  /** Current 0-based epoch and batches of it done. */
  epoch: number;
  batchInEpoch: number;
  seed: number;
  batchSize: number;
  /** Example-weighted sums of the current epoch's training losses (`loss:<name>`) and metrics (`metric:<name>`). */
  epochSums: Record<string, number>;
  epochExamples: number;
  history: EpochSummary[];
  best: BestEpoch | null;
  ema: EmaState | null;
}

function checkPositive(field: string, value: number | undefined, integer: boolean, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`fit: options.${field} must be a number. Received ${String(value)}.`);
  if ((integer && !Number.isInteger(value)) || value < min) {
    throw new RangeError(`fit: options.${field} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}. Received ${value}.`);
  }
}

/** Reads fit's state from a checkpoint; version 1 (classification only, before the task seam) is converted. */
export function parseFitState(state: unknown, where: string): FitState {
  const s = state as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null || s.format !== 'mobilenets-fit' || (s.version !== 1 && s.version !== 2)) {
    throw new Error(`${where}: the checkpoint's state is not fit's (expected format 'mobilenets-fit' version 1 or 2); it was not saved by fit.`);
  }
  for (const key of ['step', 'epoch', 'batchInEpoch', 'seed', 'batchSize'] as const) {
    if (typeof s[key] !== 'number') throw new Error(`${where}: state.${key} must be a number. Received ${JSON.stringify(s[key])}.`);
  }
  if (!Array.isArray(s.history)) throw new Error(`${where}: state.history must be an array.`);
  if (s.version === 2) {
    if (typeof s.task !== 'string' || typeof s.epochSums !== 'object' || typeof s.epochExamples !== 'number') {
      throw new Error(`${where}: state.task, state.epochSums and state.epochExamples are required in version 2.`);
    }
    return s as unknown as FitState;
  }
  // Version 1: classification, with loss and top-1 fields by name.
  type V1Summary = { epoch: number; step: number; lr: number; train: { loss: number; accuracy: number; images: number }; val: { top1: number; top5: number; loss: number } | null };
  const v1 = s as unknown as { epochLoss: number; epochCorrect: number; epochImages: number; history: V1Summary[]; best: { epoch: number; step: number; top1: number } | null; ema: EmaState | null };
  return {
    format: 'mobilenets-fit',
    version: 2,
    task: 'classification',
    step: s.step as number,
    epoch: s.epoch as number,
    batchInEpoch: s.batchInEpoch as number,
    seed: s.seed as number,
    batchSize: s.batchSize as number,
    epochSums: { 'loss:crossEntropy': v1.epochLoss, 'metric:accuracy': v1.epochCorrect },
    epochExamples: v1.epochImages,
    history: v1.history.map((h) => ({
      epoch: h.epoch,
      step: h.step,
      lr: h.lr,
      train: { loss: h.train.loss, losses: { crossEntropy: h.train.loss }, metrics: { accuracy: h.train.accuracy }, examples: h.train.images },
      val: h.val === null ? null : { ...h.val },
    })),
    best: v1.best === null ? null : { epoch: v1.best.epoch, step: v1.best.step, metric: 'top1', value: v1.best.top1 },
    ema: v1.ema ?? null,
  };
}

function better(value: number, best: BestEpoch | null, mode: 'max' | 'min'): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === null) return true;
  return mode === 'max' ? value > best.value : value < best.value;
}

/** Means of an epoch's running sums: losses under `loss:`, metrics under `metric:`. */
function epochMeans(sums: Record<string, number>, examples: number): { loss: number; losses: Record<string, number>; metrics: Record<string, number> } {
  const losses: Record<string, number> = {};
  const metrics: Record<string, number> = {};
  for (const [key, sum] of Object.entries(sums)) {
    const [kind, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    (kind === 'loss' ? losses : metrics)[name] = sum / examples;
  }
  return { loss: Object.values(losses).reduce((a, b) => a + b, 0), losses, metrics };
}

/** Optimizer steps in an epoch of `examples` at `batchSize`: the last, short batch included unless dropRemainder leaves it out ({@link FitOptions.dropRemainder}). */
export function epochSteps(examples: number, batchSize: number, dropRemainder = false): number {
  return dropRemainder && examples >= batchSize ? Math.floor(examples / batchSize) : Math.ceil(examples / batchSize);
}

/**
 * Trains `model` on `data` with `options.task` (classification by default: a softmax output
 * [batch, data.classes]). The model is updated in place; with `ema` its weights are the averaged ones
 * when fit returns.
 */
export async function fit<Batch = ClassificationBatch>(model: tfl.LayersModel, data: TrainingData<Batch>, options: FitOptions<Batch> = {}): Promise<FitResult> {
  const {
    batchSize = 32,
    seed = 0,
    shuffle = true,
    dropRemainder = false,
    weightDecay = 4e-5,
    accumulate = 1,
    validation,
    callbacks = [],
    signal,
    clock = () => performance.now(),
  } = options;
  const task = (options.task ?? classificationTask()) as Task<Batch>;
  let schedule = options.schedule ?? paperSchedule();
  checkPositive('epochs', options.epochs, true, 1);
  checkPositive('steps', options.steps, true, 1);
  checkPositive('maxMinutes', options.maxMinutes, false, 0);
  checkPositive('batchSize', batchSize, true, 1);
  checkPositive('accumulate', accumulate, true, 1);
  checkPositive('validationBatchSize', options.validationBatchSize, true, 1);
  checkPositive('validateEvery', options.validateEvery, true, 1);
  const validateEvery = options.validateEvery ?? 1;
  checkPositive('checkpoints.everySteps', options.checkpoints?.everySteps, true, 0);
  checkPositive('checkpoints.everyMinutes', options.checkpoints?.everyMinutes, false, 0);
  checkPositive('checkpoints.keep', options.checkpoints?.keep, true, 0);
  if (!Number.isInteger(seed)) throw new RangeError(`fit: options.seed must be an integer. Received ${seed}.`);
  if (accumulate > batchSize) throw new RangeError(`fit: options.accumulate (${accumulate}) cannot exceed options.batchSize (${batchSize}).`);
  if (!(weightDecay >= 0)) throw new RangeError(`fit: options.weightDecay must be ≥ 0. Received ${weightDecay}.`);
  if (options.resume && options.checkpoints === undefined) throw new TypeError('fit: options.resume needs options.checkpoints.store to load the checkpoint from.');
  task.check?.(model, data, 'training');
  if (validation !== undefined) task.check?.(model, validation, 'validation');
  const stepsPerEpoch = epochSteps(data.size, batchSize, dropRemainder);
  if (stepsPerEpoch === 0) throw new RangeError('fit: the training data is empty (data.size is 0).');
  const epochs = options.epochs ?? (options.steps === undefined && options.maxMinutes === undefined ? 1 : Infinity);
  let maxSteps = options.steps ?? Infinity;
  checkPositive('planAfterSteps', options.planAfterSteps, true, 1);
  const planAfterSteps = options.planAfterSteps ?? 50;
  const store = options.checkpoints?.store;
  const everySteps = options.checkpoints?.everySteps ?? 0;
  const everyMs = (options.checkpoints?.everyMinutes ?? 0) * 60_000;
  const keep = options.checkpoints?.keep ?? 3;
  const statisticsExamples = options.batchNormStatistics ?? 512;
  if (statisticsExamples !== false) checkPositive('batchNormStatistics', statisticsExamples, true, 1);
  const started = clock();

  let optimizer: tf.Optimizer | null = null;
  let runner: StepRunner | null = null;
  let ema: WeightEma | null = null;
  let state: FitState = {
    format: 'mobilenets-fit', version: 2, task: task.name, step: 0, epoch: 0, batchInEpoch: 0, seed, batchSize,
    epochSums: {}, epochExamples: 0, history: [], best: null, ema: null,
  };
  let resumedFrom: number | null = null;
  /** The newest checkpoint written by this run or found on resume: what survives a divergence. */
  let lastGood: { name: string; step: number } | null = null;
  let lastSavedStep = -1;
  let lastSaveTime = started;
  /** The steps at which fit's model (weights) and optimizer were last brought up to date with the runner's. */
  let weightsSynced = -1;
  let optimizerSynced = -1;

  const emit = async <K extends keyof FitCallback>(hook: K, arg: Parameters<NonNullable<FitCallback[K]>>[0]) => {
    for (const c of callbacks) await (c[hook] as ((a: typeof arg) => void | Promise<void>) | undefined)?.call(c, arg);
  };
  const sync = async (withOptimizer: boolean) => {
    if (runner === null) return;
    const weights = weightsSynced !== state.step;
    const optimizer = withOptimizer && optimizerSynced !== state.step;
    if (!weights && !optimizer) return;
    // Weights handed over at this step already may since hold fit's own statistics (recomputed for
    // validation): those stay, in the model and in the checkpoints, and only the optimizer state follows.
    await runner.sync({ weights, optimizer });
    weightsSynced = state.step;
    if (withOptimizer) optimizerSynced = state.step;
  };
  const save = async (name: string) => {
    if (store === undefined || optimizer === null) return;
    await sync(true);
    state.ema = ema === null ? null : ema.toJSON();
    await store.save(name, { model, optimizer, state: JSON.parse(JSON.stringify(state)) });
    state.ema = null;
    lastSaveTime = clock();
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
  const recomputeStatistics = async () => {
    if (statisticsExamples === false) return;
    const engine = runner?.batchMoments?.(model);
    try {
      await recomputeBatchNormStatistics(model, task, data, { examples: statisticsExamples, batchSize, epoch: Math.max(0, state.epoch - 1), seed, moments: engine?.moments });
    } finally {
      await engine?.dispose();
    }
  };
  const validate = async (): Promise<ValidationResult | null> => {
    // After a stop (Ctrl-C, SIGTERM) the run ends without validating: `eval` measures the checkpoint.
    if (validation === undefined || signal?.aborted) return null;
    await sync(false);
    const run = async () => {
      await recomputeStatistics();
      const inference = runner?.inference?.(model);
      try {
        const result = await task.validate(model, validation, {
          batchSize: options.validationBatchSize ?? batchSize,
          predict: inference?.predict,
          signal,
          onProgress: (progress) => emit('onValidationProgress', { ...progress, step: state.step }),
        });
        // Cut short by a stop: metrics of part of the data would mislead (and could pick the best checkpoint).
        return signal?.aborted ? null : result;
      } finally {
        await inference?.dispose();
      }
    };
    return ema === null ? run() : ema.withAveraged(run);
  };

  try {
    if (options.resume) {
      const loaded = await store!.load(CHECKPOINT_NAMES.last, model);
      if (loaded !== null) {
        optimizer = loaded.optimizer;
        state = parseFitState(loaded.state, `fit: checkpoint '${CHECKPOINT_NAMES.last}'`);
        if (state.task !== task.name) throw new RangeError(`fit: checkpoint '${CHECKPOINT_NAMES.last}' was written by a ${state.task} run; this is a ${task.name} run.`);
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
    runner = await (options.runner ?? localRunner())({ model, optimizer, task: task as Task<unknown>, weightDecay, accumulate, seed });
    weightsSynced = optimizerSynced = state.step;
    const totalSteps = Number.isFinite(epochs) || Number.isFinite(maxSteps) ? Math.min(maxSteps, epochs * stepsPerEpoch) : null;
    await emit('onTrainBegin', { step: state.step, epoch: state.epoch, stepsPerEpoch, totalSteps, resumed: resumedFrom !== null });

    let stoppedBy: StopReason | null = null;
    const shouldStop = (): StopReason | null => {
      if (state.step >= maxSteps) return 'steps';
      if (signal?.aborted) return 'signal';
      if (options.maxMinutes !== undefined && clock() - started >= options.maxMinutes * 60_000) return 'maxMinutes';
      return null;
    };
    let lastVal: ValidationResult | null = null;
    let lastValStep = -1;
    let lr = schedule.lr(state.step, state.epoch);
    const timing = { stepSeconds: 0, dataWaitSeconds: 0 };
    // Over this call's steps: when the first ended, how many followed, when the last ended; when the
    // latest plan (options.plan: a first plan, then corrections) was made, and after how many.
    const callStart = clock();
    let firstStepEnd: number | null = null;
    let stepsAfterFirst = 0;
    let lastStepEnd = callStart;
    let lastPlan = null as { at: number; stepsAfterFirst: number } | null; // set inside makePlan
    let lastValidationSeconds: number | null = null;
    const makePlan = async (validationSeconds: number | null) => {
      const secondsPerStep = lastPlan !== null
        ? (lastStepEnd - lastPlan.at) / 1000 / (stepsAfterFirst - lastPlan.stepsAfterFirst)
        : stepsAfterFirst > 0 ? (lastStepEnd - firstStepEnd!) / 1000 / stepsAfterFirst : (lastStepEnd - callStart) / 1000;
      const plan = await options.plan!({ step: state.step, epochs: state.epoch, stepsPerEpoch, elapsedSeconds: (clock() - started) / 1000, secondsPerStep, validationSeconds });
      checkPositive('plan().steps', plan.steps, true, 1);
      schedule = plan.schedule;
      maxSteps = Math.min(options.steps ?? Infinity, plan.steps);
      lastPlan = { at: clock(), stepsAfterFirst };
      await emit('onPlan', { step: state.step, totalSteps: Math.min(maxSteps, epochs * stepsPerEpoch), schedule });
    };

    while (state.epoch < epochs && stoppedBy === null) {
      stoppedBy = shouldStop();
      if (stoppedBy !== null) break;
      const epoch = state.epoch;
      let previousEnd = clock();
      const batches = data.batches({ epoch, batchSize, seed, skip: state.batchInEpoch, shuffle });
      let waitFrom = clock();
      // The epoch ends after its stepsPerEpoch-th batch: with dropRemainder, the short remainder is neither waited for nor trained on.
      if (state.batchInEpoch < stepsPerEpoch) for await (const batch of batches) {
        const arrived = clock();
        const dataWaitSeconds = (arrived - waitFrom) / 1000;
        timing.dataWaitSeconds += dataWaitSeconds;
        stoppedBy = shouldStop();
        if (stoppedBy !== null) break;
        lr = schedule.lr(state.step, epoch);
        const result = await runner.step(task.prepare(batch), { lr, step: state.step });
        if (!Number.isFinite(result.loss)) throw new TrainingDivergedError(state.step + 1, epoch, result.loss, lastGood, lr);
        if (ema !== null) {
          await sync(false);
          ema.update(state.step);
        }
        state.step += 1;
        state.batchInEpoch += 1;
        for (const [name, value] of Object.entries(result.losses)) state.epochSums[`loss:${name}`] = (state.epochSums[`loss:${name}`] ?? 0) + value * result.examples;
        for (const [name, value] of Object.entries(result.metrics)) state.epochSums[`metric:${name}`] = (state.epochSums[`metric:${name}`] ?? 0) + value * result.examples;
        state.epochExamples += result.examples;
        const now = clock();
        const seconds = Math.max(now - previousEnd, 1e-3) / 1000;
        previousEnd = now;
        if (firstStepEnd === null) firstStepEnd = now;
        else stepsAfterFirst += 1;
        lastStepEnd = now;
        await emit('onStepEnd', {
          step: state.step, epoch, batch: state.batchInEpoch, loss: result.loss, losses: result.losses, metrics: result.metrics,
          examples: result.examples, imagesPerSecond: result.examples / seconds, dataWaitSeconds, lr,
        });
        if (everySteps > 0 && state.step % everySteps === 0) {
          await saveStepCheckpoint();
          await saveLast();
        } else if (everyMs > 0 && clock() - lastSaveTime >= everyMs) {
          await saveLast();
        }
        // An epoch longer than planAfterSteps: plan from the steps so far (validation's time not yet seen).
        if (options.plan !== undefined && lastPlan === null && stepsAfterFirst + 1 >= planAfterSteps && state.batchInEpoch < stepsPerEpoch) await makePlan(null);
        waitFrom = clock();
        timing.stepSeconds += (waitFrom - arrived) / 1000;
        if (state.batchInEpoch >= stepsPerEpoch) break;
      }
      if (stoppedBy !== null) break;
      if (state.batchInEpoch === 0) {
        throw new RangeError(`fit: epoch ${epoch} gave no batches to train on (the data has ${data.size} examples): every example failed to load, or the data source yields nothing.`);
      }

      const epochEnd = clock();
      const validated = (epoch + 1) % validateEvery === 0 ? await validate() : null;
      const validationSeconds = validated === null ? null : (clock() - epochEnd) / 1000;
      if (validated !== null) {
        lastVal = validated;
        lastValStep = state.step;
      }
      const summary: EpochSummary = {
        epoch,
        train: { ...epochMeans(state.epochSums, state.epochExamples), examples: state.epochExamples },
        val: validated === null ? null : { ...validated.metrics },
        step: state.step,
        lr,
      };
      state.history.push(summary);
      state.epoch += 1;
      state.batchInEpoch = 0;
      state.epochSums = {};
      state.epochExamples = 0;
      const value = validated?.metrics[task.best.name];
      if (validated !== null && value === undefined) {
        throw new RangeError(`fit: the ${task.name} task picks the best checkpoint by '${task.best.name}', but its validation gave only ${Object.keys(validated.metrics).join(', ')}.`);
      }
      const improved = value !== undefined && better(value, state.best, task.best.mode);
      if (improved) state.best = { epoch, step: state.step, metric: task.best.name, value };
      if (improved) await save(CHECKPOINT_NAMES.best);
      lastSavedStep = -1; // the epoch counters changed even if the step did not
      await saveLast();
      await emit('onEpochEnd', { ...summary, validation: validated });
      if (validationSeconds !== null) lastValidationSeconds = validationSeconds;
      if (options.plan !== undefined && lastPlan === null) await makePlan(validationSeconds);
      else if (lastPlan !== null && state.step < maxSteps && state.epoch < epochs && stepsAfterFirst > lastPlan.stepsAfterFirst) {
        // Every epoch end corrects the plan, with the last validation's time once one was measured: a run
        // validated only at its end would otherwise keep a plan timed over its first steps (compilation included).
        await makePlan(lastValidationSeconds);
      }
    }
    if (stoppedBy === null) stoppedBy = 'epochs';
    await saveLast();
    await sync(true);

    const val = validation === undefined ? null : lastValStep === state.step && lastVal !== null ? lastVal : await validate();
    ema?.copyInto();
    // The model fit hands back: its statistics for its final (averaged, with EMA) weights.
    if (validation === undefined || ema !== null) await recomputeStatistics();
    const result: FitResult = {
      steps: state.step,
      epochs: state.epoch,
      stoppedBy,
      history: state.history,
      val,
      best: state.best,
      seconds: (clock() - started) / 1000,
      timing,
      resumedFrom,
    };
    await emit('onTrainEnd', result);
    return result;
  } finally {
    await runner?.dispose();
    optimizer?.dispose();
    ema?.dispose();
  }
}
