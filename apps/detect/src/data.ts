/**
 * The detection app's data: COCO files or Pascal VOC folders named by flags, the held-out split, and the
 * embedded default (the procedural shapes set, generated into the run folder). Errors name the flag and
 * the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import type { DetectionSource } from './run-settings';

/** The procedural set a run generates when no --data is given: 600 training and 200 held-out images of 320 px. */
export const GENERATED_DETECTION_DEFAULTS = { trainImages: 600, valImages: 200, classes: 3, size: 320, maxObjects: 5 } as const;

/** The source the flags name: --data COCO.json [--images DIR] or --voc DIR [--voc-split NAME]; null for neither. */
export function sourceFromFlags(flags: { data?: string; images?: string; voc?: string; vocSplit?: string }, prefix = ''): DetectionSource | null {
  const [data, images, voc] = [`--${prefix}data`, `--${prefix}images`, `--${prefix}voc`];
  if (flags.data !== undefined && flags.voc !== undefined) throw new UsageError(`${data} and ${voc} both name a dataset: give one (a COCO JSON file or a Pascal VOC folder).`);
  if (flags.images !== undefined && flags.data === undefined) throw new UsageError(`${images} names the folder of ${data}'s images: give ${data} COCO.json too.`);
  if (flags.data !== undefined) {
    const annotations = path.resolve(flags.data);
    return { kind: 'coco', annotations, images: path.resolve(flags.images ?? path.dirname(annotations)) };
  }
  if (flags.voc !== undefined) return { kind: 'voc', dir: path.resolve(flags.voc), split: flags.vocSplit ?? null };
  return null;
}

/** The folders a source reads (to keep run folders out of them). */
export function sourceFolders(source: DetectionSource): string[] {
  return source.kind === 'coco' ? [path.dirname(source.annotations), source.images] : [source.dir];
}

export function describeSource(source: DetectionSource): string {
  return source.kind === 'coco' ? `${source.annotations} (images in ${source.images})` : `${source.dir}${source.split === null ? '' : ` (image set ${source.split})`}`;
}

/** Reads a source; problems with the files are usage errors (missing) or failures (malformed) naming the flag and the file. */
export async function readSource(source: DetectionSource, flag: string, log: (line: string) => void): Promise<datasets.DetectionDataset> {
  const where = source.kind === 'coco' ? source.annotations : source.dir;
  if (!fs.existsSync(where)) throw new UsageError(`${flag} ${where}: no such ${source.kind === 'coco' ? 'file. Expected a COCO instances JSON (images, annotations, categories)' : 'folder. Expected a Pascal VOC folder (Annotations/*.xml, JPEGImages/)'}.`);
  if (source.kind === 'coco' && !fs.existsSync(source.images)) throw new UsageError(`--images ${source.images}: no such folder (the images of ${source.annotations}).`);
  let dataset: datasets.DetectionDataset;
  try {
    dataset = source.kind === 'coco'
      ? await datasets.readCocoDetection(source.annotations, { images: source.images })
      : await datasets.readVocDetection(source.dir, source.split === null ? {} : { split: source.split });
  } catch (error) {
    if (error instanceof datasets.AnnotationError) throw new Error(`${flag}: ${error.message}`);
    throw new Error(`${flag} ${where}: could not read the dataset (${(error as Error).message})`, { cause: error });
  }
  if (dataset.missing.files > 0) log(`${flag}: warning: ${dataset.missing.files} image(s) named in the annotations are not on disk and are left out (e.g. ${dataset.missing.examples.join(', ')})`);
  for (const w of dataset.warnings.slice(0, 10)) log(`${flag}: warning: ${w}`);
  if (dataset.warnings.length > 10) log(`${flag}: … and ${dataset.warnings.length - 10} more warnings`);
  if (dataset.records.length === 0) throw new UsageError(`${flag} ${where}: no images with annotations to use.`);
  return dataset;
}

/** Writes the default training and validation sets into `<dir>/train` and `<dir>/val` (the held-out images continue the seeded stream). */
export async function generateDefaultDetectionData(dir: string, seed: number, log: (line: string) => void): Promise<{ train: DetectionSource; val: DetectionSource }> {
  const d = GENERATED_DETECTION_DEFAULTS;
  log(`no --data: generating the procedural shapes set (${d.classes} classes, ${d.trainImages} training + ${d.valImages} held-out images of ${d.size} px, 1–${d.maxObjects} shapes each) in ${dir}`);
  const common = { classes: d.classes, size: d.size, maxObjects: d.maxObjects, seed };
  const parts = [
    { name: 'train', images: d.trainImages, firstIndex: 0 },
    { name: 'val', images: d.valImages, firstIndex: d.trainImages },
  ];
  for (const part of parts) {
    const progress = progressLine(`generating ${part.name}`, 'images');
    await datasets.generateDetectionDataset({ ...common, dir: path.join(dir, part.name), images: part.images, firstIndex: part.firstIndex, onProgress: progress.update });
    progress.done();
  }
  const source = (name: string): DetectionSource => ({ kind: 'coco', annotations: path.join(dir, name, 'annotations.json'), images: path.join(dir, name) });
  return { train: source('train'), val: source('val') };
}
