/**
 * Data-parallel training over worker threads, to put every core to work: tfjs' wasm backend computes on
 * one thread in Node, so each worker runs its own tfjs with its own wasm heap (each capped at 4 GB) and a
 * replica of the model. A step splits the batch into one shard per worker; each computes its shard's
 * gradient (optionally in micro-batches), writes it, weighted by its share of the batch, into shared
 * memory; then every replica applies the sum — the gradient of the whole batch — with its own optimizer,
 * and sets the batch-norm moving statistics to the mean over replicas. Replicas stay identical.
 * Batch-norm batch statistics are per shard (as in PyTorch's DistributedDataParallel without SyncBN).
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LossOptions } from '@mobilenets/training';
import type { BackendName } from '../backend';
import type { FromWorker, OptimizerSpec, ToWorker } from './protocol';

export interface DataParallelOptions {
  /** Worker threads; default 2. */
  workers?: number;
  backend?: BackendName;
  optimizer: OptimizerSpec;
  loss?: LossOptions;
}

export interface ParallelStepResult {
  loss: number;
  examples: number;
}

const sizeOf = (shape: (number | null)[]) => shape.reduce<number>((a, b) => a * (b as number), 1);

class WorkerHandle {
  private readonly waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  constructor(readonly worker: Worker) {
    worker.on('message', (message: FromWorker) => {
      const next = this.waiting.shift();
      if (message.type === 'error') next?.reject(new Error(`training worker: ${message.message}`));
      else next?.resolve(message);
    });
    worker.on('error', (error) => this.waiting.splice(0).forEach((w) => w.reject(error)));
    worker.on('exit', (code) => {
      if (code !== 0) this.waiting.splice(0).forEach((w) => w.reject(new Error(`training worker exited with code ${code}`)));
    });
  }

  request<T extends FromWorker['type']>(message: ToWorker, expect: T, transfer: ArrayBuffer[] = []): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({
        resolve: (m) => (m.type === expect ? resolve(m as Extract<FromWorker, { type: T }>) : reject(new Error(`training worker answered '${m.type}' to '${message.type}'`))),
        reject,
      });
      this.worker.postMessage(message, transfer);
    });
  }
}

export class DataParallelTrainer {
  private constructor(
    private readonly handles: WorkerHandle[],
    private learningRate: number,
    readonly backend: string,
  ) {}

  get workers(): number {
    return this.handles.length;
  }

  /** Starts the workers, each with a replica of `model` (topology and current weights). */
  static async create(model: tfl.LayersModel, options: DataParallelOptions): Promise<DataParallelTrainer> {
    const workers = options.workers ?? 2;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`DataParallelTrainer: workers must be an integer ≥ 1. Received ${workers}.`);
    const trainable = model.trainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0);
    const statistics = model.nonTrainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0);
    const gradients = new SharedArrayBuffer(4 * workers * trainable);
    const statisticsBuffer = new SharedArrayBuffer(4 * workers * Math.max(statistics, 1));
    const topology = JSON.stringify(model.toJSON(null, false));
    const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
    const handles = Array.from({ length: workers }, () => new WorkerHandle(new Worker(path.join(__dirname, 'worker-entry.js'))));
    try {
      const ready = await Promise.all(
        handles.map((h, workerIndex) =>
          h.request(
            { type: 'init', workerIndex, workers, backend: options.backend ?? 'wasm', topology, weights, optimizer: options.optimizer, loss: options.loss ?? {}, gradients, statistics: statisticsBuffer },
            'ready',
          ),
        ),
      );
      return new DataParallelTrainer(handles, options.optimizer.learningRate, ready[0].backend);
    } catch (error) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw error;
    }
  }

  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  /**
   * One optimizer step on a batch given as flat NHWC images and one-hot labels. Each worker's shard is
   * split into `accumulate` micro-batches, so a batch of B needs memory for B / (workers · accumulate).
   */
  async step(x: Float32Array, xShape: number[], labels: Float32Array, labelsShape: number[], accumulate = 1): Promise<ParallelStepResult> {
    const batch = xShape[0];
    if (batch < this.workers * accumulate) {
      throw new RangeError(`DataParallelTrainer.step: a batch of ${batch} cannot be split over ${this.workers} workers × ${accumulate} micro-batches.`);
    }
    const imageSize = sizeOf(xShape.slice(1));
    const labelSize = sizeOf(labelsShape.slice(1));
    let start = 0;
    const pending = this.handles.map((h, k) => {
      const count = Math.floor(batch / this.workers) + (k < batch % this.workers ? 1 : 0);
      const xs = x.slice(start * imageSize, (start + count) * imageSize);
      const ys = labels.slice(start * labelSize, (start + count) * labelSize);
      start += count;
      return h.request(
        { type: 'step', x: xs, xShape: [count, ...xShape.slice(1)], labels: ys, labelsShape: [count, ...labelsShape.slice(1)], weight: count / batch, accumulate },
        'gradients',
        [xs.buffer as ArrayBuffer, ys.buffer as ArrayBuffer],
      );
    });
    const results = await Promise.all(pending);
    await Promise.all(this.handles.map((h) => h.request({ type: 'apply', learningRate: this.learningRate }, 'applied')));
    const examples = results.reduce((n, r) => n + r.examples, 0);
    return { loss: results.reduce((s, r) => s + r.loss * r.examples, 0) / examples, examples };
  }

  /** The replicas' (identical) weights, in `model.getWeights()` order. */
  async getWeights(): Promise<Float32Array[]> {
    return (await this.handles[0].request({ type: 'weights' }, 'weights')).weights;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.handles.map((h) => new Promise<void>((resolve) => {
      h.worker.once('exit', () => resolve());
      h.worker.postMessage({ type: 'stop' } satisfies ToWorker);
    })));
  }
}
