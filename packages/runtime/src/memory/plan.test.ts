import { mobilenetV1 } from '@mobilenets/backbone';
import { setup } from '../backend';
import { GiB, WASM_HEAP_MAX_BYTES, estimateTrainingMemory } from './estimate';
import { ModelMemoryProfile, modelMemoryProfile, scaleProfileInput } from './layers';
import { MIN_BATCH_NORM_BATCH, planParallelTraining, planTrainingBatch } from './plan';

let v1: ModelMemoryProfile; // V1 0.25-64
let v1Large: ModelMemoryProfile; // V1 1.0-224

beforeAll(async () => {
  await setup({ backend: 'cpu', log: null });
  const small = mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 10 });
  const large = mobilenetV1({ widthMultiplier: 1, inputSize: 224, classes: 10 });
  [v1, v1Large] = [modelMemoryProfile(small), modelMemoryProfile(large)];
  small.dispose();
  large.dispose();
});

const plenty = { memoryBytes: 64 * GiB, usable: 1 };
/** A wasm heap that holds exactly `batch` images of `profile` per micro-batch (and not one more). */
const heapFor = (profile: ModelMemoryProfile, batch: number, accumulate = 1) => estimateTrainingMemory({ model: profile, batchSize: batch, backend: 'wasm', accumulate }).bytes;

describe('planTrainingBatch', () => {
  it('keeps a batch that fits whole', () => {
    const plan = planTrainingBatch({ model: v1, batchSize: 8, backend: 'wasm', limits: { ...plenty, wasmHeapBytes: heapFor(v1, 8) } });
    expect(plan).toMatchObject({ accumulate: 1, microBatch: 8, fits: true, message: null, largestBatch: 8 });
    const roomy = planTrainingBatch({ model: v1, batchSize: 8, backend: 'wasm', limits: { ...plenty, wasmHeapBytes: heapFor(v1, 40) } });
    expect(roomy).toMatchObject({ accumulate: 1, microBatch: 8, fits: true, largestBatch: 40 });
    expect(plan.perReplicaBytes).toBe(heapFor(v1, 8));
    expect(plan.perReplicaBytes).toBeLessThanOrEqual(plan.limitBytes);
  });

  it('splits a batch that does not fit into the fewest accumulated micro-batches that do, and says so', () => {
    const limits = { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) };
    const plan = planTrainingBatch({ model: v1, batchSize: 32, backend: 'wasm', limits });
    expect(plan).toMatchObject({ accumulate: 2, microBatch: 16, fits: false });
    expect(plan.largestBatch).toBeGreaterThanOrEqual(16);
    expect(plan.largestBatch).toBeLessThan(32);
    expect(plan.message).toBe(`batch 32 does not fit in the wasm heap (${(limits.wasmHeapBytes / 2 ** 20).toFixed(0)} MiB usable): training as 2 accumulated micro-batches of 16 (estimated peak ${(plan.perReplicaBytes / 2 ** 20).toFixed(0)} MiB).`);
  });

  it('splits unevenly when it must: micro-batches differ by at most one image', () => {
    const plan = planTrainingBatch({ model: v1, batchSize: 33, backend: 'wasm', limits: { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) } });
    // 2 micro-batches of 17 and 16 do not fit; 3 of 11 do.
    expect(plan).toMatchObject({ accumulate: 3, microBatch: 11 });
    const uneven = planTrainingBatch({ model: v1, batchSize: 31, backend: 'wasm', limits: { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) } });
    expect(uneven).toMatchObject({ accumulate: 2, microBatch: 16 });
    expect(uneven.message).toContain('as 2 accumulated micro-batches of 15–16');
  });

  it("splits each worker's shard over data-parallel workers", () => {
    const plan = planTrainingBatch({ model: v1, batchSize: 64, backend: 'wasm', workers: 2, limits: { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) } });
    expect(plan).toMatchObject({ workers: 2, accumulate: 2, microBatch: 16, fits: false });
    expect(plan.largestBatch % 2).toBe(0);
    expect(plan.message).toContain("batch 64 over 2 workers does not fit in the wasm heap");
    expect(plan.message).toContain("training each worker's 32 images as 2 accumulated micro-batches of 16");
    expect(plan.message).toContain('per worker');
  });

  it('keeps the accumulation asked for when it fits, and raises it when it does not', () => {
    const asked = planTrainingBatch({ model: v1, batchSize: 32, backend: 'wasm', accumulate: 4, limits: plenty });
    expect(asked).toMatchObject({ accumulate: 4, microBatch: 8, fits: true, message: null });
    const raised = planTrainingBatch({ model: v1, batchSize: 32, backend: 'wasm', accumulate: 2, limits: { ...plenty, wasmHeapBytes: heapFor(v1, 8, 4) } });
    expect(raised).toMatchObject({ accumulate: 4, microBatch: 8, fits: false });
    expect(raised.message).toMatch(/^batch 32 in 2 micro-batches does not fit in the wasm heap .*: training as 4 accumulated micro-batches of 8/);
  });

  it('with split: false, refuses with the largest batch that fits', () => {
    const limits = { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) };
    let largest = 1;
    while (heapFor(v1, largest + 1) <= limits.wasmHeapBytes) largest++;
    expect(largest).toBeGreaterThanOrEqual(16);
    expect(() => planTrainingBatch({ model: v1, batchSize: 32, backend: 'wasm', split: false, limits })).toThrow(
      new RangeError(
        `batch 32 of 'mobilenet_v1_0.25_64' at input 64 does not fit in the wasm heap (${(limits.wasmHeapBytes / 2 ** 20).toFixed(0)} MiB usable): the largest batch that fits is ${largest}. ` +
          `Use a batch of at most ${largest}, or accumulate 2 micro-batches per step.`,
      ),
    );
  });

  it("holds all workers together to the machine's memory", () => {
    const oneWorker = estimateTrainingMemory({ model: v1, batchSize: 16, backend: 'cpu', accumulate: 2 });
    // Room for the main process and two replicas of 16 images, not of 32.
    const memoryBytes = oneWorker.residentBytes - oneWorker.bytes + 2 * oneWorker.workerResidentBytes;
    const plan = planTrainingBatch({ model: v1, batchSize: 64, backend: 'cpu', workers: 2, limits: { memoryBytes, usable: 1 } });
    expect(plan).toMatchObject({ accumulate: 2, microBatch: 16 });
    expect(plan.totalBytes).toBeLessThanOrEqual(memoryBytes);
    expect(plan.message).toContain("does not fit in this machine's available memory");
  });

  it('refuses when one image does not fit, naming the largest input size that does', () => {
    const huge = scaleProfileInput(v1Large, 4096);
    let message = '';
    try {
      planTrainingBatch({ model: huge, batchSize: 1, backend: 'wasm', limits: plenty });
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError);
      message = (error as Error).message;
    }
    const match = /^'mobilenet_v1_1.00_224' at input 4096 needs about (\d+) GiB to train even one image at a time on wasm, more than the wasm heap \(4.0 GiB usable\)\. The largest input size that fits is (\d+); train at \2 or smaller\.$/.exec(message);
    expect(match).not.toBeNull();
    const largest = Number(match![2]);
    expect(largest % 32).toBe(0);
    const at = (size: number) => estimateTrainingMemory({ model: scaleProfileInput(v1Large, size), batchSize: 1, backend: 'wasm' }).bytes;
    expect(at(largest)).toBeLessThanOrEqual(WASM_HEAP_MAX_BYTES);
    expect(at(largest + 32)).toBeGreaterThan(WASM_HEAP_MAX_BYTES);
  });

  it('runs V1 1.0-224 at batch 32 in a 4 GiB wasm heap as 2 micro-batches of 16 (batch 32 aborts whole)', () => {
    const plan = planTrainingBatch({ model: v1Large, batchSize: 32, backend: 'wasm', limits: { memoryBytes: 64 * GiB } });
    expect(plan).toMatchObject({ accumulate: 2, microBatch: 16, fits: false });
    expect(plan.perReplicaBytes).toBeLessThan(WASM_HEAP_MAX_BYTES);
  });

  it('rejects batches it cannot split and counts that are not positive integers', () => {
    expect(() => planTrainingBatch({ model: v1, batchSize: 2, backend: 'wasm', workers: 2, accumulate: 2 })).toThrow(
      'planTrainingBatch: a batch of 2 cannot be split over 2 workers × 2 micro-batches; use a batch of at least 4.',
    );
    expect(() => planTrainingBatch({ model: v1, batchSize: 0, backend: 'wasm' })).toThrow('planTrainingBatch: batchSize must be an integer ≥ 1. Received 0.');
    expect(() => planTrainingBatch({ model: v1, batchSize: 8, backend: 'wasm', workers: 1.5 })).toThrow('planTrainingBatch: workers must be an integer ≥ 1. Received 1.5.');
  });
});

describe('planParallelTraining', () => {
  it('uses workers only while every shard keeps a whole batch-norm batch (32), or what memory forces anyway', () => {
    expect(MIN_BATCH_NORM_BATCH).toBe(32);
    const roomy = { ...plenty, wasmHeapBytes: heapFor(v1, 128) };
    expect(planParallelTraining({ model: v1, batchSize: 32, backend: 'wasm', maxWorkers: 2, limits: roomy }).workers).toBe(1);
    expect(planParallelTraining({ model: v1, batchSize: 64, backend: 'wasm', maxWorkers: 2, limits: roomy })).toMatchObject({ workers: 2, accumulate: 1, microBatch: 32 });
    expect(planParallelTraining({ model: v1, batchSize: 128, backend: 'wasm', maxWorkers: 8, limits: roomy }).workers).toBe(4);
    // One worker would have to split 32 into micro-batches of 16 anyway: two workers of 16 change nothing for batch norm.
    const tight = { ...plenty, wasmHeapBytes: heapFor(v1, 16, 2) };
    expect(planParallelTraining({ model: v1, batchSize: 32, backend: 'wasm', maxWorkers: 2, limits: tight })).toMatchObject({ workers: 2, accumulate: 1, microBatch: 16 });
    expect(planParallelTraining({ model: v1, batchSize: 32, backend: 'wasm', maxWorkers: 1, limits: tight })).toMatchObject({ workers: 1, accumulate: 2, microBatch: 16 });
    expect(() => planParallelTraining({ model: v1, batchSize: 32, backend: 'wasm', maxWorkers: 0 })).toThrow(/maxWorkers must be an integer ≥ 1/);
  });
});
