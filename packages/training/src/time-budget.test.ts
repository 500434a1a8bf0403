import { type EpochTiming, stepsWithinMinutes } from './time-budget';

// 40 steps an epoch; after one epoch (20 s of setup and training, 2 s of validation) at 0.5 s a step.
const timing: EpochTiming = { step: 40, epochs: 1, stepsPerEpoch: 40, elapsedSeconds: 22, secondsPerStep: 0.5, validationSeconds: 2 };

describe('stepsWithinMinutes', () => {
  it('fills the time left, less the final validation and the reserve, with steps and their share of the validations', () => {
    // 10 minutes, no reserve: 600 − 22 − 2 = 576 s left; a step costs 0.5 + 2 / 40 = 0.55 s → 1047 more steps.
    expect(stepsWithinMinutes(timing, { minutes: 10, validateEvery: 1, validationSecondsEstimate: 0, reserve: 0 })).toBe(40 + 1047);
    // Validating every 4 epochs: 0.5 + 2 / 160 = 0.5125 s a step → 1123 more.
    expect(stepsWithinMinutes(timing, { minutes: 10, validateEvery: 4, validationSecondsEstimate: 0, reserve: 0 })).toBe(40 + 1123);
    // The default 3 % reserve: 582 − 24 = 558 s → 1014 more.
    expect(stepsWithinMinutes(timing, { minutes: 10, validateEvery: 1, validationSecondsEstimate: 0 })).toBe(40 + 1014);
  });

  it('uses the estimate when the measured epoch did not validate', () => {
    const unvalidated = { ...timing, elapsedSeconds: 20, validationSeconds: null };
    // 600 − 20 − 8 = 572 s; 0.5 + 8 / 80 = 0.6 s a step → 953 more.
    expect(stepsWithinMinutes(unvalidated, { minutes: 10, validateEvery: 2, validationSecondsEstimate: 8, reserve: 0 })).toBe(40 + 953);
  });

  it('plans at least one more step when the budget is already spent', () => {
    expect(stepsWithinMinutes({ ...timing, elapsedSeconds: 700 }, { minutes: 10, validateEvery: 1, validationSecondsEstimate: 0 })).toBe(41);
  });

  it('refuses budgets and speeds that are not positive', () => {
    expect(() => stepsWithinMinutes(timing, { minutes: 0, validateEvery: 1, validationSecondsEstimate: 0 })).toThrow(/minutes must be a finite number > 0/);
    expect(() => stepsWithinMinutes({ ...timing, secondsPerStep: Number.NaN }, { minutes: 1, validateEvery: 1, validationSecondsEstimate: 0 })).toThrow(/secondsPerStep/);
    expect(() => stepsWithinMinutes(timing, { minutes: 1, validateEvery: 1, validationSecondsEstimate: 0, reserve: 1 })).toThrow(/reserve must be in \[0, 1\)/);
  });
});
