/**
 * Data-parallel training over worker threads, to put every core to work: tfjs' wasm backend computes on
 * one thread in Node, so each worker runs its own tfjs with its own wasm heap (each capped at 4 GB) and a
 * replica of the model. A step splits the batch into one shard per worker; each computes its shard's
 * gradient (in micro-batches when accumulating), writes it, weighted by its share of the batch, into
 * shared memory; then every replica applies the sum — the gradient of the whole batch — with its own
 * optimizer, and sets the batch-norm moving statistics to the mean over replicas. Replicas stay identical.
 * Batch-norm batch statistics are per shard (as in PyTorch's DistributedDataParallel without SyncBN).
 *
 * The workers know no task: they load the task's step from the module it names (`task.worker`), and
 * batches cross as named arrays. `dataParallel()` plugs this into fit as its step runner.
 */
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { hashSeed } from '@mobilenets/random';
import { RunnerContext, StepBatch, StepResult, StepRunner, StepRunnerFactory, optimizerSpec, shareSizes, sliceBatch, stepSeed } from '@mobilenets/training';
import type { BackendName } from '../backend';
import type { FromWorker, NamedArray, ToWorker } from './protocol';

export interface DataParallelOptions {
  /** Worker threads. Default: {@link defaultWorkerCount}. */
  workers?: number;
  /** The workers' tfjs backend. Default: the one this thread uses ('wasm' when none is set up). */
  backend?: BackendName;
}

/**
 * Workers that train fastest here: one per core (os.availableParallelism), at most 4. Measured on a
 * 2-core machine (README, "Training on CPU"): 2 workers train V1 0.25-128 1.4× and V1 1.0-224 1.7× as
 * fast as one thread; each worker is a thread with its own wasm heap, so more workers than cores only
 * add memory.
 */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

const sizeOf = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b as number), 1);

class WorkerHandle {
  private readonly waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  constructor(readonly worker: Worker) {
    worker.on('message', (message: FromWorker) => {
      const next = this.waiting.shift();
      if (message.type === 'error') next?.reject(new Error(`training worker: ${message.message}`));
      else next?.resolve(message);
    });
    const fail = (error: Error) => {
      this.failure = error;
      this.waiting.splice(0).forEach((w) => w.reject(error));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`a training worker stopped (exit code ${code}); it may have run out of memory — try a smaller --batch or --accumulate 2.`));
    });
  }

  request<T extends FromWorker['type']>(message: ToWorker, expect: T, transfer: ArrayBuffer[] = []): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({
        resolve: (m) => (m.type === expect ? resolve(m as Extract<FromWorker, { type: T }>) : reject(new Error(`training worker answered '${m.type}' to '${message.type}'`))),
        reject,
      });
      this.worker.postMessage(message, transfer);
    });
  }
}

async function optimizerState(optimizer: tf.Optimizer): Promise<NamedArray[]> {
  const named = await optimizer.getWeights();
  const state = named.map((w) => ({ name: w.name, data: w.tensor.dataSync().slice() as Float32Array, shape: w.tensor.shape }));
  tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  return state;
}

export class DataParallelRunner implements StepRunner {
  private constructor(
    private readonly handles: WorkerHandle[],
    private readonly context: RunnerContext,
    /** The workers' gradient slots (shared memory): an idle worker's slot is zeroed from here. */
    private readonly gradients: Float32Array,
    readonly backend: string,
  ) {}

  get workers(): number {
    return this.handles.length;
  }

  /** Starts the workers, each with a replica of the context's model, optimizer state and task. */
  static async create(context: RunnerContext, options: DataParallelOptions = {}): Promise<DataParallelRunner> {
    const { model, optimizer, task } = context;
    const workers = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`dataParallel: workers must be an integer ≥ 1. Received ${workers}.`);
    if (task.worker === undefined) {
      throw new TypeError(`dataParallel: the ${task.name} task does not say how workers load it (task.worker); train it with the local runner.`);
    }
    const trainable = model.trainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0);
    const statistics = model.nonTrainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0);
    const gradients = new SharedArrayBuffer(4 * workers * Math.max(trainable, 1));
    const statisticsBuffer = new SharedArrayBuffer(4 * workers * Math.max(statistics, 1));
    const topology = JSON.stringify(model.toJSON(null, false));
    const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
    const state = await optimizerState(optimizer);
    const backend = options.backend ?? ((tf.getBackend() as BackendName | undefined) ?? 'wasm');
    const handles = Array.from({ length: workers }, () => new WorkerHandle(new Worker(path.join(__dirname, 'worker-entry.js'))));
    try {
      const ready = await Promise.all(
        handles.map((h, workerIndex) =>
          h.request(
            {
              type: 'init', workerIndex, workers, backend, topology, weights, optimizer: { ...optimizerSpec(optimizer), state },
              task: task.worker!, weightDecay: context.weightDecay, gradients, statistics: statisticsBuffer,
            },
            'ready',
          ),
        ),
      );
      return new DataParallelRunner(handles, context, new Float32Array(gradients), ready[0].backend);
    } catch (error) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw error;
    }
  }

  /**
   * One optimizer step: shard k of the batch goes to worker k, split there into `accumulate`
   * micro-batches. A batch smaller than workers × accumulate (an epoch's last) uses fewer workers and
   * micro-batches. Dropout masks of micro-batch g (counted over all workers) are seeded
   * hashSeed(stepSeed(seed, step), g), as the local runner seeds them.
   */
  async step(batch: StepBatch, { lr, step }: { lr: number; step: number }): Promise<StepResult> {
    const active = Math.min(this.workers, batch.examples);
    const shares = shareSizes(batch.examples, active);
    const seed = stepSeed(this.context.seed, step);
    let start = 0;
    let micro = 0;
    const pending = shares.map((count, k) => {
      const shard = sliceBatch(batch, start, start + count);
      start += count;
      const parts = Math.min(this.context.accumulate, count);
      const seeds = Array.from({ length: parts }, () => hashSeed(seed, micro++));
      const transfer = Object.values(shard.tensors).map((t) => t.data.buffer as ArrayBuffer);
      return this.handles[k].request({ type: 'step', tensors: shard.tensors, examples: count, weight: count / batch.examples, seeds }, 'gradients', transfer);
    });
    const slot = this.gradients.length / this.workers;
    this.gradients.fill(0, active * slot); // idle workers add nothing to the sum
    const results = await Promise.all(pending);
    const skip = results.map((r) => new Set(r.missing)).reduce((a, b) => new Set([...a].filter((i) => b.has(i))));
    await Promise.all(this.handles.map((h) => h.request({ type: 'apply', learningRate: lr, active, skip: [...skip] }, 'applied')));
    const examples = results.reduce((n, r) => n + r.examples, 0);
    const mean = (pick: (r: (typeof results)[number]) => Record<string, number>) =>
      Object.fromEntries(Object.keys(pick(results[0])).map((name) => [name, results.reduce((s, r) => s + pick(r)[name] * r.examples, 0) / examples]));
    const losses = mean((r) => r.losses);
    return { loss: Object.values(losses).reduce((a, b) => a + b, 0), losses, metrics: mean((r) => r.metrics), examples };
  }

  /** fit's model gets the replicas' weights; with optimizer: true, fit's optimizer gets their state. */
  async sync(options: { weights?: boolean; optimizer?: boolean } = {}): Promise<void> {
    const { model, optimizer } = this.context;
    if (options.weights !== false) {
      const { weights } = await this.handles[0].request({ type: 'weights' }, 'weights');
      const variables = model.weights; // built anew from every layer at each access: read once
      const tensors = weights.map((w, i) => tf.tensor(w, variables[i].shape as number[]));
      model.setWeights(tensors);
      tf.dispose(tensors);
    }
    if (options.optimizer) {
      const { state } = await this.handles[0].request({ type: 'optimizer' }, 'optimizer');
      const previous = await optimizer.getWeights();
      const incoming = state.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape) }));
      await optimizer.setWeights(incoming);
      tf.dispose(incoming.map((s) => s.tensor));
      tf.dispose(previous.map((w) => w.tensor)); // the replaced slot variables and the fresh iteration count
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.handles.map((h) => new Promise<void>((resolve) => {
      h.worker.once('exit', () => resolve());
      h.worker.postMessage({ type: 'stop' } satisfies ToWorker);
    })));
  }
}

/** fit's step runner on worker threads: `fit(model, data, { runner: dataParallel({ workers: 2 }) })`. */
export function dataParallel(options: DataParallelOptions = {}): StepRunnerFactory {
  return (context) => DataParallelRunner.create(context, options);
}
