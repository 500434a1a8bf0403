/**
 * One data-parallel replica: its own tfjs (and so its own wasm heap), a copy of the model, the task's
 * step (loaded from the module the task names), and an optimizer that applies the same summed gradient
 * as every other replica, so the copies stay equal. It knows nothing about any task: batches arrive as
 * named arrays, and the task's loss turns them into named losses and metrics.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { installFusedLayers } from '@mobilenets/backbone';
import { TaskStep, applyGradients, batchGradients, combineGradients, optimizerFromSpec, setLearningRate, splitBatch, trainableVariables } from '@mobilenets/training';
import { setup } from '../backend';
import type { ApplyMessage, FromWorker, InitMessage, NamedArray, StepMessage, ToWorker } from './protocol';

interface Replica {
  index: number;
  workers: number;
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  task: TaskStep;
  weightDecay: number;
  gradients: Float32Array;
  statistics: Float32Array;
  trainableSize: number;
  statisticsSize: number;
}

let replica: Replica | null = null;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

const sizeOf = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b as number), 1);

/** Requires the task's module, registers its layers, and builds its step. */
function loadTask(spec: InitMessage['task']): TaskStep {
  let exports: Record<string, unknown>;
  try {
    exports = require(spec.module) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`cannot load the task module ${spec.module}: ${(error as Error).message}`);
  }
  if (spec.registerLayers !== undefined) {
    const register = exports[spec.registerLayers];
    if (typeof register !== 'function') throw new Error(`${spec.module} has no function '${spec.registerLayers}' to register the task's layers.`);
    register();
  }
  const factory = exports[spec.factory];
  if (typeof factory !== 'function') throw new Error(`${spec.module} has no function '${spec.factory}' that builds the task.`);
  const task = factory(spec.options) as Partial<TaskStep>;
  if (typeof task?.loss !== 'function') throw new Error(`${spec.module}: ${spec.factory}(options) did not return a task with a loss(model, batch) method.`);
  return task as TaskStep;
}

async function init(message: InitMessage): Promise<void> {
  await setup({ backend: message.backend, log: null });
  installFusedLayers(); // the backbone's layer classes, which the topology names
  const task = loadTask(message.task);
  const model = await tfl.models.modelFromJSON(JSON.parse(message.topology));
  const variables = model.weights; // built anew from every layer at each access: read once
  model.setWeights(message.weights.map((w, i) => tf.tensor(w, variables[i].shape as number[])));
  const optimizer = optimizerFromSpec(message.optimizer, 'training worker');
  if (message.optimizer.state.length > 0) {
    const state = message.optimizer.state.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape) }));
    await optimizer.setWeights(state);
    tf.dispose(state.map((s) => s.tensor));
  }
  replica = {
    index: message.workerIndex,
    workers: message.workers,
    model,
    optimizer,
    task,
    weightDecay: message.weightDecay,
    gradients: new Float32Array(message.gradients),
    statistics: new Float32Array(message.statistics),
    trainableSize: model.trainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0),
    statisticsSize: model.nonTrainableWeights.reduce((n, w) => n + sizeOf(w.shape), 0),
  };
  post({ type: 'ready', backend: tf.getBackend() });
}

/** Forward and backward on this worker's shard; writes weight × gradient into this worker's slot. */
function step(message: StepMessage): void {
  const r = replica!;
  const shard = { tensors: message.tensors, examples: message.examples };
  const micro = splitBatch(shard, message.seeds.length);
  const parts = micro.map((m, k) => batchGradients(r.model, r.task, m, { weightDecay: r.weightDecay, dropoutSeed: message.seeds[k] }));
  const { grads, losses, metrics, examples } = combineGradients(parts);
  const missing: number[] = [];
  let offset = r.index * r.trainableSize;
  trainableVariables(r.model).forEach((variable, i) => {
    const size = sizeOf(variable.shape);
    const grad = grads[variable.name];
    if (grad === undefined) {
      missing.push(i);
      r.gradients.fill(0, offset, offset + size);
    } else {
      const values = grad.dataSync();
      for (let j = 0; j < size; j++) r.gradients[offset + j] = values[j] * message.weight;
    }
    offset += size;
  });
  tf.dispose(Object.values(grads));
  offset = r.index * r.statisticsSize;
  for (const w of r.model.nonTrainableWeights) {
    const values = w.read().dataSync();
    r.statistics.set(values, offset);
    offset += values.length;
  }
  post({ type: 'gradients', losses, metrics, examples, missing });
}

/** Sums every worker's slot (the batch gradient), applies it, and sets the moving statistics to the active workers' mean. */
function apply(message: ApplyMessage): void {
  const r = replica!;
  setLearningRate(r.optimizer, message.learningRate);
  const skip = new Set(message.skip);
  const grads: tf.NamedTensorMap = {};
  let offset = 0;
  trainableVariables(r.model).forEach((variable, i) => {
    const size = sizeOf(variable.shape);
    if (!skip.has(i)) {
      const sum = new Float32Array(size);
      for (let k = 0; k < r.workers; k++) {
        const slot = r.gradients.subarray(k * r.trainableSize + offset, k * r.trainableSize + offset + size);
        for (let j = 0; j < size; j++) sum[j] += slot[j];
      }
      grads[variable.name] = tf.tensor(sum, variable.shape);
    }
    offset += size;
  });
  applyGradients(r.model, r.optimizer, grads);
  tf.dispose(Object.values(grads));
  offset = 0;
  for (const w of r.model.nonTrainableWeights) {
    const shape = w.shape as number[];
    const size = sizeOf(shape);
    const mean = new Float32Array(size);
    for (let k = 0; k < message.active; k++) {
      const slot = r.statistics.subarray(k * r.statisticsSize + offset, k * r.statisticsSize + offset + size);
      for (let j = 0; j < size; j++) mean[j] += slot[j] / message.active;
    }
    const value = tf.tensor(mean, shape);
    w.write(value);
    value.dispose();
    offset += size;
  }
  post({ type: 'applied' });
}

async function optimizerState(): Promise<NamedArray[]> {
  const named = await replica!.optimizer.getWeights();
  const state = named.map((w) => ({ name: w.name, data: w.tensor.dataSync().slice() as Float32Array, shape: w.tensor.shape }));
  tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable))); // the iteration count is a fresh tensor
  return state;
}

parentPort!.on('message', (message: ToWorker) => {
  const run = async () => {
    switch (message.type) {
      case 'init':
        return init(message);
      case 'step':
        return step(message);
      case 'apply':
        return apply(message);
      case 'weights': {
        const weights = replica!.model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
        return post({ type: 'weights', weights }, weights.map((w) => w.buffer as ArrayBuffer));
      }
      case 'optimizer': {
        const state = await optimizerState();
        return post({ type: 'optimizer', state }, state.map((s) => s.data.buffer as ArrayBuffer));
      }
      case 'stop':
        replica?.model.dispose();
        replica?.optimizer.dispose();
        return process.exit(0);
      default:
        throw new Error(`unknown message ${(message as { type: string }).type}`);
    }
  };
  run().catch((error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ type: 'error', message: e.message, stack: e.stack });
  });
});
