/**
 * A run that must end within a time budget ("train for 30 minutes") gets the most from it when its
 * learning-rate schedule ends with the budget: a cosine cut off by the clock halfway down leaves the
 * weights noisy. fit measures its own speed over the first steps of a call (FitOptions.plan) and this
 * turns that measurement into the number of steps that fit the rest of the budget.
 */

/** What fit measured over a call's first steps: its first epoch, or FitOptions.planAfterSteps steps of a longer one (FitOptions.plan's argument). */
export interface EpochTiming {
  /** Optimizer steps of the whole run at the end of the epoch. */
  step: number;
  /** Epochs completed. */
  epochs: number;
  stepsPerEpoch: number;
  /** Seconds since this fit call began: setup, the steps, and at an epoch's end its validation and checkpoint. */
  elapsedSeconds: number;
  /**
   * Seconds per step once running: the wall time after the call's first step (which includes
   * compiling the step) over the steps after it, data waits included, validation not. The first
   * step's own time when the call has taken only one step.
   */
  secondsPerStep: number;
  /** Seconds the epoch's validation took (statistics recomputed, inference, evaluation), null when none ran (or mid-epoch). */
  validationSeconds: number | null;
}

export interface TimeBudget {
  /** Minutes the whole call may take (the same as fit's maxMinutes). */
  minutes: number;
  /** Fit's validateEvery: one validation every this many epochs, and one at the end. */
  validateEvery: number;
  /** The validation's seconds when the measured epoch did not validate (e.g. from the validation set's size); 0 without validation. */
  validationSecondsEstimate: number;
  /** Share of the budget kept in reserve for what the plan cannot see (final checkpoint and model save, slower steps). Default 0.03. */
  reserve?: number;
}

/**
 * The run's total steps (whole run, ≥ timing.step + 1) that end within `budget.minutes` of the call's
 * start at the measured speed: the time left, less the final validation and the reserve, divided by a
 * step's cost with its share of the periodic validations.
 */
export function stepsWithinMinutes(timing: EpochTiming, budget: TimeBudget): number {
  const { minutes, validateEvery, validationSecondsEstimate, reserve = 0.03 } = budget;
  for (const [field, value] of [['minutes', minutes], ['secondsPerStep', timing.secondsPerStep], ['validateEvery', validateEvery]] as const) {
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`stepsWithinMinutes: ${field} must be a finite number > 0. Received ${value}.`);
  }
  if (!(reserve >= 0 && reserve < 1)) throw new RangeError(`stepsWithinMinutes: reserve must be in [0, 1). Received ${reserve}.`);
  const validationSeconds = timing.validationSeconds ?? validationSecondsEstimate;
  const left = minutes * 60 * (1 - reserve) - timing.elapsedSeconds - validationSeconds;
  const secondsPerStep = timing.secondsPerStep + validationSeconds / (validateEvery * timing.stepsPerEpoch);
  return timing.step + Math.max(1, Math.floor(left / secondsPerStep));
}
