/**
 * Before training starts: does the step fit — each replica's wasm heap (4 GiB) and the machine's memory
 * — and if not, how many accumulated micro-batches make it fit, or which batch or input size would.
 */
import * as os from 'node:os';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackendName } from '../backend';
import { TrainingMemoryEstimate, WASM_HEAP_MAX_BYTES, estimateTrainingMemory, formatBytes } from './estimate';
import { ModelMemoryProfile, modelMemoryProfile, scaleProfileInput } from './layers';

export interface MemoryLimits {
  /** The wasm heap of one replica; default 4 GiB − 64 KiB (tfjs-backend-wasm's maximum). */
  wasmHeapBytes: number;
  /** The machine's memory training may use; default the memory available now (os.freemem()). */
  memoryBytes: number;
  /** Fraction of each limit the estimates may fill; default 0.97 (the estimates are already upper bounds). */
  usable: number;
}

export function defaultMemoryLimits(): MemoryLimits {
  return { wasmHeapBytes: WASM_HEAP_MAX_BYTES, memoryBytes: os.freemem(), usable: 0.97 };
}

export interface PlanTrainingOptions {
  model: tfl.LayersModel | ModelMemoryProfile;
  /** Images per optimizer step, over all workers. */
  batchSize: number;
  backend: BackendName;
  /** 1: train in this process; ≥ 2: data-parallel worker threads, each with its own replica (and wasm heap). Default 1. */
  workers?: number;
  /** Micro-batches per step the caller asked for (each worker's shard is split into this many); default 1. A plan never uses fewer. */
  accumulate?: number;
  /** true (default): raise `accumulate` when the batch does not fit; false: refuse, naming the largest batch that fits. */
  split?: boolean;
  /** What messages call the place the step runs (default: the backend's name); e.g. 'onnxruntime', whose step holds what the cpu backend's does. */
  runsOn?: string;
  limits?: Partial<MemoryLimits>;
}

export interface TrainingBatchPlan {
  batchSize: number;
  workers: number;
  /** Micro-batches each worker's shard is split into (their gradients are averaged before the update). */
  accumulate: number;
  /** The largest micro-batch (micro-batches differ by at most one image). */
  microBatch: number;
  /** Estimated peak of one replica at `microBatch`: its wasm heap on wasm, the memory it adds elsewhere. */
  perReplicaBytes: number;
  /** What `perReplicaBytes` is held to: the usable wasm heap, or the usable memory per replica. */
  limitBytes: number;
  /** Estimated resident memory of the whole run (this process and its workers). */
  totalBytes: number;
  /** The usable machine memory `totalBytes` is held to. */
  memoryLimitBytes: number;
  /** The batch fits as asked (with the caller's `accumulate`); false when the plan split it further. */
  fits: boolean;
  /** The largest batch per step that fits without accumulation, over these workers (it may exceed `batchSize`). */
  largestBatch: number;
  /** One line for the user when the plan split the batch, else null. */
  message: string | null;
  estimate: TrainingMemoryEstimate;
}

interface Check {
  estimate: TrainingMemoryEstimate;
  totalBytes: number;
  /** Which limit the step exceeds, or null when it fits. */
  exceeds: 'heap' | 'memory' | null;
}

/** The largest of the micro-batches `shard` images are split into (training's splitBatch: sizes differ by at most one). */
const largestPart = (shard: number, parts: number) => Math.ceil(shard / parts);

/**
 * Plans the training step's batch for memory: the smallest accumulation (at least the one asked for) at
 * which each worker's micro-batch fits its wasm heap and all workers together fit the machine's memory.
 * Throws a RangeError when even one image at a time does not fit (naming the largest input size that
 * does), or, with `split: false`, when the batch does not fit as asked (naming the largest batch that does).
 */
export function planTrainingBatch(options: PlanTrainingOptions): TrainingBatchPlan {
  const { batchSize, backend, workers = 1, accumulate: asked = 1, split = true } = options;
  for (const [name, value] of [['batchSize', batchSize], ['workers', workers], ['accumulate', asked]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`planTrainingBatch: ${name} must be an integer ≥ 1. Received ${value}.`);
  }
  if (batchSize < workers * asked) {
    throw new RangeError(`planTrainingBatch: a batch of ${batchSize} cannot be split over ${plural(workers, 'worker')} × ${plural(asked, 'micro-batch', 'micro-batches')}; use a batch of at least ${workers * asked}.`);
  }
  const profile = 'activationFloats' in options.model ? options.model : modelMemoryProfile(options.model);
  const limits = { ...defaultMemoryLimits(), ...options.limits };
  if (!(limits.usable > 0 && limits.usable <= 1)) throw new RangeError(`planTrainingBatch: limits.usable must be in (0, 1]. Received ${limits.usable}.`);
  const memoryLimitBytes = limits.memoryBytes * limits.usable;
  const heapLimitBytes = backend === 'wasm' ? limits.wasmHeapBytes * limits.usable : Infinity;

  const check = (p: ModelMemoryProfile, micro: number, parts: number): Check => {
    const estimate = estimateTrainingMemory({ model: p, batchSize: micro, backend, accumulate: parts });
    // With workers: the main process (its model and the batches, no training step) plus one replica per worker thread.
    const totalBytes = workers === 1 ? estimate.residentBytes : estimate.residentBytes - estimate.bytes + workers * estimate.workerResidentBytes;
    return { estimate, totalBytes, exceeds: estimate.bytes > heapLimitBytes ? 'heap' : totalBytes > memoryLimitBytes ? 'memory' : null };
  };
  const where = (c: Check) =>
    c.exceeds === 'heap'
      ? `the wasm heap (${formatBytes(heapLimitBytes)} usable${workers > 1 ? ' per worker' : ''})`
      : `this machine's available memory (${formatBytes(memoryLimitBytes)} usable${workers > 1 ? ` for ${workers} workers` : ''})`;

  const one = check(profile, 1, 1);
  if (one.exceeds !== null) throw new RangeError(refusal(profile, one, options.runsOn ?? backend, workers, where(one), check));

  const shard = Math.ceil(batchSize / workers);
  // The largest micro-batch that fits without accumulation (the estimate grows with the batch): doubling, then bisection.
  const fitsWhole = (micro: number) => check(profile, micro, 1).exceeds === null;
  let low = 1;
  let high = 2;
  while (high <= 2 ** 24 && fitsWhole(high)) [low, high] = [high, high * 2];
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fitsWhole(mid)) low = mid;
    else high = mid;
  }
  const largestBatch = low * workers;

  const asAsked = check(profile, largestPart(shard, asked), asked);
  let parts = asked;
  let chosen = asAsked;
  while (chosen.exceeds !== null && parts < shard) {
    parts++;
    chosen = check(profile, largestPart(shard, parts), parts);
  }
  // Holding every micro-batch's images and gradients can outgrow the limit even at one image each.
  if (chosen.exceeds !== null) throw new RangeError(refusal(profile, chosen, options.runsOn ?? backend, workers, where(chosen), check));
  const microBatch = largestPart(shard, parts);
  const whole = `batch ${batchSize}${workers > 1 ? ` over ${workers} workers` : ''}${asked > 1 ? ` in ${asked} micro-batches` : ''}`;
  if (asAsked.exceeds !== null && !split) {
    throw new RangeError(
      `${whole} of ${describeModel(profile)} does not fit in ${where(asAsked)}: the largest batch that fits is ${largestBatch}${workers > 1 ? ` (${low} per worker)` : ''}. ` +
        `Use a batch of at most ${largestBatch}, or accumulate ${parts} micro-batches per step.`,
    );
  }
  const sizes = shard % parts === 0 ? `${microBatch}` : `${microBatch - 1}–${microBatch}`;
  const message =
    asAsked.exceeds === null
      ? null
      : `${whole} does not fit in ${where(asAsked)}: training ${workers > 1 ? `each worker's ${batchSize % workers === 0 ? '' : 'up to '}${shard} images ` : ''}as ${parts} accumulated micro-batches of ${sizes} ` +
        `(estimated peak ${formatBytes(chosen.estimate.bytes)}${workers > 1 ? ' per worker' : ''}).`;
  return {
    batchSize,
    workers,
    accumulate: parts,
    microBatch,
    perReplicaBytes: chosen.estimate.bytes,
    limitBytes: Math.min(heapLimitBytes, memoryLimitBytes / workers),
    totalBytes: chosen.totalBytes,
    memoryLimitBytes,
    fits: asAsked.exceeds === null,
    largestBatch,
    message,
    estimate: chosen.estimate,
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function describeModel(profile: ModelMemoryProfile): string {
  const [h, w] = profile.inputShape;
  return `'${profile.model}' at input ${h === w ? h : `${h}×${w}`}`;
}

/** Why even one image at a time does not fit, and the largest input size (a multiple of 32) that would. */
function refusal(
  profile: ModelMemoryProfile,
  failed: Check,
  runsOn: string,
  workers: number,
  where: string,
  check: (p: ModelMemoryProfile, micro: number, parts: number) => Check,
): string {
  const needs = failed.exceeds === 'heap' ? failed.estimate.bytes : failed.totalBytes;
  const micro = failed.estimate.batchSize;
  const parts = failed.estimate.accumulate;
  const what = parts === 1 && micro === 1 ? 'even one image at a time' : `${plural(parts, 'micro-batch', 'micro-batches')} of ${micro} image${micro === 1 ? '' : 's'}`;
  let advice = '';
  const [h, w] = profile.inputShape;
  if (h === w && h >= 32) {
    let size = Math.floor(h / 32) * 32;
    while (size >= 32 && check(scaleProfileInput(profile, size), micro, parts).exceeds !== null) size -= 32;
    if (size >= 32) advice = ` The largest input size that fits is ${size}; train at ${size} or smaller.`;
  }
  if (failed.exceeds === 'memory' && workers > 1) advice += ' Or use fewer workers.';
  if (parts > 1) advice += ' Or use a smaller batch.';
  return `${describeModel(profile)} needs about ${formatBytes(needs)} to train ${what} on ${runsOn}, more than ${where}.${advice}`;
}

/**
 * Batch-norm batches below this many images slow learning: data-parallel workers compute batch-norm
 * statistics on their own shard (as PyTorch's DistributedDataParallel does without SyncBatchNorm), and
 * on the small folders of issue 8, two workers with 16 images each ended 15 epochs at a training loss of
 * 1.55 where one worker with 32 reached 1.32 (tools/quality/compare.ts, f6, three seeds).
 */
export const MIN_BATCH_NORM_BATCH = 32;

export interface ParallelPlanOptions extends Omit<PlanTrainingOptions, 'workers'> {
  /** Most workers to use (e.g. the machine's cores). */
  maxWorkers: number;
}

/**
 * How many data-parallel workers to train with, and the memory plan for them: the most (up to
 * `maxWorkers`) that leave every worker's shard of the batch at least {@link MIN_BATCH_NORM_BATCH}
 * images — or at least as large as the micro-batches memory forces on a single worker anyway (then
 * more workers change nothing about batch-norm statistics, and only add speed). One worker otherwise.
 */
export function planParallelTraining(options: ParallelPlanOptions): TrainingBatchPlan {
  const { maxWorkers, ...rest } = options;
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new RangeError(`planParallelTraining: maxWorkers must be an integer ≥ 1. Received ${maxWorkers}.`);
  const single = planTrainingBatch({ ...rest, workers: 1 });
  const smallest = Math.min(MIN_BATCH_NORM_BATCH, single.microBatch);
  for (let workers = Math.min(maxWorkers, options.batchSize); workers > 1; workers--) {
    if (Math.floor(options.batchSize / workers) >= smallest) return planTrainingBatch({ ...rest, workers });
  }
  return single;
}
