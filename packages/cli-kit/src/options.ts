/** Parsers for command-line option values that fail with a message naming the option. */
import { UsageError } from './errors';

export function parseNumberOption(name: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${name} expects a number. Received '${raw}'.`);
    return value;
  };
}

export function parseIntegerOption(name: string, min = -Infinity) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new UsageError(`${name} expects an integer${min > -Infinity ? ` ≥ ${min}` : ''}. Received '${raw}'.`);
    }
    return value;
  };
}

export function parseChoiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (raw: string): T => {
    if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`${name} must be one of ${choices.join(', ')}. Received '${raw}'.`);
    return raw as T;
  };
}
