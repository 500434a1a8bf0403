import { constantSchedule, cosineDecay, exponentialDecay, linearWarmup, paperSchedule, stepDecay } from './schedules';

describe('learning-rate schedules', () => {
  it("the papers' schedule: 0.045 × 0.98 per epoch, constant within an epoch", () => {
    const s = paperSchedule();
    expect(s.lr(0, 0)).toBeCloseTo(0.045, 12);
    expect(s.lr(999, 0)).toBeCloseTo(0.045, 12);
    expect(s.lr(1000, 1)).toBeCloseTo(0.045 * 0.98, 12);
    expect(s.lr(0, 10)).toBeCloseTo(0.045 * 0.98 ** 10, 12);
    expect(exponentialDecay({ initial: 1, rate: 0.5, everyEpochs: 2 }).lr(0, 3)).toBe(0.5);
  });

  it('step decay by boundaries or period', () => {
    const b = stepDecay({ initial: 0.1, factor: 0.1, boundaries: [30, 60] });
    expect([b.lr(0, 0), b.lr(0, 29), b.lr(0, 30), b.lr(0, 59), b.lr(0, 60)].map((x) => +x.toPrecision(6))).toEqual([0.1, 0.1, 0.01, 0.01, 0.001]);
    expect(stepDecay({ initial: 1, factor: 0.5, everyEpochs: 3 }).lr(0, 7)).toBe(0.25);
    expect(() => stepDecay({ initial: 1, factor: 0.5 })).toThrow(/exactly one of "boundaries"/);
    expect(() => stepDecay({ initial: 1, factor: 0.5, boundaries: [5, 3] })).toThrow(/boundaries\[1\] must be a positive integer epoch, ascending/);
  });

  it('cosine decay from initial to minimum over totalSteps, then flat', () => {
    const s = cosineDecay({ initial: 1, totalSteps: 100, minimum: 0.1 });
    expect(s.lr(0, 0)).toBeCloseTo(1, 12);
    expect(s.lr(50, 0)).toBeCloseTo(0.55, 12);
    expect(s.lr(100, 0)).toBeCloseTo(0.1, 12);
    expect(s.lr(500, 9)).toBeCloseTo(0.1, 12);
  });

  it('linear warm-up wraps another schedule', () => {
    const s = linearWarmup(constantSchedule(0.4), { steps: 4 });
    expect([0, 1, 2, 3, 4, 100].map((step) => s.lr(step, 0))).toEqual([0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4]);
    const w = linearWarmup(paperSchedule(), { steps: 10, fromFraction: 0.5 });
    expect(w.lr(0, 0)).toBeCloseTo(0.045 * 0.55, 12);
    expect(w.lr(20, 2)).toBeCloseTo(0.045 * 0.98 ** 2, 12);
    expect(w.describe()).toBe('linear warm-up over 10 steps, then 0.045 × 0.98 per epoch');
  });

  it('rejects bad values with the field and what was expected', () => {
    expect(() => exponentialDecay({ initial: 0.045, rate: 1.5 })).toThrow('exponentialDecay: rate must be in (0, 1]. Received 1.5.');
    expect(() => cosineDecay({ initial: 0.1, totalSteps: 0 })).toThrow(/totalSteps must be an integer ≥ 1/);
    expect(() => constantSchedule(NaN)).toThrow(TypeError);
  });
});

describe('extendedCosine', () => {
  it('is cosineDecay until lengthened, then falls from where it was to the new end without a jump', () => {
    const { cosineDecay: cosine, extendedCosine: extended } = require('./schedules');
    const plain = cosine({ initial: 0.1, totalSteps: 100 });
    const same = extended({ initial: 0.1, totalSteps: 100 }, []);
    for (const s of [0, 10, 50, 99, 100, 150]) expect(same.lr(s, 0)).toBe(plain.lr(s, 0));
    const longer = extended({ initial: 0.1, totalSteps: 100 }, [{ atStep: 60, totalSteps: 200 }]);
    for (const s of [0, 30, 59]) expect(longer.lr(s, 0)).toBe(plain.lr(s, 0));
    expect(longer.lr(60, 0)).toBeCloseTo(plain.lr(60, 0), 12);
    expect(longer.lr(61, 0)).toBeLessThan(longer.lr(60, 0));
    expect(longer.lr(61, 0)).toBeGreaterThan(plain.lr(61, 0)); // slower now: the end moved
    expect(longer.lr(200, 0)).toBeCloseTo(0, 12);
    const twice = extended({ initial: 0.1, totalSteps: 100 }, [{ atStep: 60, totalSteps: 200 }, { atStep: 150, totalSteps: 300 }]);
    expect(twice.lr(150, 0)).toBeCloseTo(longer.lr(150, 0), 12);
    expect(twice.lr(300, 0)).toBeCloseTo(0, 12);
    expect(() => extended({ initial: 0.1, totalSteps: 100 }, [{ atStep: 60, totalSteps: 50 }])).toThrow(/totalSteps must be an integer > atStep/);
  });

  it('keepsPhase: goes on along the same curve, stretched — many small corrections end where one would', () => {
    const { cosineDecay: cosine, extendedCosine: extended } = require('./schedules');
    const plain = cosine({ initial: 0.1, totalSteps: 100 });
    const stretched = extended({ initial: 0.1, totalSteps: 100 }, [{ atStep: 50, totalSteps: 150, keepsPhase: true }]);
    expect(stretched.lr(50, 0)).toBeCloseTo(plain.lr(50, 0), 12);
    // Half-way through the curve at step 50; the other half now takes 100 steps: step 100 is where step 75 was.
    expect(stretched.lr(100, 0)).toBeCloseTo(plain.lr(75, 0), 12);
    expect(stretched.lr(150, 0)).toBeCloseTo(0, 12);
    // Unlike a restarted cosine, it keeps falling at once after the correction.
    const restarted = extended({ initial: 0.1, totalSteps: 100 }, [{ atStep: 50, totalSteps: 150 }]);
    expect(stretched.lr(60, 0)).toBeLessThan(restarted.lr(60, 0));
    // Corrections at every 10th step that each move the end by 1 %: the curve stays close to one cosine to the last end.
    const corrections = Array.from({ length: 8 }, (_, k) => ({ atStep: 10 * (k + 1), totalSteps: Math.round(100 * 1.01 ** (k + 1)), keepsPhase: true }));
    const many = extended({ initial: 0.1, totalSteps: 100 }, corrections);
    const single = cosine({ initial: 0.1, totalSteps: corrections.at(-1)!.totalSteps });
    for (const s of [20, 50, 80, 100]) expect(Math.abs(many.lr(s, 0) - single.lr(s, 0))).toBeLessThan(0.004);
    const chained = extended({ initial: 0.1, totalSteps: 100 }, corrections.map(({ atStep, totalSteps }) => ({ atStep, totalSteps })));
    expect(chained.lr(90, 0)).toBeGreaterThan(many.lr(90, 0) + 0.01);
  });
});

describe('cosine plans (what apps record for --resume)', () => {
  it('an empty plan is the plain cosine; each lengthening continues from the rate the run had', () => {
    const { cosineFromPlan, lengthenCosinePlan, extendedCosine: extended } = require('./schedules');
    const plain = cosineDecay({ initial: 0.1, totalSteps: 100 });
    for (const s of [0, 40, 100]) expect(cosineFromPlan(0.1, [], 100).lr(s, 0)).toBe(plain.lr(s, 0));
    const once = lengthenCosinePlan([], 100, 200, 60);
    expect(once).toEqual([{ atStep: 0, totalSteps: 100 }, { atStep: 60, totalSteps: 200, keepsPhase: true }]);
    const twice = lengthenCosinePlan(once, 200, 300, 150);
    expect(twice).toEqual([...once, { atStep: 150, totalSteps: 300, keepsPhase: true }]);
    const expected = extended({ initial: 0.1, totalSteps: 100 }, twice.slice(1));
    for (const s of [0, 60, 61, 150, 151, 300]) expect(cosineFromPlan(0.1, twice, 999).lr(s, 0)).toBe(expected.lr(s, 0));
    expect(() => lengthenCosinePlan(once, 200, 150, 150)).toThrow(/already at step 150/);
  });
});
