/**
 * One data-parallel replica: its own tfjs (and so its own wasm heap), a copy of the model, and an
 * optimizer that applies the same averaged gradients as every other replica, so the copies stay equal.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@mobilenets/backbone'; // registers the fused BatchNormalization and relu6 used by the topology
import { LossOptions, batchGradients, combineGradients, splitBatch, trainableVariables } from '@mobilenets/training';
import { setup } from '../backend';
import type { FromWorker, InitMessage, OptimizerSpec, StepMessage, ToWorker } from './protocol';

interface Replica {
  index: number;
  workers: number;
  model: tfl.LayersModel;
  optimizer: tf.RMSPropOptimizer;
  loss: LossOptions;
  gradients: Float32Array;
  statistics: Float32Array;
  trainableSize: number;
  statisticsSize: number;
}

let replica: Replica | null = null;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

function makeOptimizer(spec: OptimizerSpec): tf.RMSPropOptimizer {
  return tf.train.rmsprop(spec.learningRate, spec.decay, spec.momentum, spec.epsilon);
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

async function init(message: InitMessage): Promise<void> {
  await setup({ backend: message.backend, log: null });
  const model = await tfl.models.modelFromJSON(JSON.parse(message.topology));
  model.setWeights(message.weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[])));
  const trainableSize = model.trainableWeights.reduce((n, w) => n + sizeOf(w.shape as number[]), 0);
  const statisticsSize = model.nonTrainableWeights.reduce((n, w) => n + sizeOf(w.shape as number[]), 0);
  replica = {
    index: message.workerIndex,
    workers: message.workers,
    model,
    optimizer: makeOptimizer(message.optimizer),
    loss: message.loss,
    gradients: new Float32Array(message.gradients),
    statistics: new Float32Array(message.statistics),
    trainableSize,
    statisticsSize,
  };
  post({ type: 'ready', backend: tf.getBackend() });
}

/** Forward and backward on this worker's shard; writes weight × gradient into this worker's slot. */
function step(message: StepMessage): void {
  const r = replica!;
  const x = tf.tensor(message.x, message.xShape);
  const labels = tf.tensor(message.labels, message.labelsShape);
  const micro = message.accumulate === 1 ? [{ x, labels }] : splitBatch(x, labels, message.accumulate);
  const parts = micro.map((m) => batchGradients(r.model, m.x, m.labels, r.loss));
  const combined = combineGradients(parts);
  tf.dispose([x, labels, ...(message.accumulate === 1 ? [] : micro.flatMap((m) => [m.x, m.labels]))]);
  let offset = r.index * r.trainableSize;
  for (const variable of trainableVariables(r.model)) {
    const grad = combined.grads[variable.name];
    const values = grad.dataSync();
    for (let i = 0; i < values.length; i++) r.gradients[offset + i] = values[i] * message.weight;
    offset += values.length;
  }
  tf.dispose(Object.values(combined.grads));
  offset = r.index * r.statisticsSize;
  for (const w of r.model.nonTrainableWeights) {
    const values = w.read().dataSync();
    r.statistics.set(values, offset);
    offset += values.length;
  }
  post({ type: 'gradients', loss: combined.loss, examples: combined.examples });
}

/** Sums every worker's slot (the batch gradient), applies it, and sets the moving statistics to their mean. */
function apply(learningRate: number): void {
  const r = replica!;
  (r.optimizer as unknown as { learningRate: number }).learningRate = learningRate;
  const grads: tf.NamedTensorMap = {};
  let offset = 0;
  for (const variable of trainableVariables(r.model)) {
    const size = sizeOf(variable.shape);
    const sum = new Float32Array(size);
    for (let k = 0; k < r.workers; k++) {
      const slot = r.gradients.subarray(k * r.trainableSize + offset, k * r.trainableSize + offset + size);
      for (let i = 0; i < size; i++) sum[i] += slot[i];
    }
    grads[variable.name] = tf.tensor(sum, variable.shape);
    offset += size;
  }
  r.optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  offset = 0;
  for (const w of r.model.nonTrainableWeights) {
    const shape = w.shape as number[];
    const size = sizeOf(shape);
    const mean = new Float32Array(size);
    for (let k = 0; k < r.workers; k++) {
      const slot = r.statistics.subarray(k * r.statisticsSize + offset, k * r.statisticsSize + offset + size);
      for (let i = 0; i < size; i++) mean[i] += slot[i] / r.workers;
    }
    const value = tf.tensor(mean, shape);
    w.write(value);
    value.dispose();
    offset += size;
  }
  post({ type: 'applied' });
}

parentPort!.on('message', (message: ToWorker) => {
  const run = async () => {
    switch (message.type) {
      case 'init':
        return init(message);
      case 'step':
        return step(message);
      case 'apply':
        return apply(message.learningRate);
      case 'weights': {
        const weights = replica!.model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
        return post({ type: 'weights', weights }, weights.map((w) => w.buffer as ArrayBuffer));
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
