import { constantSchedule } from '@mobilenets/training';
import { type RunLengthSettings, cosinePlanner, minutesToPlan, runLengthFromFlags, scheduledSteps } from './time-budget';

const budgeted: RunLengthSettings = { epochs: null, steps: null, budgetMinutes: 10, cosineExtensions: [], valEvery: 1, batch: 16 };

describe('time budget (--max-minutes without --epochs or --steps)', () => {
  it('lays the schedule over 30 provisional epochs until planned, and plans only runs without a set length', () => {
    expect(scheduledSteps(budgeted, 40)).toBe(1200);
    expect(scheduledSteps({ ...budgeted, epochs: 3 }, 40)).toBe(120);
    expect(scheduledSteps({ ...budgeted, steps: 77, epochs: 3 }, 40)).toBe(77);
    expect(minutesToPlan(budgeted, undefined)).toBe(10); // the recorded budget
    expect(minutesToPlan(budgeted, 4)).toBe(4); // this call's --max-minutes
    expect(minutesToPlan({ ...budgeted, steps: 500 }, 4)).toBeNull(); // planned already
    expect(minutesToPlan({ ...budgeted, epochs: 5, budgetMinutes: null }, 4)).toBeNull(); // --epochs with --max-minutes: a cap only
  });

  it('a new run: --max-minutes alone is a budget; with --epochs or --steps, a cap; no flag, the default epochs', () => {
    expect(runLengthFromFlags({ maxMinutes: 30 }, 12)).toEqual({ epochs: null, steps: null, budgetMinutes: 30 });
    expect(runLengthFromFlags({ epochs: 4, maxMinutes: 30 }, 12)).toEqual({ epochs: 4, steps: null, budgetMinutes: null });
    expect(runLengthFromFlags({ steps: 90, maxMinutes: 30 }, 12)).toEqual({ epochs: null, steps: 90, budgetMinutes: null });
    expect(runLengthFromFlags({}, 12)).toEqual({ epochs: 12, steps: null, budgetMinutes: null });
  });

  it('plans from the measured first epoch: the steps that fit, a cosine plan that now ends there, recorded through `planned`', async () => {
    const lines: string[] = [];
    const recorded: RunLengthSettings[] = [];
    const plan = cosinePlanner({
      minutes: 10, settings: budgeted, stepsPerEpoch: 40, validationImages: 200, log: (l) => lines.push(l),
      planned: (s) => {
        recorded.push(s);
        return constantSchedule(0.5);
      },
    });
    const result = await plan({ step: 40, epochs: 1, stepsPerEpoch: 40, elapsedSeconds: 22, secondsPerStep: 0.5, validationSeconds: 2 });
    // 600 · 0.97 − 22 − 2 = 558 s at 0.5 + 2/40 = 0.55 s a step: 1014 more steps.
    expect(result.steps).toBe(1054);
    expect(result.schedule.lr(0, 0)).toBe(0.5);
    expect(recorded).toEqual([{ ...budgeted, steps: 1054, cosineExtensions: [{ atStep: 0, totalSteps: 1200 }, { atStep: 40, totalSteps: 1054, keepsPhase: true }] }]);
    expect(lines).toEqual(['--max-minutes 10: at 32.0 images/s (0.50 s a step, a validation 2.0 s), 1054 steps (26.4 epochs) fit in the 9m38s left; the learning rate now decays to 0 at step 1054.']);
  });

  it('corrects the plan from later steps, again and again: the end moves from the rate the run has, unless within 1 %', async () => {
    const lines: string[] = [];
    const recorded: RunLengthSettings[] = [];
    const plan = cosinePlanner({ minutes: 10, settings: budgeted, stepsPerEpoch: 40, validationImages: 200, log: (l) => lines.push(l), planned: (s) => (recorded.push(s), constantSchedule(0.5)) });
    await plan({ step: 40, epochs: 1, stepsPerEpoch: 40, elapsedSeconds: 22, secondsPerStep: 0.5, validationSeconds: 2 });
    // Later steps ran faster: 600 · 0.97 − 62 − 2 = 518 s at 0.4 + 2/40 = 0.45 s a step: 1151 more after step 120.
    const corrected = await plan({ step: 120, epochs: 3, stepsPerEpoch: 40, elapsedSeconds: 62, secondsPerStep: 0.4, validationSeconds: 2 });
    expect(corrected.steps).toBe(1271);
    expect(recorded[1]).toEqual({ ...budgeted, steps: 1271, cosineExtensions: [{ atStep: 0, totalSteps: 1200 }, { atStep: 40, totalSteps: 1054, keepsPhase: true }, { atStep: 120, totalSteps: 1271, keepsPhase: true }] });
    expect(lines[1]).toBe('--max-minutes 10: replanned at step 120, at 40.0 images/s (0.40 s a step, a validation 2.0 s), 1271 steps (31.8 epochs) fit in the 8m58s left; the learning rate now decays to 0 at step 1271.');
    // Slower again later: 600 · 0.97 − 141 − 2 = 439 s at 0.5 + 2/40 = 0.55 s a step: 798 more after step 280, chained on the last plan.
    const again = await plan({ step: 280, epochs: 7, stepsPerEpoch: 40, elapsedSeconds: 141, secondsPerStep: 0.5, validationSeconds: 2 });
    expect(again.steps).toBe(1078);
    expect(recorded[2]!.cosineExtensions).toEqual([...recorded[1]!.cosineExtensions, { atStep: 280, totalSteps: 1078, keepsPhase: true }]);
    // Within 1 % of the first plan: kept as it was.
    const steady = cosinePlanner({ minutes: 10, settings: budgeted, stepsPerEpoch: 40, validationImages: 200, log: (l) => lines.push(l), planned: (s) => (recorded.push(s), constantSchedule(0.5)) });
    await steady({ step: 40, epochs: 1, stepsPerEpoch: 40, elapsedSeconds: 22, secondsPerStep: 0.5, validationSeconds: 2 });
    const held = await steady({ step: 120, epochs: 3, stepsPerEpoch: 40, elapsedSeconds: 66, secondsPerStep: 0.5, validationSeconds: 2 });
    expect(held.steps).toBe(1054);
    expect(recorded[4]).toEqual(recorded[3]);
    expect(lines[4]).toMatch(/^--max-minutes 10: replanned at step 120, at 32\.0 images\/s .*: the plan holds, 1054 steps/);
  });

  it('estimates the validation it has not seen from the validation images (half a training step an image)', async () => {
    let steps = 0;
    const plan = cosinePlanner({ minutes: 10, settings: { ...budgeted, valEvery: 5 }, stepsPerEpoch: 40, validationImages: 160, log: () => undefined, planned: (s) => ((steps = s.steps!), constantSchedule(1)) });
    await plan({ step: 40, epochs: 1, stepsPerEpoch: 40, elapsedSeconds: 20, secondsPerStep: 0.5, validationSeconds: null });
    // Estimate 0.5 · 0.5 s · 160 / 16 = 2.5 s; 582 − 20 − 2.5 = 559.5 s at 0.5 + 2.5/200 = 0.5125 s → 1091 more.
    expect(steps).toBe(40 + 1091);
  });
});
