/** Options and data loading shared by the commands. */
import * as fs from 'node:fs';
import { Option } from 'commander';
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
    if (error instanceof datasets.EmptyDatasetError) throw new UsageError(`${option} ${dir}: ${error.detail.startsWith(error.dir) ? `this folder${error.detail.slice(error.dir.length)}` : error.detail}`);
    const message = error instanceof Error ? error.message.replace(/^readImageFolder: /, '') : String(error);
    throw new Error(`${option} ${dir}: could not read the dataset: ${message}`);
  }
}

/** Training and validation records: --val if given, else a held-out share of --data. */
export async function resolveData(dataDir: string, valDir: string | undefined, valFraction: number, seed: number, log: (line: string) => void): Promise<{ classes: string[]; train: ImageRecord[]; val: ImageRecord[] }> {
  const data = await readFolder('--data', dataDir, valDir === undefined ? valFraction : 0, seed);
  const report = (option: string, d: { skipped: { files: number; examples: string[] }; warnings?: string[] }) => reportFolder(option, d, log);
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

/** An image left out because it could not be read, and why (for --json and the warnings). */
export interface SkippedImage {
  file: string;
  reason: string;
}

/** --max-pixels: the decoder's pixel limit (DEFAULT_MAX_PIXELS, 100 megapixels, by default). */
export function maxPixelsOption(): Option {
  return new Option('--max-pixels <n>', `largest image accepted, in pixels (width × height); default ${datasets.DEFAULT_MAX_PIXELS} (${datasets.DEFAULT_MAX_PIXELS / 1e6} megapixels). Larger images are skipped with a warning`).argParser((raw: string) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < 1) {
      throw new UsageError(`--max-pixels expects a number of pixels ≥ 1 (e.g. 200000000 for 200 megapixels). Received '${raw}'.`);
    }
    return Math.floor(value);
  });
}

/** Prints what the reader left out or warned about (non-image files, symlink loops, duplicates, empty classes). */
export function reportFolder(option: string, d: { skipped: { files: number; examples: string[] }; warnings?: string[] }, log: (line: string) => void): void {
  if (d.skipped.files > 0) log(`${option}: left out ${d.skipped.files} files that are not images (e.g. ${d.skipped.examples.join(', ')})`);
  for (const w of d.warnings ?? []) log(`${option}: warning: ${w}`);
}
