import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { classificationTask } from './classification-task';
import { FitState, StepInfo, TrainingDivergedError, epochSteps, fit } from './fit';
import { metricsLogCallback } from './metrics-log';
import type { EpochTiming } from './time-budget';
import { constantSchedule, exponentialDecay } from './schedules';
import { MemoryCheckpointStore, memoryData, tinyClassifier } from './testing';
import { StepRunnerFactory, localRunner } from './runner';

beforeAll(async () => {
  tf.env().set('PROD', true); // no tfjs-node advert
  await tf.setBackend('cpu');
});

const recipe = { batchSize: 4, schedule: exponentialDecay({ initial: 0.05, rate: 0.5 }), shuffle: true, seed: 3 };

function recorder() {
  const steps: StepInfo[] = [];
  return { steps, callback: { onStepEnd: (s: StepInfo) => void steps.push(s) } };
}

describe('fit: stopping rules', () => {
  it('epochs: one pass per epoch, the lr from the schedule, a summary per epoch', async () => {
    const model = tinyClassifier();
    const data = memoryData(12);
    const val = memoryData(9);
    const rec = recorder();
    const epochEnds: number[] = [];
    const r = await fit(model, data, { ...recipe, epochs: 2, validation: val, callbacks: [rec.callback, { onEpochEnd: (e) => void epochEnds.push(e.epoch) }] });
    expect(r.stoppedBy).toBe('epochs');
    expect(r.steps).toBe(6);
    expect(r.epochs).toBe(2);
    expect(epochEnds).toEqual([0, 1]);
    expect(rec.steps.map((s) => [s.step, s.epoch, s.batch, s.lr])).toEqual([[1, 0, 1, 0.05], [2, 0, 2, 0.05], [3, 0, 3, 0.05], [4, 1, 1, 0.025], [5, 1, 2, 0.025], [6, 1, 3, 0.025]]);
    expect(rec.steps.every((s) => Number.isFinite(s.loss) && s.metrics.accuracy >= 0 && s.metrics.accuracy <= 1 && s.imagesPerSecond > 0)).toBe(true);
    expect(rec.steps.every((s) => Math.abs(s.loss - s.losses.crossEntropy - s.losses.weightDecay) < 1e-6)).toBe(true);
    expect(r.history).toHaveLength(2);
    expect(r.history[1].train.examples).toBe(12);
    expect(r.history[1].val).toEqual(r.val!.metrics);
    expect(Object.keys(r.val!.metrics).sort()).toEqual(['loss', 'top1', 'top5']);
    expect((r.val!.details as { count: number }).count).toBe(9);
    model.dispose();
  });

  it('dropRemainder: every step a full batch, the short last batch of each epoch left out (unless the data is smaller than a batch)', async () => {
    const model = tinyClassifier();
    const rec = recorder();
    const r = await fit(model, memoryData(14), { ...recipe, epochs: 2, dropRemainder: true, callbacks: [rec.callback] });
    expect(r.steps).toBe(6); // 3 full batches of 4 per epoch; the 2 left over train in other epochs
    expect(rec.steps.map((s) => [s.epoch, s.batch, s.examples])).toEqual([[0, 1, 4], [0, 2, 4], [0, 3, 4], [1, 1, 4], [1, 2, 4], [1, 3, 4]]);
    expect(r.history.map((h) => h.train.examples)).toEqual([12, 12]);
    const small = await fit(model, memoryData(3), { ...recipe, epochs: 1, dropRemainder: true });
    expect(small.steps).toBe(1);
    expect([epochSteps(14, 4), epochSteps(14, 4, true), epochSteps(12, 4, true), epochSteps(3, 4, true)]).toEqual([4, 3, 3, 1]);
    model.dispose();
  });

  it('validateEvery: validates every n-th epoch and the final weights, and picks the best among validated epochs', async () => {
    const model = tinyClassifier();
    const validated: (number | null)[] = [];
    const lines: string[] = [];
    const r = await fit(model, memoryData(8), { ...recipe, epochs: 5, validateEvery: 2, validation: memoryData(6), callbacks: [{ onEpochEnd: (e) => void validated.push(e.val === null ? null : e.epoch) }, metricsLogCallback((l) => lines.push(l))] });
    expect(validated).toEqual([null, 1, null, 3, null]);
    expect(r.val).not.toBeNull(); // the last epoch was not a validation epoch: the final weights are validated after it
    // The metrics log ends with that final validation.
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: 'end', step: r.steps, epochs: 5, stoppedBy: 'epochs', val: r.val!.metrics });
    expect([1, 3]).toContain(r.best!.epoch);
    await expect(fit(model, memoryData(8), { ...recipe, epochs: 1, validateEvery: 0 })).rejects.toThrow(/validateEvery must be an integer ≥ 1/);
    model.dispose();
  });

  it('steps: stops mid-epoch at the step count and saves "last" there', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    const r = await fit(model, memoryData(12), { ...recipe, steps: 5, checkpoints: { store } });
    expect(r.stoppedBy).toBe('steps');
    expect(r.steps).toBe(5);
    expect(r.epochs).toBe(1);
    const last = store.entries.get('last')!.state as FitState;
    expect([last.step, last.epoch, last.batchInEpoch]).toEqual([5, 1, 2]);
    store.dispose();
    model.dispose();
  });

  it('maxMinutes: stops at the first step boundary past the budget and saves a checkpoint', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    let now = 0;
    const r = await fit(model, memoryData(40), {
      ...recipe, epochs: 5, maxMinutes: 0.5, clock: () => now, checkpoints: { store },
      callbacks: [{ onStepEnd: () => void (now += 10_000) }], // each step "takes" 10 s
    });
    expect(r.stoppedBy).toBe('maxMinutes');
    expect(r.steps).toBe(3);
    expect((store.entries.get('last')!.state as FitState).step).toBe(3);
    store.dispose();
    model.dispose();
  });

  it('timing: the seconds steps waited for their batches, apart from the seconds they trained', async () => {
    const model = tinyClassifier();
    let now = 0;
    const source = memoryData(12);
    // The loader "takes" 2 s a batch, the first batch of an epoch 5 s; each step "takes" 3 s.
    const slow = {
      ...source,
      async *batches(o: Parameters<typeof source.batches>[0]) {
        let first = true;
        for await (const b of source.batches(o)) {
          now += first ? 5_000 : 2_000;
          first = false;
          yield b;
        }
      },
    };
    const rec = recorder();
    const r = await fit(model, slow, { ...recipe, epochs: 2, clock: () => now, callbacks: [rec.callback, { onStepEnd: () => void (now += 3_000) }] });
    expect(rec.steps.map((s) => s.dataWaitSeconds)).toEqual([5, 2, 2, 5, 2, 2]);
    expect(r.timing).toEqual({ dataWaitSeconds: 18, stepSeconds: 18 });
    model.dispose();
  });

  it('plan: called at the end of the first epoch with its timing, then again at each epoch\'s end while steps remain; the returned schedule and step count then rule', async () => {
    const model = tinyClassifier();
    let now = 0;
    // Loading "takes" 2 s a training batch and 1 s a validation batch; the steps themselves take no time.
    const slow = <T extends ReturnType<typeof memoryData>>(source: T, ms: number | (() => number)): T => ({
      ...source,
      async *batches(o: Parameters<typeof source.batches>[0]) {
        for await (const b of source.batches(o)) {
          now += typeof ms === 'number' ? ms : ms();
          yield b;
        }
      },
    });
    const timings: EpochTiming[] = [];
    const plans: { step: number; totalSteps: number }[] = [];
    const rec = recorder();
    const r = await fit(model, slow(memoryData(12), 2_000), {
      ...recipe, epochs: 5, validation: slow(memoryData(8), 1_000), batchNormStatistics: false, clock: () => now,
      plan: (timing) => {
        timings.push(timing);
        return timings.length === 1 ? { steps: 7, schedule: constantSchedule(0.01) } : { steps: 8, schedule: constantSchedule(0.02) };
      },
      callbacks: [rec.callback, { onPlan: ({ step, totalSteps }) => void plans.push({ step, totalSteps }) }],
    });
    // Steps end at 2, 4 and 6 s (2 s a step after the first); validation then takes 2 batches, 2 s. The
    // correction is timed from the first plan (8 s) to the second epoch's last step (14 s): 2 s a step.
    expect(timings).toEqual([
      { step: 3, epochs: 1, stepsPerEpoch: 3, elapsedSeconds: 8, secondsPerStep: 2, validationSeconds: 2 },
      { step: 6, epochs: 2, stepsPerEpoch: 3, elapsedSeconds: 16, secondsPerStep: 2, validationSeconds: 2 },
    ]);
    // The first plan's 7 steps, corrected to 8.
    expect(plans).toEqual([{ step: 3, totalSteps: 7 }, { step: 6, totalSteps: 8 }]);
    expect(rec.steps.map((s) => s.lr)).toEqual([0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.02, 0.02]);
    expect([r.steps, r.stoppedBy]).toEqual([8, 'steps']);
    // Validated every third epoch: corrections between validations carry the latest validation's time (none before the first).
    now = 0;
    const every3: EpochTiming[] = [];
    await fit(model, slow(memoryData(12), 2_000), {
      ...recipe, epochs: 5, validation: slow(memoryData(8), 1_000), validateEvery: 3, batchNormStatistics: false, clock: () => now,
      plan: (timing) => (every3.push(timing), { steps: 15, schedule: constantSchedule(0.01) }),
    });
    expect(every3.map((t) => [t.step, t.validationSeconds])).toEqual([[3, null], [6, null], [9, 2], [12, 2]]);
    // A run that speeds up: each correction is timed over the steps since the previous plan, and the
    // corrections go on while the plan leaves steps to take.
    now = 0;
    let batchMs = 2_000;
    const drifting: EpochTiming[] = [];
    const lengths = [7, 10, 12, 99];
    const onEpochEnd = ({ epoch }: { epoch: number }) => void (batchMs = epoch >= 1 ? 1_000 : 2_000);
    const drift = await fit(model, slow(memoryData(12), () => batchMs), {
      ...recipe, epochs: 10, validation: slow(memoryData(8), 1_000), batchNormStatistics: false, clock: () => now,
      plan: (timing) => (drifting.push(timing), { steps: lengths[drifting.length - 1]!, schedule: constantSchedule(0.01) }),
      callbacks: [{ onEpochEnd }],
    });
    // Steps end at 2, 4, 6 s, then validation (2 s) and the first plan at 8 s; epoch 2's steps end at 10, 12,
    // 14 s (2 s a step since the plan); epoch 3's at 17, 18, 19 s (1 s a step since the correction at 16 s).
    // The plan of 12 steps ends with epoch 4: no more corrections.
    expect(drifting.map((t) => [t.step, t.secondsPerStep])).toEqual([[3, 2], [6, 2], [9, 1]]);
    expect([drift.steps, drift.stoppedBy]).toEqual([12, 'steps']);
    // The epochs still bound the run: a plan past them ends with them.
    const long = await fit(model, memoryData(12), { ...recipe, epochs: 2, plan: () => ({ steps: 100, schedule: constantSchedule(0.01) }) });
    expect([long.steps, long.stoppedBy]).toEqual([6, 'epochs']);
    await expect(fit(model, memoryData(12), { ...recipe, epochs: 2, plan: () => ({ steps: 0, schedule: constantSchedule(0.01) }) })).rejects.toThrow(/plan\(\)\.steps must be an integer ≥ 1/);
    // An epoch longer than planAfterSteps: planned mid-epoch, from the steps so far, no validation seen.
    now = 0;
    const early: EpochTiming[] = [];
    const mid = await fit(model, slow(memoryData(40), 2_000), {
      ...recipe, epochs: 3, planAfterSteps: 3, validation: memoryData(8), batchNormStatistics: false, clock: () => now,
      plan: (timing) => (early.push(timing), { steps: 5, schedule: constantSchedule(0.01) }),
    });
    expect(early).toEqual([{ step: 3, epochs: 0, stepsPerEpoch: 10, elapsedSeconds: 6, secondsPerStep: 2, validationSeconds: null }]);
    expect([mid.steps, mid.stoppedBy]).toEqual([5, 'steps']);
    model.dispose();
  });

  it('a signal during validation cuts it short between batches: no metrics of part of the data, no final validation', async () => {
    const model = tinyClassifier();
    const controller = new AbortController();
    const validated: number[] = [];
    const epochVal: unknown[] = [];
    const r = await fit(model, memoryData(8), {
      ...recipe, epochs: 3, validation: memoryData(12), validationBatchSize: 4, signal: controller.signal,
      callbacks: [{ onValidationProgress: (v) => { validated.push(v.examples); if (v.examples === 4) controller.abort(); }, onEpochEnd: (e) => void epochVal.push(e.val) }],
    });
    expect(validated).toEqual([4]);
    expect(epochVal).toEqual([null]);
    expect([r.stoppedBy, r.steps, r.val, r.best]).toEqual(['signal', 2, null, null]);
  });

  it('an aborted signal stops at the next step boundary', async () => {
    const model = tinyClassifier();
    const controller = new AbortController();
    const r = await fit(model, memoryData(40), { ...recipe, epochs: 2, signal: controller.signal, callbacks: [{ onStepEnd: (s) => (s.step === 2 ? controller.abort() : undefined) }] });
    expect([r.stoppedBy, r.steps]).toEqual(['signal', 2]);
    model.dispose();
  });

  it('rejects bad options naming the field', async () => {
    const model = tinyClassifier();
    await expect(fit(model, memoryData(4), { steps: 0 })).rejects.toThrow('fit: options.steps must be an integer ≥ 1. Received 0.');
    await expect(fit(model, memoryData(4, 5))).rejects.toThrow(/outputs \[batch, 3\] but the training data has 5 classes/);
    await expect(fit(model, memoryData(4), { resume: true })).rejects.toThrow(/options.resume needs options.checkpoints.store/);
    model.dispose();
  });
});

describe('fit: checkpoints and exact resume', () => {
  it('keeps the last K step checkpoints plus best and last', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    await fit(model, memoryData(12), { ...recipe, epochs: 2, validation: memoryData(6), checkpoints: { store, everySteps: 1, keep: 2 } });
    expect((await store.list()).sort()).toEqual(['best', 'last', 'step-5', 'step-6']);
    const best = store.entries.get('best')!.state as FitState;
    expect(best.best!.metric).toBe('top1');
    expect(best.best!.value).toBe(Math.max(...best.history.map((h) => h.val!.top1)));
    store.dispose();
    model.dispose();
  });

  it('a resumed run has the same losses, step for step, and the same final weights as an uninterrupted one', async () => {
    const options = { ...recipe, ema: 0.9, validation: memoryData(6) };
    const full = recorder();
    const a = tinyClassifier();
    await fit(a, memoryData(12), { ...options, epochs: 3, callbacks: [full.callback] });
    const expected = a.getWeights().map((w) => Array.from(w.dataSync()));
    a.dispose();

    const store = new MemoryCheckpointStore();
    const part1 = recorder();
    const b = tinyClassifier();
    const first = await fit(b, memoryData(12), { ...options, epochs: 3, steps: 5, checkpoints: { store }, callbacks: [part1.callback] });
    expect(first.stoppedBy).toBe('steps');
    b.dispose();

    const part2 = recorder();
    const c = tinyClassifier(3, 42); // different initial weights: all of them must come from the checkpoint
    const data = memoryData(12);
    const second = await fit(c, data, { ...options, epochs: 3, resume: true, checkpoints: { store }, callbacks: [part2.callback] });
    expect(second.resumedFrom).toBe(5);
    expect(data.requests[0]).toEqual({ epoch: 1, skip: 2 });
    const resumed = [...part1.steps, ...part2.steps];
    expect(resumed.map((s) => s.step)).toEqual(full.steps.map((s) => s.step));
    expect(resumed.map((s) => s.loss)).toEqual(full.steps.map((s) => s.loss));
    expect(resumed.map((s) => s.lr)).toEqual(full.steps.map((s) => s.lr));
    expect(second.history).toHaveLength(3);
    c.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(expected[i]));
    store.dispose();
    c.dispose();
  });

  it('a NaN loss stops with TrainingDivergedError and leaves the last good checkpoint untouched', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    const data = memoryData(12, 3, { corrupt: (epoch, batch) => epoch === 1 && batch === 1 });
    let error: unknown;
    try {
      await fit(model, data, { ...recipe, schedule: constantSchedule(0.01), epochs: 3, checkpoints: { store, everySteps: 2 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const diverged = error as TrainingDivergedError;
    expect(diverged.step).toBe(5);
    expect(diverged.epoch).toBe(1);
    expect(diverged.lastGoodCheckpoint).toEqual({ name: 'last', step: 4 });
    expect(diverged.message).toMatch(/the loss became NaN at step 5 \(epoch 1, learning rate 0.01\).*'last' \(step 4\)/);
    expect(store.saves.map((s) => s.name)).toEqual(['step-2', 'last', 'last', 'step-4', 'last']);
    const last = store.entries.get('last')!;
    expect((last.state as FitState).step).toBe(4);
    expect(last.weights.every((w) => w.dataSync().every(Number.isFinite))).toBe(true);
    store.dispose();
    model.dispose();
  });
});

it('fit leaks no tensors (validation, EMA, checkpoints, resume)', async () => {
  const model = tinyClassifier();
  const store = new MemoryCheckpointStore();
  const options = { ...recipe, validation: memoryData(6), ema: 0.99, checkpoints: { store, everySteps: 2, keep: 1 } };
  await fit(model, memoryData(8), { ...options, steps: 1 }); // tfjs-layers' first-call caches
  store.dispose();
  const before = tf.memory().numTensors;
  await fit(model, memoryData(8), { ...options, epochs: 2, steps: 3 });
  await fit(model, memoryData(8), { ...options, epochs: 2, resume: true });
  store.dispose();
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});

describe('fit: learning and saving', () => {
  it('a tiny classifier on separable data: the loss falls and validation top-1 rises well above chance', async () => {
    const model = tinyClassifier(4, 2);
    const val = memoryData(24, 4, { seed: 7 }); // other images than the training ones
    const before = (await classificationTask().validate(model, val, { batchSize: 8 })).metrics.top1;
    const r = await fit(model, memoryData(48, 4), { ...recipe, batchSize: 8, schedule: constantSchedule(0.01), epochs: 8, validation: val });
    expect(r.history[r.history.length - 1].train.loss).toBeLessThan(r.history[0].train.loss * 0.7);
    expect(r.val!.metrics.top1).toBeGreaterThanOrEqual(0.7); // chance is 0.25
    expect(r.val!.metrics.top1).toBeGreaterThan(before);
    model.dispose();
  });

  it('everyMinutes saves "last" when that much time has passed since the last save', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    let now = 0;
    await fit(model, memoryData(40), {
      ...recipe, epochs: 1, clock: () => now, checkpoints: { store, everyMinutes: 1 },
      callbacks: [{ onStepEnd: () => void (now += 25_000) }], // each step "takes" 25 s
    });
    expect(store.saves.map((s) => [s.name, (s.state as FitState).step])).toEqual([['last', 3], ['last', 6], ['last', 9], ['last', 10]]);
    store.dispose();
    model.dispose();
  });

  it('resumes a checkpoint written before the task seam (state version 1)', async () => {
    const model = tinyClassifier();
    const store = new MemoryCheckpointStore();
    await fit(model, memoryData(12), { ...recipe, steps: 4, checkpoints: { store } });
    const v2 = store.entries.get('last')!.state as FitState;
    store.entries.get('last')!.state = {
      format: 'mobilenets-fit', version: 1, step: v2.step, epoch: v2.epoch, batchInEpoch: v2.batchInEpoch, seed: v2.seed, batchSize: v2.batchSize,
      epochLoss: 1.5, epochCorrect: 1, epochImages: 4,
      history: [{ epoch: 0, step: 3, lr: 0.05, train: { loss: 1.1, accuracy: 0.5, images: 12 }, val: { top1: 0.5, top5: 1, loss: 1 } }],
      best: { epoch: 0, step: 3, top1: 0.5 }, ema: null,
    };
    const r = await fit(model, memoryData(12), { ...recipe, epochs: 2, resume: true, checkpoints: { store } });
    expect(r.resumedFrom).toBe(4);
    expect(r.history[0].train).toEqual({ loss: 1.1, losses: { crossEntropy: 1.1 }, metrics: { accuracy: 0.5 }, examples: 12 });
    expect(r.history[1].train.examples).toBe(12); // 4 carried over + the 8 of this run
    store.dispose();
    model.dispose();
  });
});

describe('fit: validation on the runner engine (StepRunner.inference)', () => {
  /** localRunner with an inference whose predict says class 0 with certainty for every image; null: inference returns undefined. */
  function runnerWithInference(log: { opened: number; disposed: number; images: number[] }, available: boolean): StepRunnerFactory {
    return async (context) => {
      const inner = await localRunner()(context);
      return {
        step: (batch, o) => inner.step(batch, o),
        sync: (o) => inner.sync(o),
        dispose: () => inner.dispose(),
        inference: () => {
          if (!available) return undefined;
          log.opened += 1;
          return {
            predict: async (_images, shape) => {
              log.images.push(shape[0]);
              const out = new Float32Array(shape[0] * 3);
              for (let i = 0; i < shape[0]; i++) out[i * 3] = 1;
              return [out];
            },
            dispose: async () => void (log.disposed += 1),
          };
        },
      };
    };
  }

  it("the task validates through the runner's predict, opened and disposed once per validation", async () => {
    const log = { opened: 0, disposed: 0, images: [] as number[] };
    const model = tinyClassifier();
    const r = await fit(model, memoryData(12), { ...recipe, epochs: 2, validation: memoryData(9), validationBatchSize: 4, runner: runnerWithInference(log, true) });
    // memoryData labels i % 3: 3 of the 9 images are class 0, the only class this predict ever names.
    expect(r.history.map((h) => h.val?.top1)).toEqual([3 / 9, 3 / 9]);
    expect(r.val!.metrics.loss).toBeCloseTo((6 * -Math.log(1e-7) + 3 * -Math.log(1 - 1e-7)) / 9, 5);
    expect(log).toEqual({ opened: 2, disposed: 2, images: [4, 4, 1, 4, 4, 1] });
    model.dispose();
  });

  it('a runner whose inference cannot run the model (undefined) validates on tfjs, as a runner without one', async () => {
    const log = { opened: 0, disposed: 0, images: [] as number[] };
    const a = tinyClassifier();
    const b = tinyClassifier();
    const ra = await fit(a, memoryData(12), { ...recipe, epochs: 2, validation: memoryData(9), runner: runnerWithInference(log, false) });
    const rb = await fit(b, memoryData(12), { ...recipe, epochs: 2, validation: memoryData(9) });
    expect(log.opened).toBe(0);
    expect(ra.history.map((h) => h.val)).toEqual(rb.history.map((h) => h.val));
    a.dispose();
    b.dispose();
  });
});

it("once the model holds a step's weights, later syncs at that step ask for the optimizer only (recomputed statistics stay in the model and checkpoints)", async () => {
  const calls: { step: number; weights?: boolean; optimizer?: boolean }[] = [];
  let step = 0;
  const recording: StepRunnerFactory = async (context) => {
    const inner = await localRunner()(context);
    return {
      step: (batch, o) => ((step = o.step + 1), inner.step(batch, o)),
      sync: (o) => (calls.push({ step, ...o }), inner.sync(o)),
      dispose: () => inner.dispose(),
    };
  };
  const model = tinyClassifier();
  const store = new MemoryCheckpointStore();
  await fit(model, memoryData(8), { ...recipe, epochs: 1, validation: memoryData(6), runner: recording, checkpoints: { store, everySteps: 100 } });
  // Validation takes the weights; the best and last checkpoints and the end take the optimizer only.
  expect(calls).toEqual([{ step: 2, weights: true, optimizer: false }, { step: 2, weights: false, optimizer: true }]);
  store.dispose();
  model.dispose();
});
