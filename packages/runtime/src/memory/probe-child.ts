/**
 * The child process of {@link measureTrainingMemory}: builds the model from its topology, trains it for
 * a few steps on random data as `fit` does in process (training's local step runner, the classification
 * task, the paper's RMSprop and weight decay), and reports what the wasm heap and the process's resident
 * memory reached. Its heap and RSS start fresh, and both only grow.
 *
 * On wasm the memory grows exactly to what the module asks for (so its final size is the peak heap the
 * step needs; or as usual, on request), and the `_malloc`/`_free` calls through which tfjs allocates
 * every tensor are counted.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { uniformArray } from '@mobilenets/random';
import { StepBatch, classificationTask, localRunner, paperOptimizer } from '@mobilenets/training';
import { setup } from '../backend';
import { isWasmMemory, wasmApi, wasmHeapBytes } from './heap-size';
import type { ProbeReply, ProbeRequest } from './probe-protocol';

/** The papers' weight decay on conv and FC kernels. */
const WEIGHT_DECAY = 4e-5;

class OutOfHeapError extends Error {}

const PAGE = 65536;
const alignUp = (bytes: number) => Math.ceil(bytes / PAGE) * PAGE;

/** What the wasm memory did: its size at instantiation, and every size the module asked to grow it to. */
const heap = { initialBytes: 0, requests: [] as number[], growTo: 0 };

/**
 * Records every size the module asks its memory to grow to and, when `exact`, makes the memory grow to
 * just that size instead of emscripten's ~20 % more, so that its final size is the step's peak heap.
 * What the memory would have grown to is replayed from the requests ({@link emscriptenHeapSize}): the
 * module's allocator asks for the same sizes either way (it only sees whether growing succeeded).
 */
function watchHeapGrowth(exact: boolean): void {
  const api = wasmApi();
  const instantiate = api.instantiate.bind(api);
  api.instantiate = async function (source, imports) {
    const env = imports?.env as Record<string, unknown> | undefined;
    const resize = env?.emscripten_resize_heap as ((requested: number) => number) | undefined;
    if (typeof resize === 'function') {
      env!.emscripten_resize_heap = (requested: number): number => {
        heap.requests.push(requested >>> 0);
        heap.growTo = alignUp(requested >>> 0);
        return resize(requested);
      };
    }
    const result = await instantiate(source, imports);
    const memory = result.instance?.exports.memory;
    if (isWasmMemory(memory)) heap.initialBytes = memory.buffer.byteLength;
    if (isWasmMemory(memory) && exact) {
      const grow = api.Memory.prototype.grow;
      // emscripten calls memory.grow(pages) with its over-allocated size; grow to the requested size instead.
      Object.defineProperty(memory, 'grow', {
        value(this: typeof memory, pages: number): number {
          const asked = (heap.growTo - this.buffer.byteLength) / PAGE;
          return grow.call(this, heap.growTo > 0 && asked > 0 && asked < pages ? asked : pages);
        },
      });
    }
    return result;
  };
}

/**
 * The size emscripten's `emscripten_resize_heap` grows the memory to for these requests (tfjs-backend-wasm
 * 4.22's rule: the larger of the request and 20 % more than the current size, the 20 % capped at the
 * request + 96 MiB, in 64 KiB pages, at most 4 GiB − 64 KiB).
 */
function emscriptenHeapSize(initialBytes: number, requests: number[]): number {
  const max = 4294901760;
  let size = initialBytes;
  for (const requested of requests) {
    if (requested <= size) continue;
    const overGrown = Math.min(size * 1.2, requested + 100663296);
    size = Math.min(max, alignUp(Math.max(requested, overGrown)));
  }
  return size;
}

interface WasmModule {
  asm: { malloc(n: number): number; free(p: number): void };
  _malloc(n: number): number;
  _free(p: number): void;
}

/** Bytes of tensor data tfjs holds in the wasm heap, and their peak. */
const tensorBytes = { live: 0, peak: 0 };

/**
 * tfjs' wasm backend allocates every tensor with the module's `_malloc` and never checks for failure
 * (a null pointer becomes a tensor at address 0): fail loudly instead, and count the bytes.
 */
function watchTensorAllocations(): void {
  const module = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
  const { malloc, free } = module.asm;
  const sizes = new Map<number, number>();
  module._malloc = (n: number): number => {
    const p = malloc(n) >>> 0;
    if (p === 0 && n > 0) throw new OutOfHeapError(`the wasm heap could not grow for ${n} more bytes`);
    sizes.set(p, n);
    tensorBytes.live += n;
    tensorBytes.peak = Math.max(tensorBytes.peak, tensorBytes.live);
    return p;
  };
  module._free = (p: number): void => {
    tensorBytes.live -= sizes.get(p >>> 0) ?? 0;
    sizes.delete(p >>> 0);
    free(p);
  };
}

async function run(request: ProbeRequest): Promise<ProbeReply> {
  if (request.backend === 'wasm') watchHeapGrowth(request.growth === 'exact');
  const runtime = await setup({ backend: request.backend, log: null });
  const wasm = runtime.backend === 'wasm';
  if (wasm) watchTensorAllocations();
  const model = await tfl.models.modelFromJSON(JSON.parse(request.topology));
  const [, ...imageShape] = model.inputs[0].shape as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const examples = request.batchSize * request.accumulate;
  const images = uniformArray(examples * imageShape.reduce((a, b) => a * b, 1), 12345);
  const labels = Int32Array.from({ length: examples }, (_, i) => i % classes);
  // Each step gets its own copy of the host arrays, as a runner may take ownership of what it is given.
  const batch = (): StepBatch => ({ tensors: { images: { data: images.slice(), shape: [examples, ...imageShape] }, labels: { data: labels.slice(), shape: [examples] } }, examples });
  const optimizer = paperOptimizer();
  const runner = await localRunner()({ model, optimizer, task: classificationTask(), weightDecay: WEIGHT_DECAY, accumulate: request.accumulate, seed: 0 });
  const heapBytesBeforeSteps = wasmHeapBytes();
  const rssBytesBeforeSteps = process.memoryUsage().rss;
  const heapBytesAfterStep: number[] = [];
  const losses: number[] = [];
  const start = performance.now();
  for (let i = 0; i < request.steps; i++) {
    losses.push((await runner.step(batch(), { lr: 0.045, step: i })).loss);
    const bytes = wasmHeapBytes();
    if (bytes !== null) heapBytesAfterStep.push(bytes);
  }
  if (!losses.every(Number.isFinite)) throw new Error(`the losses were not finite (${losses.join(', ')})`);
  return {
    type: 'done',
    backend: runtime.backend,
    heapBytesAfterStep,
    heapBytesBeforeSteps,
    grownHeapBytes: wasm ? emscriptenHeapSize(heap.initialBytes, heap.requests) : null,
    peakTensorBytes: wasm ? tensorBytes.peak : null,
    rssBytesBeforeSteps,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    losses,
    msPerStep: (performance.now() - start) / request.steps,
  };
}

process.once('message', (request: ProbeRequest) => {
  run(request)
    .then((reply) => process.send!(reply, () => process.exit(0)))
    .catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      process.send!({ type: 'error', message } satisfies ProbeReply, () => process.exit(1));
    });
});
