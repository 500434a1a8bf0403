/**
 * `--max-minutes M` without --epochs or --steps: "train for M minutes". The apps' cosine schedules
 * end at the last planned step, so a run cut off by the clock would stop halfway down the cosine; this
 * plans the run instead. The schedule starts on a provisional length; at the end of the first epoch
 * (or after FitOptions.planAfterSteps steps of a longer one) fit hands over its measured speed
 * (FitOptions.plan) and the cosine's end moves to the last step that fits the budget (an extension of
 * the run's cosine plan: the rate does not jump). The app records the planned steps and the plan in
 * run.json, so --resume continues the same schedule.
 */
import { type CosineExtension, type EpochTiming, type RunPlan, type Schedule, lengthenCosinePlan, stepsWithinMinutes } from '@mobilenets/training';
import { formatDuration } from './progress';

/** Epochs a time-budgeted run's schedule is laid over until its speed is measured (the rate barely moves before). */
export const PROVISIONAL_EPOCHS = 30;

/**
 * Validation's cost, estimated from a training step's when the measured epoch did not validate: a
 * forward pass is about a third of a training step per image; post-processing and the evaluator
 * bring it to about half.
 */
export function estimatedValidationSeconds(secondsPerStep: number, batch: number, validationImages: number): number {
  return (0.5 * secondsPerStep * validationImages) / batch;
}

/** The run.json settings a time budget reads and writes (every training app records them). */
export interface RunLengthSettings {
  epochs: number | null;
  steps: number | null;
  /** --max-minutes of a run started without --epochs or --steps; its steps are null until planned. */
  budgetMinutes: number | null;
  cosineExtensions: CosineExtension[];
  valEvery: number;
  batch: number;
}

/**
 * A new run's length from its flags: --epochs or --steps as given; --max-minutes alone leaves both null
 * and becomes the budget; nothing at all gives `defaultEpochs`.
 */
export function runLengthFromFlags(f: { epochs?: number; steps?: number; maxMinutes?: number }, defaultEpochs: number): Pick<RunLengthSettings, 'epochs' | 'steps' | 'budgetMinutes'> {
  const budgetMinutes = f.epochs === undefined && f.steps === undefined ? (f.maxMinutes ?? null) : null;
  return { epochs: f.epochs ?? (f.steps === undefined && budgetMinutes === null ? defaultEpochs : null), steps: f.steps ?? null, budgetMinutes };
}

/** The total steps a run's schedule is laid over: its steps or epochs, or PROVISIONAL_EPOCHS while a time budget is not yet planned. */
export function scheduledSteps(s: RunLengthSettings, stepsPerEpoch: number): number {
  return s.steps ?? (s.epochs ?? PROVISIONAL_EPOCHS) * stepsPerEpoch;
}

/**
 * The minutes this call plans the run to, null when its length is already set: a new run given
 * --max-minutes alone, or one stopped before it was planned (then this call's --max-minutes,
 * else the recorded one).
 */
export function minutesToPlan(s: RunLengthSettings, maxMinutes: number | undefined): number | null {
  return s.epochs === null && s.steps === null ? (maxMinutes ?? s.budgetMinutes) : null;
}

/**
 * FitOptions.plan for a run fitted to `minutes`: from fit's measurement of the first steps, the steps
 * that fit (stepsWithinMinutes) and a cosine plan that now ends there; `planned` records the settings
 * (run.json) and gives the schedule they describe. Fit calls it again at each later validated epoch,
 * timed over the steps since the previous plan, to correct it: the run's end moves again (from the rate
 * it has, as an extension of the plan) unless the new plan is within 1 % of the current one.
 */
export function cosinePlanner<S extends RunLengthSettings>(o: {
  minutes: number;
  settings: S;
  stepsPerEpoch: number;
  /** Validation images (0 without validation). */
  validationImages: number;
  log: (line: string) => void;
  planned: (settings: S) => Schedule | Promise<Schedule>;
}): (timing: EpochTiming) => Promise<RunPlan> {
  let current = o.settings;
  let plans = 0;
  return async (timing) => {
    const { minutes, log } = o;
    const validationSecondsEstimate = o.validationImages === 0 ? 0 : estimatedValidationSeconds(timing.secondsPerStep, current.batch, o.validationImages);
    let steps = stepsWithinMinutes(timing, { minutes, validateEvery: current.valEvery, validationSecondsEstimate });
    const correcting = plans > 0;
    plans += 1;
    const kept = correcting && Math.abs(steps - current.steps!) <= 0.01 * current.steps!;
    if (kept) steps = current.steps!;
    const validation = timing.validationSeconds === null ? '' : `, a validation ${timing.validationSeconds.toFixed(1)} s`;
    const speed = `at ${(current.batch / timing.secondsPerStep).toFixed(1)} images/s (${timing.secondsPerStep.toFixed(2)} s a step${validation})`;
    const fits = `${steps} steps (${(steps / timing.stepsPerEpoch).toFixed(1)} epochs) fit in the ${formatDuration(minutes * 60 - timing.elapsedSeconds)} left`;
    if (kept) log(`--max-minutes ${minutes}: replanned at step ${timing.step}, ${speed}: the plan holds, ${fits}.`);
    else log(`--max-minutes ${minutes}: ${correcting ? `replanned at step ${timing.step}, ` : ''}${speed}, ${fits}; the learning rate now decays to 0 at step ${steps}.`);
    if (!kept) current = { ...current, steps, cosineExtensions: lengthenCosinePlan(current.cosineExtensions, scheduledSteps(current, o.stepsPerEpoch), steps, timing.step) };
    return { steps, schedule: await o.planned(current) };
  };
}
