/**
 * Channel rounding exactly as the official TF-slim code does it.
 *
 * - MobileNetV1 (`mobilenet_v1.py`): `depth = max(int(channels * α), min_depth)`, a truncation with
 *   a floor of `minDepth` (8) channels.
 * - MobileNetV2 (`mobilenet.py`, `_make_divisible`): round to the nearest multiple of 8, never below 8,
 *   and never more than 10% below the unrounded value.
 */

/** V1 channel count for a layer of `channels` channels at width multiplier `widthMultiplier`. */
export function v1Channels(channels: number, widthMultiplier: number, minDepth = 8): number {
  return Math.max(Math.trunc(channels * widthMultiplier), minDepth);
}

/** TF-slim's `_make_divisible(value, divisor, min_value)`. */
export function makeDivisible(value: number, divisor = 8, minValue = divisor): number {
  let rounded = Math.max(minValue, Math.floor(Math.trunc(value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}
