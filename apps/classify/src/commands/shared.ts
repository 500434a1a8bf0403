/** Options and data loading shared by the commands. */
import * as fs from 'node:fs';
import { UsageError } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import type { ImageRecord } from '@mobilenets/datasets';

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
