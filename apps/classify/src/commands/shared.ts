/** Options and data loading shared by the commands. */
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { UsageError, parseIntegerOption, parseNumberOption } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import type { ImageRecord } from '@mobilenets/datasets';

export interface ArchCliOptions {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  dropout?: number;
  bnMomentum?: number;
}

export function addArchitectureOptions(command: Command): Command {
  return command
    .addOption(new Option('--arch <arch>', 'MobileNet version').choices(['v1', 'v2']).default('v1'))
    .addOption(new Option('--alpha <α>', 'width multiplier α: (0, 1] for v1, > 0 for v2').argParser(parseNumberOption('--alpha')).default(1))
    .addOption(new Option('--input-size <pixels>', 'input resolution, a multiple of 32 (224, 192, 160, 128, 96, 64, 32)').argParser(parseIntegerOption('--input-size')).default(224))
    .addOption(new Option('--dropout <rate>', 'dropout before the classifier (default: 0.001 for v1, 0.2 for v2)').argParser(parseNumberOption('--dropout')))
    .addOption(new Option('--bn-momentum <m>', 'batch-norm moving-average momentum (default 0.9, as PyTorch; 0.99, as Keras, lags runs of a few hundred steps)').argParser(parseNumberOption('--bn-momentum')));
}

/** Reads a dataset folder, turning "no such folder" into a message that names the option. */
export async function readFolder(option: string, dir: string, valFraction: number, seed: number) {
  if (!fs.existsSync(dir)) throw new UsageError(`${option} ${dir}: no such directory. Expected a folder with one subfolder per class (${dir}/<class>/<image>.jpg).`);
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${option} ${dir}: not a directory. Expected a folder with one subfolder per class (${dir}/<class>/<image>.jpg).`);
  try {
    return await datasets.readImageFolder(dir, { valFraction, seed });
  } catch (error) {
    throw new Error(`${option} ${dir}: could not read the dataset`, { cause: error });
  }
}

/** Training and validation records: --val if given, else a held-out share of --data. */
export async function resolveData(dataDir: string, valDir: string | undefined, valFraction: number, seed: number, log: (line: string) => void): Promise<{ classes: string[]; train: ImageRecord[]; val: ImageRecord[] }> {
  const data = await readFolder('--data', dataDir, valDir === undefined ? valFraction : 0, seed);
  const report = (option: string, d: { skipped: { files: number; examples: string[] }; warnings?: string[] }) => {
    if (d.skipped.files > 0) log(`${option}: left out ${d.skipped.files} files that are not images (e.g. ${d.skipped.examples.join(', ')})`);
    for (const w of d.warnings ?? []) log(`${option}: warning: ${w}`);
  };
  report('--data', data);
  if (data.train.length === 0) throw new UsageError(`--data ${dataDir}: no training images (all ${data.val.length} went to validation). Add images or lower --val-fraction.`);
  if (valDir === undefined) return { classes: data.classes, train: data.train, val: data.val };
  const val = await readFolder('--val', valDir, 0, seed);
  report('--val', val);
  const missing = val.classes.filter((c) => !data.classes.includes(c));
  if (missing.length > 0) {
    throw new UsageError(`--val ${valDir}: class folders ${missing.map((c) => `'${c}'`).join(', ')} are not classes of --data (${data.classes.join(', ')}).`);
  }
  const remap = (r: ImageRecord) => ({ path: r.path, label: data.classes.indexOf(val.classes[r.label]) });
  return { classes: data.classes, train: [...data.train, ...data.val], val: [...val.train, ...val.val].map(remap) };
}
