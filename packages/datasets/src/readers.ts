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
  /**
   * Problems that do not stop reading: an empty class, a class missing from one split, a symbolic link
   * that was not followed (a loop, or a second way to a folder already read), files left out because
   * they are links to images already counted, broken links.
   */
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
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Error(`${what}: cannot read the directory ${dir}: permission denied. Make it readable for you, or move it out of the dataset.`, { cause: error });
    }
    const reason = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : (error as Error).message;
    throw new Error(`${what}: cannot read the directory ${dir}: ${reason}. Expected a folder with one subfolder per class (dir/<class>/<image>.jpg).`, { cause: error });
  }
}

/** An image file found by the walk; `id` (device:inode) names the file whatever path reaches it. */
interface FoundImage {
  path: string;
  id: string;
  /** Reached through a symbolic link (a link to the file, not a link to a folder above it). */
  link: boolean;
}

const idOf = (s: fs.Stats) => `${s.dev}:${s.ino}`;

/** `inner` is `outer` or lies inside it (both real paths). */
function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Walks a dataset folder so that no folder is read twice and no file is counted twice, whatever
 * symbolic links (or hard links) it holds:
 * - a link to a folder of the dataset, to the dataset folder itself or to a folder above it is not
 *   followed (its images are read where they are; following it would loop or count them again);
 * - a link to a folder outside the dataset is followed, once: a second way into a folder already read
 *   (a loop out there, or two links to one folder) is not;
 * - a file reached by two paths (a link to an image of another class, a hard link) is counted once, at
 *   its own path rather than a link's (see {@link Walker.dedupe}).
 * Each thing left out is reported in `warnings`.
 */
class Walker {
  /** Folders read so far (device:inode → the path they were read at). */
  private readonly seenDirs = new Map<string, string>();
  private readonly broken = new SkipCounter();
  readonly warnings: string[] = [];

  private constructor(
    private readonly root: string,
    private readonly realRoot: string,
    readonly skipped: SkipCounter,
    private readonly what: string,
  ) {}

  static async create(root: string, skipped: SkipCounter, what: string): Promise<Walker> {
    let realRoot = root;
    try {
      realRoot = await fs.promises.realpath(root);
      const walker = new Walker(root, realRoot, skipped, what);
      walker.seenDirs.set(idOf(await fs.promises.stat(realRoot)), root);
      return walker;
    } catch {
      return new Walker(root, realRoot, skipped, what); // listDir reports the missing or unreadable folder
    }
  }

  private show(p: string): string {
    const rel = path.relative(this.root, p);
    return rel === '' ? this.root : rel.split(path.sep).join('/');
  }

  /** Whether to read the folder `full` (a directory entry, or a link to one); reports why not. */
  private async enter(full: string, entry: fs.Dirent): Promise<boolean> {
    let stats: fs.Stats;
    try {
      stats = await fs.promises.stat(full);
    } catch {
      return false;
    }
    const id = idOf(stats);
    if (entry.isSymbolicLink()) {
      let real = full;
      try {
        real = await fs.promises.realpath(full);
      } catch {
        // stat followed the link, so realpath will too; keep the link's path for the message otherwise
      }
      if (isWithin(real, this.realRoot)) {
        const where = real === this.realRoot ? 'the dataset folder itself (a loop)' : `${this.show(path.join(this.root, path.relative(this.realRoot, real)))}, a folder of this dataset`;
        this.warnings.push(`skipped the link ${this.show(full)}: it leads to ${where}; its images are read where they are, not again through the link`);
        return false;
      }
      if (isWithin(this.realRoot, real)) {
        this.warnings.push(`skipped the link ${this.show(full)}: it leads to ${real}, a folder that contains the dataset (a loop)`);
        return false;
      }
      const first = this.seenDirs.get(id);
      if (first !== undefined) {
        this.warnings.push(`skipped the link ${this.show(full)}: it leads to ${real}, a folder already read as ${this.show(first)} (a symlink loop, or a second link to one folder)`);
        return false;
      }
    } else {
      const first = this.seenDirs.get(id);
      if (first !== undefined) {
        this.warnings.push(`skipped ${this.show(full)}: it is the folder already read as ${this.show(first)}`);
        return false;
      }
    }
    this.seenDirs.set(id, full);
    return true;
  }

  /** What a directory entry is, following symbolic links; a link to nothing is 'broken'. */
  private async kind(full: string, entry: fs.Dirent): Promise<'dir' | 'file' | 'broken' | 'other'> {
    if (entry.isDirectory()) return 'dir';
    if (entry.isFile()) return 'file';
    if (!entry.isSymbolicLink()) return 'other'; // a socket, a FIFO, a device
    try {
      const stats = await fs.promises.stat(full);
      return stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other';
    } catch {
      return 'broken'; // dangling, or a link that points at itself
    }
  }

  /**
   * Image files under `dir`, recursively, in name order; other files go to `skipped`. Hidden entries
   * (.git, .thumbnails, macOS' ._IMG.jpg resource forks) are not data and are passed over.
   */
  async imagesUnder(dir: string, out: FoundImage[] = []): Promise<FoundImage[]> {
    const entries = (await listDir(dir, this.what)).filter((e) => !e.name.startsWith('.'));
    const kinds = await Promise.all(entries.map((e) => this.kind(path.join(dir, e.name), e)));
    for (const [i, entry] of entries.entries()) {
      const full = path.join(dir, entry.name);
      const kind = kinds[i];
      if (kind === 'dir') {
        if (await this.enter(full, entry)) await this.imagesUnder(full, out);
      } else if (kind === 'broken') {
        this.broken.add(this.show(full));
      } else if (kind === 'file' && isImageFile(entry.name)) {
        out.push({ path: full, id: '', link: entry.isSymbolicLink() });
      } else {
        this.skipped.add(full);
      }
    }
    return out;
  }

  /** Class folder name → images, for the class folders directly under `dir`. */
  async classFolders(dir: string): Promise<Map<string, FoundImage[]>> {
    const classes = new Map<string, FoundImage[]>();
    const entries = await listDir(dir, this.what);
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // .git, .DS_Store folders and other hidden entries
      const full = path.join(dir, entry.name);
      const kind = await this.kind(full, entry);
      if (kind === 'dir') {
        if (await this.enter(full, entry)) classes.set(entry.name, await this.imagesUnder(full));
      } else if (kind === 'broken') {
        this.broken.add(this.show(full));
      } else {
        this.skipped.add(full);
      }
    }
    return classes;
  }

  /**
   * Keeps one path per file (device:inode) across all the lists, in place: the first path that is not
   * a link, else the first link. The others are reported once each in `warnings`.
   */
  async dedupe(lists: FoundImage[][]): Promise<void> {
    const all = lists.flat();
    const ids = await Promise.all(all.map((f) => fs.promises.stat(f.path).then(idOf, () => `missing:${f.path}`)));
    all.forEach((f, i) => (f.id = ids[i]));
    const keep = new Map<string, FoundImage>();
    for (const f of all) {
      const kept = keep.get(f.id);
      if (kept === undefined || (kept.link && !f.link)) keep.set(f.id, f);
    }
    const dropped: string[] = [];
    for (const list of lists) {
      const kept = list.filter((f) => {
        const winner = keep.get(f.id) as FoundImage;
        if (winner === f) return true;
        dropped.push(`${this.show(f.path)} (the same file as ${this.show(winner.path)})`);
        return false;
      });
      list.splice(0, list.length, ...kept);
    }
    if (dropped.length > 0) {
      const examples = dropped.slice(0, MAX_EXAMPLES).join(', ');
      this.warnings.push(`left out ${dropped.length} file(s) that are links to (or hard links of) images already counted, so that no image counts twice: ${examples}${dropped.length > MAX_EXAMPLES ? ', …' : ''}`);
    }
    if (this.broken.files > 0) {
      this.warnings.push(`left out ${this.broken.files} broken link(s) (their target does not exist): ${this.broken.examples.join(', ')}${this.broken.files > MAX_EXAMPLES ? ', …' : ''}`);
    }
  }
}

/** The folder has no class folders, or no images in them: most often the wrong folder was given. */
export class EmptyDatasetError extends Error {
  override name = 'EmptyDatasetError';
  /** The message without the function name, for callers that put their own option name in front. */
  readonly detail: string;
  constructor(what: string, readonly dir: string, detail: string) {
    super(`${what}: ${detail}`);
    this.detail = detail;
  }
}

function noImagesError(what: string, dir: string, skipped: SkipCounter, hasClasses: boolean): Error {
  const found = skipped.files > 0 ? ` It holds ${skipped.files} other file(s), e.g. ${skipped.examples.join(', ')}.` : '';
  const problem = hasClasses ? 'has class folders but no images in them' : 'has no class folders';
  return new EmptyDatasetError(what, dir, `${dir} ${problem}. Expected dir/<class>/<image> with images named *.jpg, *.jpeg, *.png or *.webp (or dir/train/<class>/… and dir/val/<class>/…).${found}`);
}

/**
 * Reads a class-per-subfolder dataset: `dir/<class>/**\/*.jpg` (also .jpeg, .png, .webp). Classes are
 * the folder names sorted by code unit; label = index. When `dir/train` and `dir/val` are both
 * folders they are the split (their class folders are merged by name); otherwise each class is split
 * by `seed` (see split.ts: the same files give the same split everywhere). Empty classes keep their
 * label and are reported in `warnings`; a folder without class folders or images throws an
 * {@link EmptyDatasetError}.
 *
 * Symbolic links are followed where that cannot count a file twice (see {@link Walker}): a link back
 * into the dataset or to a folder above it is skipped, a file reached by two paths counts once at its
 * own path, and each of these is reported in `warnings`.
 */
export async function readImageFolder(dir: string, options: ReadFolderOptions = {}): Promise<ImageDataset> {
  const what = 'readImageFolder';
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${what}: dir must be a non-empty string. Received ${String(dir)}.`);
  const { valFraction, seed } = checkSplitOptions(what, options);
  const root = path.resolve(dir);
  const skipped = new SkipCounter();
  const walker = await Walker.create(root, skipped, what);
  const presplit = (await isDirectory(path.join(root, 'train'))) && (await isDirectory(path.join(root, 'val')));

  // Folder walks first, then one path per file across the whole dataset, then the split.
  let trainFound: Map<string, FoundImage[]>;
  let valFound: Map<string, FoundImage[]>;
  if (presplit) {
    trainFound = await walker.classFolders(path.join(root, 'train'));
    valFound = await walker.classFolders(path.join(root, 'val'));
  } else {
    trainFound = await walker.classFolders(root);
    valFound = new Map();
  }
  const foundBefore = new Map<string, number>();
  for (const m of [trainFound, valFound]) for (const [c, f] of m) foundBefore.set(c, (foundBefore.get(c) ?? 0) + f.length);
  await walker.dedupe([...trainFound.values(), ...valFound.values()]);
  const paths = (m: Map<string, FoundImage[]>) => new Map([...m].map(([c, f]) => [c, f.map((x) => x.path)] as const));
  let trainFiles = paths(trainFound);
  let valFiles = paths(valFound);
  if (!presplit) {
    const all = trainFiles;
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

  const warnings = [...walker.warnings];
  const records = (files: Map<string, string[]>) => classes.flatMap((c, label) => (files.get(c) ?? []).map((p) => ({ path: p, label })));
  for (const c of classes) {
    const nTrain = trainFiles.get(c)?.length ?? 0;
    const nVal = valFiles.get(c)?.length ?? 0;
    if (nTrain + nVal === 0) {
      const why = (foundBefore.get(c) ?? 0) > 0 ? 'its images are all links to images counted elsewhere' : 'its folder is empty';
      warnings.push(`class '${c}' has no images (${why}); it keeps label ${classes.indexOf(c)}`);
    } else if (presplit && nTrain === 0) warnings.push(`class '${c}' has no training images (only ${nVal} in val/)`);
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
