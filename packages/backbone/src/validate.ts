/** Argument checks shared by the builders. Every message names the value received and what is allowed. */

export function checkWidthMultiplier(widthMultiplier: number, arch: string, allowAboveOne: boolean): void {
  if (typeof widthMultiplier !== 'number' || Number.isNaN(widthMultiplier)) {
    throw new TypeError(`${arch}: widthMultiplier (α) must be a number. Received ${String(widthMultiplier)}.`);
  }
  if (!(widthMultiplier > 0) || !Number.isFinite(widthMultiplier) || (!allowAboveOne && widthMultiplier > 1)) {
    const allowed = allowAboveOne ? 'a finite value > 0 (0.35 to 1.4 are the published ones)' : 'a value in (0, 1] (1, 0.75, 0.5 and 0.25 are the published ones)';
    throw new RangeError(`${arch}: widthMultiplier (α) must be ${allowed}. Received ${widthMultiplier}.`);
  }
}

/**
 * With the classifier (includeTop), a multiple of 32 as the papers use. A feature extractor (no top)
 * runs at any size ≥ 32: TF 'SAME' padding gives every stride-2 layer ceil(n / 2) outputs, which is how
 * SSD runs MobileNet at 300 × 300 (feature maps 19, 10, 5, 3, 2, 1).
 */
export function checkInputSize(inputSize: number, arch: string, includeTop = true): void {
  if (!includeTop) {
    if (!Number.isInteger(inputSize) || inputSize < 32) {
      throw new RangeError(`${arch}: inputSize must be an integer ≥ 32 (without the top any size works, e.g. SSD's 300). Received ${inputSize}.`);
    }
    return;
  }
  if (!Number.isInteger(inputSize) || inputSize < 32 || inputSize % 32 !== 0) {
    const nearest = Number.isFinite(inputSize) && inputSize > 32 ? [...new Set([Math.floor(inputSize / 32) * 32, Math.ceil(inputSize / 32) * 32])] : [32];
    throw new RangeError(
      `${arch}: inputSize must be an integer multiple of 32 that is at least 32 (224, 192, 160, 128 and 96 are the paper's). ` +
        `Received ${inputSize}. Images of any size are resized to the input size, so pick the nearest valid one: ${nearest.join(' or ')}.`,
    );
  }
}

export function checkClasses(classes: number, arch: string): void {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`${arch}: classes must be an integer ≥ 1. Received ${classes}.`);
  }
}

export function checkDropout(dropout: number, arch: string): void {
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new RangeError(`${arch}: dropout is a drop rate and must be in [0, 1). Received ${dropout}.`);
  }
}

export function checkOneOf<T extends string>(value: T, allowed: readonly T[], field: string, arch: string): void {
  if (!allowed.includes(value)) {
    throw new RangeError(`${arch}: ${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}. Received '${String(value)}'.`);
  }
}

export function checkBatchNormMomentum(momentum: number, arch: string): void {
  if (!(momentum >= 0 && momentum < 1)) throw new RangeError(`${arch}: batchNormMomentum must be in [0, 1). Received ${momentum}.`);
}

export function checkSeed(seed: number | null, arch: string): void {
  if (seed !== null && !Number.isSafeInteger(seed)) throw new RangeError(`${arch}: seed must be an integer (or null for unseeded weights). Received ${seed}.`);
}

/** Checks the fields V1 and V2 share (after defaults are filled in). */
export function checkCommonConfig(c: { inputSize: number; includeTop: boolean; classes: number; dropout: number; activation: string; pooling: string | null; batchNormMomentum: number; seed: number | null }, arch: string): void {
  checkInputSize(c.inputSize, arch, c.includeTop);
  checkClasses(c.classes, arch);
  checkDropout(c.dropout, arch);
  checkOneOf(c.activation, ['relu', 'relu6'], 'activation', arch);
  if (c.pooling !== null) checkOneOf(c.pooling, ['avg', 'max'], 'pooling', arch);
  checkBatchNormMomentum(c.batchNormMomentum, arch);
  checkSeed(c.seed, arch);
}

/** The fields of a config object that were actually given, so `{...defaults, ...given}` keeps defaults for `undefined`. */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
