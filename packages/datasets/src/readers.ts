/**
 * Dataset readers: an ImageFolder-style directory (one subfolder per class) and a CSV manifest.
 * Both return file lists only — nothing is decoded here, so a 100k-image dataset costs a few MB.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMAGE_EXTENSIONS } from './image-io';
import { parseCsv } from './csv';
import { checkSplitOptions, compareStrings, splitClass, type SplitOptions } from './split';

/** One labelled image file. */
export interface ImageRecord {
  /** Absolute (or as-given) path of the image file. */
  path: string;
  /** Class index into the dataset's `classes`. */
  label: number;
}

/** A classification dataset as lists of files. */
export interface ImageDataset {
  /** Class names, sorted by code unit; a label is an index into this list. */
  classes: string[];
  /** Training examples, grouped by class, in path order within a class. */
  train: ImageRecord[];
  /** Validation examples, in the same order. */
  val: ImageRecord[];
  /** Files that are not images (by extension) and were left out. */
  skipped: {
    /** How many. */
    files: number;
    /** Up to 5 of their paths, to show the user. */
    examples: string[];
  };
  /** Problems that do not stop reading (an empty class, a class missing from one split…). */
  warnings: string[];
}

export type ReadFolderOptions = SplitOptions;

export interface ReadCsvOptions extends SplitOptions {
  /** Folder that relative paths resolve against. Default: the CSV file's folder. */
  root?: string;
}

const MAX_EXAMPLES = 5;

/** True when the file name has an accepted image extension (.jpg .jpeg .png .webp, any case). */
export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

class SkipCounter {
  files = 0;
  examples: string[] = [];
  add(file: string): void {
    this.files++;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(file);
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function listDir(dir: string, what: string): Promise<fs.Dirent[]> {
  try {
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => compareStrings(a.name, b.name));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : (error as Error).message;
    throw new Error(`${what}: cannot read the directory ${dir}: ${reason}. Expected a folder with one subfolder per class (dir/<class>/<image>.jpg).`, { cause: error });
  }
}

/** Follows symbolic links; true for directories. */
async function entryIsDirectory(dir: string, entry: fs.Dirent): Promise<boolean> {
  return entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(path.join(dir, entry.name)));
}

/** Image files under `dir`, recursively, in name order; other files go to `skipped`. */
async function imagesUnder(dir: string, skipped: SkipCounter, what: string): Promise<string[]> {
  const images: string[] = [];
  for (const entry of await listDir(dir, what)) {
    const full = path.join(dir, entry.name);
    if (await entryIsDirectory(dir, entry)) images.push(...(await imagesUnder(full, skipped, what)));
    else if (isImageFile(entry.name)) images.push(full);
    else skipped.add(full);
  }
  return images;
}

/** Class folder name → image paths, for the class folders directly under `dir`. */
async function classFolders(dir: string, skipped: SkipCounter, what: string): Promise<Map<string, string[]>> {
  const classes = new Map<string, string[]>();
  for (const entry of await listDir(dir, what)) {
    if (entry.name.startsWith('.')) continue; // .git, .DS_Store folders and other hidden entries
    const full = path.join(dir, entry.name);
    if (await entryIsDirectory(dir, entry)) classes.set(entry.name, await imagesUnder(full, skipped, what));
    else skipped.add(full);
  }
  return classes;
}

function noImagesError(what: string, dir: string, skipped: SkipCounter, hasClasses: boolean): Error {
  const found = skipped.files > 0 ? ` It holds ${skipped.files} other file(s), e.g. ${skipped.examples.join(', ')}.` : '';
  const problem = hasClasses ? 'has class folders but no images in them' : 'has no class folders';
  return new Error(`${what}: ${dir} ${problem}. Expected dir/<class>/<image> with images named *.jpg, *.jpeg, *.png or *.webp (or dir/train/<class>/… and dir/val/<class>/…).${found}`);
}

/**
 * Reads a class-per-subfolder dataset: `dir/<class>/**\/*.jpg` (also .jpeg, .png, .webp). Classes are
 * the folder names sorted by code unit; label = index. When `dir/train` and `dir/val` are both
 * folders they are the split (their class folders are merged by name); otherwise each class is split
 * by `seed` (see split.ts: the same files give the same split everywhere). Empty classes keep their
 * label and are reported in `warnings`; a folder without class folders or images throws an Error.
 */
export async function readImageFolder(dir: string, options: ReadFolderOptions = {}): Promise<ImageDataset> {
  const what = 'readImageFolder';
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${what}: dir must be a non-empty string. Received ${String(dir)}.`);
  const { valFraction, seed } = checkSplitOptions(what, options);
  const root = path.resolve(dir);
  const skipped = new SkipCounter();
  const warnings: string[] = [];
  const presplit = (await isDirectory(path.join(root, 'train'))) && (await isDirectory(path.join(root, 'val')));

  let trainFiles: Map<string, string[]>;
  let valFiles: Map<string, string[]>;
  if (presplit) {
    trainFiles = await classFolders(path.join(root, 'train'), skipped, what);
    valFiles = await classFolders(path.join(root, 'val'), skipped, what);
  } else {
    const all = await classFolders(root, skipped, what);
    trainFiles = new Map();
    valFiles = new Map();
    for (const [name, files] of all) {
      const { train, val } = splitClass(files, (f) => path.relative(root, f).split(path.sep).join('/'), valFraction, seed);
      trainFiles.set(name, train);
      valFiles.set(name, val);
    }
  }
  const classes = [...new Set([...trainFiles.keys(), ...valFiles.keys()])].sort(compareStrings);
  const total = classes.reduce((n, c) => n + (trainFiles.get(c)?.length ?? 0) + (valFiles.get(c)?.length ?? 0), 0);
  if (total === 0) throw noImagesError(what, root, skipped, classes.length > 0);

  const records = (files: Map<string, string[]>) => classes.flatMap((c, label) => (files.get(c) ?? []).map((p) => ({ path: p, label })));
  for (const c of classes) {
    const nTrain = trainFiles.get(c)?.length ?? 0;
    const nVal = valFiles.get(c)?.length ?? 0;
    if (nTrain + nVal === 0) warnings.push(`class '${c}' has no images (its folder is empty); it keeps label ${classes.indexOf(c)}`);
    else if (presplit && nTrain === 0) warnings.push(`class '${c}' has no training images (only ${nVal} in val/)`);
    else if (presplit && nVal === 0) warnings.push(`class '${c}' has no validation images (only ${nTrain} in train/)`);
  }
  return { classes, train: records(trainFiles), val: records(valFiles), skipped: { files: skipped.files, examples: skipped.examples }, warnings };
}

/**
 * Reads a CSV manifest: a header row naming the columns `path` and `label` (and optionally `split`,
 * with values `train` or `val`), then one image per row. Labels are class names (classes are sorted by
 * code unit); relative paths resolve against `root` or the CSV's folder. Rows without a split (or all
 * rows, without the column) are split by `seed` as in {@link readImageFolder}. Bad rows throw an Error
 * naming the file, the line and the field. Files are not opened here: missing ones surface when decoded.
 */
export async function readCsvManifest(file: string, options: ReadCsvOptions = {}): Promise<ImageDataset> {
  const what = 'readCsvManifest';
  if (typeof file !== 'string' || file === '') throw new TypeError(`${what}: file must be a non-empty string. Received ${String(file)}.`);
  const { valFraction, seed } = checkSplitOptions(what, options);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${what}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const root = path.resolve(options.root ?? path.dirname(file));
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new Error(`${what}: ${file} is empty. Expected a header row 'path,label[,split]' and one row per image.`);

  const header = rows[0].fields.map((f) => f.trim().toLowerCase());
  const col = { path: header.indexOf('path'), label: header.indexOf('label'), split: header.indexOf('split') };
  if (col.path < 0 || col.label < 0) {
    throw new Error(`${file}:${rows[0].line}: the header row must name the columns 'path' and 'label' (and optionally 'split'). Received '${rows[0].fields.join(',')}'.`);
  }
  const fieldError = (line: number, field: string, message: string) => new Error(`${file}:${line}: field '${field}' ${message}`);

  type Row = { path: string; key: string; className: string; split: 'train' | 'val' | '' };
  const parsed: Row[] = [];
  for (const row of rows.slice(1)) {
    if (row.fields.length !== header.length) {
      throw new Error(`${file}:${row.line}: expected ${header.length} fields (${header.join(',')}). Received ${row.fields.length}: '${row.fields.join(',')}'.`);
    }
    const p = row.fields[col.path].trim();
    const className = row.fields[col.label].trim();
    const split = col.split >= 0 ? row.fields[col.split].trim().toLowerCase() : '';
    if (p === '') throw fieldError(row.line, 'path', 'is empty; expected the image file path');
    if (className === '') throw fieldError(row.line, 'label', 'is empty; expected a class name');
    if (split !== '' && split !== 'train' && split !== 'val') throw fieldError(row.line, 'split', `must be 'train', 'val' or empty. Received '${split}'.`);
    parsed.push({ path: path.resolve(root, p), key: p.split(path.sep).join('/'), className, split });
  }
  if (parsed.length === 0) throw new Error(`${what}: ${file} has a header but no rows. Expected one row per image.`);

  const classes = [...new Set(parsed.map((r) => r.className))].sort(compareStrings);
  const labelOf = new Map(classes.map((c, i) => [c, i] as const));
  const train: ImageRecord[] = [];
  const val: ImageRecord[] = [];
  for (const [label, c] of classes.entries()) {
    const ofClass = parsed.filter((r) => r.className === c);
    const unassigned = splitClass(ofClass.filter((r) => r.split === ''), (r) => r.key, valFraction, seed);
    const toRecord = (r: Row) => ({ path: r.path, label });
    train.push(...ofClass.filter((r) => r.split === 'train').map(toRecord), ...unassigned.train.map(toRecord));
    val.push(...ofClass.filter((r) => r.split === 'val').map(toRecord), ...unassigned.val.map(toRecord));
  }
  const warnings: string[] = [];
  for (const c of classes) {
    const label = labelOf.get(c);
    if (!train.some((r) => r.label === label)) warnings.push(`class '${c}' has no training rows`);
  }
  return { classes, train, val, skipped: { files: 0, examples: [] }, warnings };
}
