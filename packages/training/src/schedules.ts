/**
 * Learning-rate schedules as small objects: `lr(step, epoch)` gives the rate for the optimizer step
 * numbered `step` (0-based, counted over the whole run) taken during epoch `epoch` (0-based).
 * Systems take a schedule object, never a name: `fit(model, data, { schedule: cosineDecay({...}) })`.
 */

export interface Schedule {
  /** The learning rate of optimizer step `step` (0-based, whole run) in epoch `epoch` (0-based). */
  lr(step: number, epoch: number): number;
  /** A short human-readable description, e.g. for a training summary. */
  describe(): string;
}

function check(where: string, field: string, value: number, ok: boolean, expected: string): void {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${where}: ${field} must be a number (${expected}). Received ${String(value)}.`);
  if (!ok) throw new RangeError(`${where}: ${field} must be ${expected}. Received ${value}.`);
}

/** The same rate at every step. */
export function constantSchedule(lr: number): Schedule {
  check('constantSchedule', 'lr', lr, lr > 0 && Number.isFinite(lr), 'a finite number > 0');
  return { lr: () => lr, describe: () => `constant ${lr}` };
}

export interface ExponentialDecayOptions {
  /** Rate during the first epoch. The papers' recipe: 0.045. */
  initial: number;
  /** Factor applied every `everyEpochs` epochs. The papers' recipe: 0.98 per epoch. */
  rate: number;
  /** Epochs between two decays (staircase). Default 1. */
  everyEpochs?: number;
}

/** initial · rate^⌊epoch / everyEpochs⌋: the MobileNet papers' "0.98 per epoch". */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const { initial, rate, everyEpochs = 1 } = options;
  check('exponentialDecay', 'initial', initial, initial > 0 && Number.isFinite(initial), 'a finite number > 0');
  check('exponentialDecay', 'rate', rate, rate > 0 && rate <= 1, 'in (0, 1]');
  check('exponentialDecay', 'everyEpochs', everyEpochs, Number.isInteger(everyEpochs) && everyEpochs >= 1, 'an integer ≥ 1');
  return {
    lr: (_step, epoch) => initial * rate ** Math.floor(epoch / everyEpochs),
    describe: () => `${initial} × ${rate}${everyEpochs === 1 ? ' per epoch' : ` every ${everyEpochs} epochs`}`,
  };
}

export interface StepDecayOptions {
  initial: number;
  /** Multiplies the rate at each boundary (e.g. 0.1). */
  factor: number;
  /** Epochs at which the rate drops (ascending), e.g. [30, 60, 80]. Exactly one of boundaries / everyEpochs. */
  boundaries?: number[];
  /** Drop every this many epochs. */
  everyEpochs?: number;
}

/** Piecewise-constant decay by epoch: initial · factor^(boundaries passed). */
export function stepDecay(options: StepDecayOptions): Schedule {
  const { initial, factor, boundaries, everyEpochs } = options;
  check('stepDecay', 'initial', initial, initial > 0 && Number.isFinite(initial), 'a finite number > 0');
  check('stepDecay', 'factor', factor, factor > 0 && factor <= 1, 'in (0, 1]');
  if ((boundaries === undefined) === (everyEpochs === undefined)) {
    throw new TypeError('stepDecay: pass exactly one of "boundaries" (epochs, ascending) and "everyEpochs".');
  }
  if (everyEpochs !== undefined) {
    check('stepDecay', 'everyEpochs', everyEpochs, Number.isInteger(everyEpochs) && everyEpochs >= 1, 'an integer ≥ 1');
    return { lr: (_s, epoch) => initial * factor ** Math.floor(epoch / everyEpochs), describe: () => `${initial} × ${factor} every ${everyEpochs} epochs` };
  }
  const b = boundaries!;
  b.forEach((e, i) => check('stepDecay', `boundaries[${i}]`, e, Number.isInteger(e) && e > (i === 0 ? 0 : b[i - 1]), 'a positive integer epoch, ascending'));
  return {
    lr: (_s, epoch) => initial * factor ** b.filter((e) => epoch >= e).length,
    describe: () => `${initial} × ${factor} at epochs ${b.join(', ')}`,
  };
}

export interface CosineDecayOptions {
  initial: number;
  /** Steps over which the rate falls from `initial` to `minimum`; it stays at `minimum` after. */
  totalSteps: number;
  /** Default 0. */
  minimum?: number;
}

/** minimum + ½(initial − minimum)(1 + cos(π · step / totalSteps)). */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const { initial, totalSteps, minimum = 0 } = options;
  check('cosineDecay', 'initial', initial, initial > 0 && Number.isFinite(initial), 'a finite number > 0');
  check('cosineDecay', 'totalSteps', totalSteps, Number.isInteger(totalSteps) && totalSteps >= 1, 'an integer ≥ 1');
  check('cosineDecay', 'minimum', minimum, minimum >= 0 && minimum <= initial, `in [0, initial = ${initial}]`);
  return {
    lr: (step) => minimum + 0.5 * (initial - minimum) * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps)),
    describe: () => `cosine ${initial} → ${minimum} over ${totalSteps} steps`,
  };
}

export interface WarmupOptions {
  /** Steps of linear warm-up. */
  steps: number;
  /** Rate fraction at step 0 before the ramp; default 0 (the first step uses 1/steps of the rate). */
  fromFraction?: number;
}

/** Linear warm-up over the first `steps` steps, scaling `schedule` from fromFraction to 1; then `schedule` itself. */
export function linearWarmup(schedule: Schedule, options: WarmupOptions): Schedule {
  const { steps, fromFraction = 0 } = options;
  check('linearWarmup', 'steps', steps, Number.isInteger(steps) && steps >= 1, 'an integer ≥ 1');
  check('linearWarmup', 'fromFraction', fromFraction, fromFraction >= 0 && fromFraction <= 1, 'in [0, 1]');
  return {
    lr: (step, epoch) => {
      const base = schedule.lr(step, epoch);
      if (step >= steps) return base;
      return base * (fromFraction + ((1 - fromFraction) * (step + 1)) / steps);
    },
    describe: () => `linear warm-up over ${steps} steps, then ${schedule.describe()}`,
  };
}

/** The MobileNet papers' schedule: 0.045 decayed ×0.98 every epoch. */
export function paperSchedule(initial = 0.045): Schedule {
  return exponentialDecay({ initial, rate: 0.98 });
}

/** Where a cosine decay was lengthened: from step `atStep` on, the decay ends at `totalSteps` instead. */
export interface CosineExtension {
  atStep: number;
  totalSteps: number;
  /**
   * True: from `atStep` the rate goes on along the same cosine curve, its remaining part stretched (or
   * squeezed) to end at `totalSteps`. Absent (plans recorded before the flag existed): a new cosine starts
   * at the rate it found, flat at first — run after run of small corrections then held the rate high
   * until the last one, so plans now keep the phase.
   */
  keepsPhase?: boolean;
}

/**
 * A cosine decay whose end moved while it ran (a resumed run given more epochs or steps, or a run fitted
 * to a time budget once its speed was measured: FitOptions.plan). Up to the
 * first extension it is `cosineDecay(options)`; from each extension's `atStep` on, the rate goes to
 * `minimum` at the extension's `totalSteps`: along the same cosine curve from the point it had reached
 * (`keepsPhase`), or by a new cosine from the value it had there. The rate never jumps (a plain cosine
 * recomputed over the longer run would restart high), and a run that is never extended is unchanged.
 */
export function extendedCosine(options: CosineDecayOptions, extensions: readonly CosineExtension[]): Schedule {
  const base = cosineDecay(options);
  const { minimum = 0 } = options;
  let previous = { atStep: 0, totalSteps: options.totalSteps };
  extensions.forEach((e, i) => {
    check('extendedCosine', `extensions[${i}].atStep`, e.atStep, Number.isInteger(e.atStep) && e.atStep >= previous.atStep, `an integer ≥ ${previous.atStep}`);
    check('extendedCosine', `extensions[${i}].totalSteps`, e.totalSteps, Number.isInteger(e.totalSteps) && e.totalSteps > e.atStep, `an integer > atStep (${e.atStep})`);
    previous = e;
  });
  const lr = (step: number, k: number): number => {
    if (k < 0) return base.lr(step, 0);
    const e = extensions[k];
    if (step < e.atStep) return lr(step, k - 1);
    const start = lr(e.atStep, k - 1);
    const t = Math.min(step - e.atStep, e.totalSteps - e.atStep) / (e.totalSteps - e.atStep);
    if (e.keepsPhase !== true) return minimum + 0.5 * (start - minimum) * (1 + Math.cos(Math.PI * t));
    // The point of the cosine from `initial` the rate had reached, then the rest of the curve over the new span.
    const span = options.initial - minimum;
    const phase = span > 0 ? Math.acos(Math.max(-1, Math.min(1, (2 * (start - minimum)) / span - 1))) / Math.PI : 1;
    return minimum + 0.5 * span * (1 + Math.cos(Math.PI * (phase + (1 - phase) * t)));
  };
  return {
    lr: (step) => lr(step, extensions.length - 1),
    describe: () => `${base.describe()}${extensions.map((e) => `, replanned at step ${e.atStep} to end at ${e.totalSteps}`).join('')}`,
  };
}

/**
 * A run's cosine plan as apps record it: empty while never lengthened, else the original plan
 * ({ atStep: 0, totalSteps }) followed by each lengthening. `lengthenCosinePlan` adds one (the run is at
 * `atStep`, its total goes from `before` to `after` steps); `cosineFromPlan` is the schedule it gives.
 */
export function lengthenCosinePlan(plan: readonly CosineExtension[], before: number, after: number, atStep: number): CosineExtension[] {
  if (!(after > atStep)) throw new RangeError(`lengthenCosinePlan: the run is already at step ${atStep}; the new total (${after} steps) must end after it.`);
  const planned = plan.length > 0 ? plan : [{ atStep: 0, totalSteps: before }];
  return [...planned, { atStep, totalSteps: after, keepsPhase: true }];
}

export function cosineFromPlan(initial: number, plan: readonly CosineExtension[], totalSteps: number): Schedule {
  const [first, ...extensions] = plan.length > 0 ? plan : [{ atStep: 0, totalSteps }];
  return extensions.length === 0 ? cosineDecay({ initial, totalSteps: first.totalSteps }) : extendedCosine({ initial, totalSteps: first.totalSteps }, extensions);
}
