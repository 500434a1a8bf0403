/**
 * What the training apps share when `--resume` continues a run: the settings a resumed run takes from
 * its folder (a flag that names another value is an error naming both), and a cosine schedule lengthened
 * by a later --epochs or --steps.
 */
import type { Command } from 'commander';
import { type CosineExtension, lengthenCosinePlan } from '@mobilenets/training';
import { UsageError } from './errors';

/** A setting recorded in run.json that --resume takes from there: its flag, the option's key, the setting's key. */
export interface RecordedSetting<Flags, Settings> {
  flag: string;
  key: keyof Flags & string;
  setting: keyof Settings;
}

/** Throws a UsageError for the first recorded setting the user typed with another value than the run's. */
export function checkRecordedFlags<Flags, Settings>(recorded: Settings, flags: Flags, command: Command, runDir: string, table: readonly RecordedSetting<Flags, Settings>[]): void {
  for (const { flag, key, setting } of table) {
    if (command.getOptionValueSource(key) !== 'cli') continue;
    if (flags[key] !== (recorded[setting] as unknown)) {
      throw new UsageError(
        `${flag} ${String(flags[key])} conflicts with the run in ${runDir}, which was trained with ${flag} ${String(recorded[setting])}. ` +
          `Leave ${flag} out to continue the run as it was, or start a new run with another --out.`,
      );
    }
  }
}

/**
 * The cosine plan of a resumed run whose total steps went from `before` to `after` (null when they did
 * not change): the rate decays from its value at the run's last checkpoint to 0 at the new end. A new
 * end at or before the checkpoint is a UsageError.
 */
export async function lengthenedCosineOnResume(o: {
  plan: readonly CosineExtension[];
  before: number;
  after: number;
  lastStep: () => Promise<number>;
  log: (line: string) => void;
}): Promise<CosineExtension[] | null> {
  if (o.after === o.before) return null;
  const at = await o.lastStep();
  if (o.after <= at) throw new UsageError(`--resume: the run is already at step ${at}; --epochs/--steps must end after it (they give ${o.after} steps).`);
  o.log(`--resume: the cosine schedule now ends at step ${o.after} instead of ${o.before}; from step ${at} the rate decays from its current value to 0 at the new end.`);
  return lengthenCosinePlan(o.plan, o.before, o.after, at);
}
