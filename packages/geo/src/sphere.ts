/**
 * Points on the unit sphere: latitude/longitude in degrees ↔ unit 3-D vectors, the (weighted) mean
 * direction of a set of points, and the great-circle interpolation between two points. Averaging the
 * vectors and not the angles is what makes a mean correct across the antimeridian (179° and −179°
 * average to 180°, not 0°) and near the poles.
 */
import type { LatLonDegrees } from './distance';

/** A 3-D vector [x, y, z]; x towards (0°, 0°), y towards (0°, 90° E), z towards the north pole. */
export type Vector3 = [number, number, number];

const RADIANS = Math.PI / 180;
const DEGREES = 180 / Math.PI;

/** The unit vector of a point. */
export function unitVector(point: LatLonDegrees): Vector3 {
  const lat = point.lat * RADIANS;
  const lon = point.lon * RADIANS;
  const c = Math.cos(lat);
  return [c * Math.cos(lon), c * Math.sin(lon), Math.sin(lat)];
}

/** The point a (not necessarily unit) vector points at, or null for a vector too short to have a direction. */
export function pointOfVector(vector: ArrayLike<number>): LatLonDegrees | null {
  const [x, y, z] = [vector[0], vector[1], vector[2]];
  const norm = Math.hypot(x, y, z);
  if (!(norm > 1e-12)) return null;
  return { lat: Math.atan2(z, Math.hypot(x, y)) * DEGREES, lon: Math.atan2(y, x) * DEGREES };
}

/**
 * The weighted mean direction of points: the sum of their unit vectors times their weights, back to
 * latitude/longitude. Null when the weighted sum has no direction (no weight, or points that cancel out,
 * such as two antipodes of equal weight).
 */
export function meanDirection(points: readonly LatLonDegrees[], weights?: ArrayLike<number>): LatLonDegrees | null {
  const sum: Vector3 = [0, 0, 0];
  points.forEach((p, i) => {
    const w = weights === undefined ? 1 : weights[i];
    const v = unitVector(p);
    for (let k = 0; k < 3; k++) sum[k] += w * v[k];
  });
  return pointOfVector(sum);
}

/**
 * The point a fraction `t` ∈ [0, 1] of the way from unit vector `a` to unit vector `b` along the
 * shorter great circle between them (spherical linear interpolation). `a` for t = 0, `b` for t = 1.
 */
export function slerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number): Vector3 {
  const dot = Math.max(-1, Math.min(1, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]));
  const angle = Math.acos(dot);
  const s = Math.sin(angle);
  // Nearly equal vectors: the linear blend is the arc to within rounding.
  const [wa, wb] = s < 1e-9 ? [1 - t, t] : [Math.sin((1 - t) * angle) / s, Math.sin(t * angle) / s];
  return [wa * a[0] + wb * b[0], wa * a[1] + wb * b[1], wa * a[2] + wb * b[2]];
}
