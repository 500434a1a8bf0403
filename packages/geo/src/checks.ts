/** Argument checks the package's modules share, with messages that say what was received and what was expected. */
import type { LatLonDegrees } from './distance';

/** Which way a cell becomes a location: the mean of its photos or its S2 centre. */
export type CellLocationMode = 'mean' | 'center';

/** A value for an error message: JSON, shortened to 80 characters. */
export function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Throws unless `point` is { lat, lon } with lat in [-90, 90] and lon in [-180, 180] degrees; `where` names it. */
export function checkPoint(point: unknown, where: string): asserts point is LatLonDegrees {
  if (typeof point !== 'object' || point === null) throw new TypeError(`${where} must be a point { lat, lon } in degrees. Received ${describe(point)}.`);
  const { lat, lon } = point as Partial<LatLonDegrees>;
  if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) throw new RangeError(`${where}.lat must be a latitude in degrees in [-90, 90]. Received ${describe(lat)}.`);
  if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) throw new RangeError(`${where}.lon must be a longitude in degrees in [-180, 180]. Received ${describe(lon)}.`);
}

/** `mode` if it is 'mean' or 'center', else a RangeError naming `where`. */
export function checkMode(mode: unknown, where: string): CellLocationMode {
  if (mode !== 'mean' && mode !== 'center') throw new RangeError(`${where}: mode must be 'mean' (of the cell's photos) or 'center' (of the S2 cell). Received ${describe(mode)}.`);
  return mode;
}
