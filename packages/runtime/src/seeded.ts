/**
 * Reproducible values in [shift − scale, shift + scale) from a 32-bit linear congruential generator: the
 * same numbers on every run and machine, for tests and benchmark inputs.
 */
export function seededUniform(length: number, seed: number, scale = 1, shift = 0): Float32Array {
  const values = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = (s / 2 ** 31 - 1) * scale + shift;
  }
  return values;
}
