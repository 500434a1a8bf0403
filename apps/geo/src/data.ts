/**
 * The geo app's data: geotagged photo manifests named by flags (CSV `path,lat,lon`), their bad rows
 * reported by line, the held-out split, and the embedded default (the procedural geotagged set,
 * generated into the run folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import type { GeoSource } from './run-settings';

/** The procedural set a run generates when no --data is given. */
export const GENERATED_GEO_DEFAULTS = { trainImages: 20000, valImages: 2000, size: 128 } as const;

/** Bad rows printed one by one; the rest are counted. */
const SHOWN_BAD_ROWS = 10;

/** The source the flags name (`--data CSV [--images DIR]`, or with a prefix `--val-data …`), null for none. */
export function sourceFromFlags(flags: { data?: string; images?: string }, prefix = ''): GeoSource | null {
  if (flags.images !== undefined && flags.data === undefined) throw new UsageError(`--${prefix}images names the folder of --${prefix}data's photos: give --${prefix}data photos.csv too.`);
  if (flags.data === undefined) return null;
  const csv = path.resolve(flags.data);
  return { csv, images: path.resolve(flags.images ?? path.dirname(csv)) };
}

/** The folders a source reads (to keep run folders out of them). */
export function sourceFolders(source: GeoSource): string[] {
  return [...new Set([path.dirname(source.csv), source.images])];
}

/**
 * Reads a manifest. A missing file or header is a usage error naming the flag; bad rows are reported by
 * line and left out; a manifest with no usable row is a usage error.
 */
export async function readGeoSource(source: GeoSource, flag: string, log: (line: string) => void): Promise<datasets.GeoRecord[]> {
  if (!fs.existsSync(source.csv)) throw new UsageError(`${flag} ${source.csv}: no such file. Expected a CSV of geotagged photos with the header path,lat,lon.`);
  if (!fs.existsSync(source.images)) throw new UsageError(`${flag.replace('data', 'images')} ${source.images}: no such folder (the photos of ${source.csv}).`);
  let read: Awaited<ReturnType<typeof datasets.readGeoCsv>>;
  try {
    read = await datasets.readGeoCsv(source.csv, { imagesDir: source.images });
  } catch (error) {
    throw new UsageError(`${flag} ${(error as Error).message}`);
  }
  const { records, badRows } = read;
  for (const bad of badRows.slice(0, SHOWN_BAD_ROWS)) log(`${flag}: warning: skipped ${bad.message}`);
  if (badRows.length > SHOWN_BAD_ROWS) log(`${flag}: … and ${badRows.length - SHOWN_BAD_ROWS} more bad rows skipped`);
  if (records.length === 0) throw new UsageError(`${flag} ${source.csv}: no usable rows (${badRows.length} bad). Expected rows of path,lat,lon with existing image files.`);
  return records;
}

/** Writes the default training and validation sets into `<dir>/train` and `<dir>/val` (the held-out photos continue the seeded stream). */
export async function generateDefaultGeoData(dir: string, seed: number, log: (line: string) => void): Promise<{ train: GeoSource; val: GeoSource }> {
  const d = GENERATED_GEO_DEFAULTS;
  log(`no --data: generating the procedural geotagged set (${d.trainImages} training + ${d.valImages} held-out photos of ${d.size} px, placed by world population) in ${dir}`);
  const parts = [
    { name: 'train', images: d.trainImages, firstIndex: 0 },
    { name: 'val', images: d.valImages, firstIndex: d.trainImages },
  ];
  for (const part of parts) {
    const progress = progressLine(`generating ${part.name}`, 'photos');
    await datasets.generateGeoDataset({ dir: path.join(dir, part.name), images: part.images, size: d.size, seed, firstIndex: part.firstIndex, onProgress: progress.update });
    progress.done();
  }
  const source = (name: string): GeoSource => ({ csv: path.join(dir, name, 'photos.csv'), images: path.join(dir, name) });
  return { train: source('train'), val: source('val') };
}
