/**
 * Measures what a training step really takes: trains the model for a few steps in a child process of
 * its own (so that the wasm heap and the resident memory start fresh — the heap only grows) and reports
 * the peak wasm heap, the size emscripten would have grown the heap to, and the child's peak resident
 * memory. These are the measurements the estimates of ./estimate.ts are checked against (its tests and
 * `npm run bench:memory`).
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackendName } from '../backend';
import type { ProbeMeasurement, ProbeReply, ProbeRequest } from './probe-protocol';

export type { ProbeMeasurement } from './probe-protocol';

export interface MeasureMemoryOptions {
  model: tfl.LayersModel;
  /** Images per micro-batch. */
  batchSize: number;
  backend: BackendName;
  /** Micro-batches per step (gradient accumulation); default 1. The child holds batchSize × accumulate images. */
  accumulate?: number;
  /** Training steps; default 3 (the first creates the optimizer's slots; the heap then creeps up a few percent over ~50 steps). */
  steps?: number;
  /**
   * wasm: 'exact' (default) lets the memory grow exactly as far as the module asks, so `heapBytes` is
   * the peak heap; 'emscripten' lets it grow as it usually does (~20 % beyond each request).
   */
  growth?: 'exact' | 'emscripten';
}

export interface MeasuredMemory extends ProbeMeasurement {
  /** wasm: the memory's size after the steps — with 'exact' growth, the steps' peak heap; null on other backends. */
  heapBytes: number | null;
}

/** Trains a copy of `model` (built from its topology) for a few steps in a fresh child process and measures its memory. */
export function measureTrainingMemory(options: MeasureMemoryOptions): Promise<MeasuredMemory> {
  const { model, batchSize, backend, accumulate = 1, steps = 3, growth = 'exact' } = options;
  for (const [name, value] of [['batchSize', batchSize], ['accumulate', accumulate], ['steps', steps]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`measureTrainingMemory: ${name} must be an integer ≥ 1. Received ${value}.`);
  }
  const request: ProbeRequest = { backend, topology: JSON.stringify(model.toJSON(null, false)), batchSize, accumulate, steps, growth };
  const what = `${model.name} at batch ${batchSize}${accumulate > 1 ? ` × ${accumulate} micro-batches` : ''} on ${backend}`;
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'probe-entry.js'), [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let reply: ProbeReply | null = null;
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('message', (message: ProbeReply) => {
      reply = message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const r = reply as ProbeReply | null;
      if (r?.type === 'done') {
        const { type: _, ...measured } = r;
        const after = measured.heapBytesAfterStep;
        resolve({ ...measured, heapBytes: after.length > 0 ? after[after.length - 1] : null });
        return;
      }
      const reason = r?.type === 'error' ? r.message : signal !== null ? `signal ${signal}` : `exit code ${code}`;
      const lastLine = stderr.trim().split('\n').filter((l) => l.trim() !== '').pop();
      reject(new Error(`measureTrainingMemory: training ${what} failed in the measuring process (${reason})${lastLine && r?.type !== 'error' ? `; its last message: ${lastLine}` : ''}.`));
    });
    child.send(request);
  });
}
