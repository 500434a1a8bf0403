/**
 * Detection dataset readers: COCO JSON (instances files) and Pascal VOC folders (Annotations/*.xml).
 * Both return file lists with their boxes — nothing is decoded. Boxes come out as xyxy in pixels,
 * continuous coordinates (a box's width is x2 − x1). A malformed entry is an error naming the file,
 * the entry and the field; an image missing on disk is reported, not fatal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareStrings } from './split';

/** One image and its labelled objects. */
export interface DetectionRecord {
  /** The image file. */
  path: string;
  /** COCO image id (VOC: position in the list, from 1). */
  imageId: number;
  /** Size the annotations were made at, in pixels. */
  width: number;
  height: number;
  /** Objects' boxes, xyxy in pixels, 4 numbers a box. */
  boxesXyxy: Float64Array;
  /** Objects' class indices into the dataset's `classes`. */
  labels: Int32Array;
  /** 1 for objects evaluation ignores and training should not count as misses: COCO `iscrowd`, VOC `difficult`. */
  ignore: Uint8Array;
  /**
   * Objects' areas in pixels at the annotated size, what COCO evaluation's small / medium / large split
   * reads: COCO's `area` field (a segmentation's pixels, which may be less than the box's), or the
   * box's area where the file has none (VOC, or COCO without `area`). Absent: the boxes' areas.
   */
  areas?: Float64Array;
}

export interface DetectionDataset {
  /** Class names; a label is an index into this list. COCO: in category-id order; VOC: sorted. */
  classes: string[];
  /** COCO category id of each class (VOC: index + 1). */
  categoryIds: number[];
  records: DetectionRecord[];
  /** Images named by the annotations but not on disk (left out). */
  missing: { files: number; examples: string[] };
  /** Problems that do not stop reading (degenerate boxes dropped, objects outside the image clipped). */
  warnings: string[];
}

/** A malformed annotation file: the message names the file, the entry and the field. */
export class AnnotationError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'AnnotationError';
  }
}

const MAX_EXAMPLES = 5;

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The finite number at `record[field]`, or an AnnotationError naming `where.field`. */
function numberField(file: string, record: Record<string, unknown>, where: string, field: string, min = -Infinity): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new AnnotationError(file, `${where}.${field}: expected a finite number${min > -Infinity ? ` ≥ ${min}` : ''}, received ${describe(value)}.`);
  }
  return value;
}

function arrayField(file: string, json: Record<string, unknown>, field: string): Record<string, unknown>[] {
  const value = json[field];
  if (!Array.isArray(value)) throw new AnnotationError(file, `${field}: expected an array, received ${describe(value)}. Is this a COCO instances file?`);
  value.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new AnnotationError(file, `${field}[${i}]: expected an object, received ${describe(entry)}.`);
  });
  return value as Record<string, unknown>[];
}

interface Accumulating {
  boxes: number[];
  labels: number[];
  ignore: number[];
  areas: number[];
}

export interface ReadCocoOptions {
  /** Folder the images' `file_name`s resolve against. Default: the JSON file's folder. */
  images?: string;
}

/**
 * Reads a COCO instances JSON (`images`, `annotations`, `categories`). Boxes are COCO xywh in the file
 * and xyxy here; boxes with no area are dropped with a warning; `iscrowd` becomes `ignore`.
 */
export async function readCocoDetection(file: string, options: ReadCocoOptions = {}): Promise<DetectionDataset> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== undefined) throw error;
    throw new AnnotationError(file, `not valid JSON (${(error as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AnnotationError(file, 'expected a JSON object with images, annotations and categories.');
  const root = json as Record<string, unknown>;
  const imagesDir = options.images ?? path.dirname(file);

  const categories = arrayField(file, root, 'categories');
  if (categories.length === 0) throw new AnnotationError(file, 'categories: expected at least one category, received none.');
  const sortedCategories = categories.map((c, i) => {
    const id = numberField(file, c, `categories[${i}]`, 'id');
    if (typeof c.name !== 'string' || c.name === '') throw new AnnotationError(file, `categories[${i}].name: expected a non-empty string, received ${describe(c.name)}.`);
    return { id, name: c.name };
  }).sort((a, b) => a.id - b.id);
  const labelOf = new Map<number, number>();
  sortedCategories.forEach((c, i) => {
    if (labelOf.has(c.id)) throw new AnnotationError(file, `categories: the id ${c.id} is used twice.`);
    labelOf.set(c.id, i);
  });

  const images = arrayField(file, root, 'images');
  const byId = new Map<number, { path: string; width: number; height: number; objects: Accumulating }>();
  images.forEach((image, i) => {
    const id = numberField(file, image, `images[${i}]`, 'id');
    if (typeof image.file_name !== 'string' || image.file_name === '') throw new AnnotationError(file, `images[${i}].file_name: expected a non-empty string, received ${describe(image.file_name)}.`);
    if (byId.has(id)) throw new AnnotationError(file, `images[${i}].id: ${id} is used by an earlier image too.`);
    byId.set(id, {
      path: path.resolve(imagesDir, image.file_name),
      width: numberField(file, image, `images[${i}]`, 'width', 1),
      height: numberField(file, image, `images[${i}]`, 'height', 1),
      objects: { boxes: [], labels: [], ignore: [], areas: [] },
    });
  });

  const warnings: string[] = [];
  let degenerate = 0;
  arrayField(file, root, 'annotations').forEach((a, i) => {
    const where = `annotations[${i}]`;
    const imageId = numberField(file, a, where, 'image_id');
    const image = byId.get(imageId);
    if (image === undefined) throw new AnnotationError(file, `${where}.image_id: ${imageId} is not the id of an entry in images.`);
    const categoryId = numberField(file, a, where, 'category_id');
    const label = labelOf.get(categoryId);
    if (label === undefined) throw new AnnotationError(file, `${where}.category_id: ${categoryId} is not the id of an entry in categories.`);
    const bbox = a.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number' && Number.isFinite(v)) || bbox[2] < 0 || bbox[3] < 0) {
      throw new AnnotationError(file, `${where}.bbox: expected [x, y, width, height], 4 finite numbers with width and height ≥ 0, received ${describe(bbox)}.`);
    }
    const [x, y, w, h] = bbox as number[];
    if (w === 0 || h === 0) {
      degenerate += 1;
      return;
    }
    image.objects.boxes.push(x, y, x + w, y + h);
    image.objects.labels.push(label);
    image.objects.ignore.push(a.iscrowd === 1 || a.iscrowd === true ? 1 : 0);
    image.objects.areas.push(a.area === undefined ? w * h : numberField(file, a, where, 'area', 0));
  });
  if (degenerate > 0) warnings.push(`${degenerate} annotation(s) with zero width or height left out.`);

  const records: DetectionRecord[] = [];
  const missing = { files: 0, examples: [] as string[] };
  for (const [imageId, image] of [...byId.entries()].sort((a, b) => a[0] - b[0])) {
    if (!fs.existsSync(image.path)) {
      missing.files += 1;
      if (missing.examples.length < MAX_EXAMPLES) missing.examples.push(image.path);
      continue;
    }
    records.push(toRecord(image.path, imageId, image.width, image.height, image.objects));
  }
  return { classes: sortedCategories.map((c) => c.name), categoryIds: sortedCategories.map((c) => c.id), records, missing, warnings };
}

function toRecord(file: string, imageId: number, width: number, height: number, objects: Accumulating): DetectionRecord {
  return { path: file, imageId, width, height, boxesXyxy: Float64Array.from(objects.boxes), labels: Int32Array.from(objects.labels), ignore: Uint8Array.from(objects.ignore), areas: Float64Array.from(objects.areas) };
}

/** The text of the first `<tag>…</tag>` inside `xml`, or undefined. VOC files are flat enough for this. */
function tagText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match?.[1].trim();
}

function allTags(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
}

export interface ReadVocOptions {
  /** An image set in ImageSets/Main (e.g. 'train', 'val', 'trainval'); default: every file in Annotations/. */
  split?: string;
}

/**
 * Reads a Pascal VOC folder: `Annotations/<id>.xml` and `JPEGImages/<filename>`. VOC corners are
 * 1-based inclusive pixels; here they become continuous xyxy ([xmin − 1, ymin − 1, xmax, ymax]).
 * `difficult` objects become `ignore`. Classes are the object names found, sorted.
 */
export async function readVocDetection(dir: string, options: ReadVocOptions = {}): Promise<DetectionDataset> {
  const annotations = path.join(dir, 'Annotations');
  if (!fs.existsSync(annotations)) throw new AnnotationError(dir, 'no Annotations/ folder: expected a Pascal VOC folder (Annotations/*.xml, JPEGImages/).');
  let ids: string[];
  if (options.split !== undefined) {
    const list = path.join(dir, 'ImageSets', 'Main', `${options.split}.txt`);
    if (!fs.existsSync(list)) throw new AnnotationError(list, `no such image set: expected ImageSets/Main/${options.split}.txt listing image ids.`);
    ids = (await fs.promises.readFile(list, 'utf8')).split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((l) => l !== '');
  } else {
    ids = (await fs.promises.readdir(annotations)).filter((f) => f.toLowerCase().endsWith('.xml')).map((f) => f.slice(0, -4)).sort(compareStrings);
  }
  const parsed: { file: string; width: number; height: number; objects: { name: string; box: number[]; difficult: boolean }[] }[] = [];
  const warnings: string[] = [];
  let clipped = 0;
  for (const id of ids) {
    const xmlFile = path.join(annotations, `${id}.xml`);
    if (!fs.existsSync(xmlFile)) throw new AnnotationError(xmlFile, `missing: the image set names ${id}, which has no annotation file.`);
    const xml = await fs.promises.readFile(xmlFile, 'utf8');
    const fileName = tagText(xml, 'filename') ?? `${id}.jpg`;
    const size = tagText(xml, 'size');
    const width = Number(size === undefined ? NaN : tagText(size, 'width'));
    const height = Number(size === undefined ? NaN : tagText(size, 'height'));
    if (!(width >= 1 && height >= 1)) throw new AnnotationError(xmlFile, `size: expected <size><width>…</width><height>…</height></size> with positive numbers, received ${describe(size)}.`);
    const objects = allTags(xml, 'object').map((object, k) => {
      const name = tagText(object, 'name');
      if (name === undefined || name === '') throw new AnnotationError(xmlFile, `object ${k + 1}: expected a <name>, found none.`);
      const bndbox = tagText(object, 'bndbox');
      const corners = ['xmin', 'ymin', 'xmax', 'ymax'].map((t) => Number(bndbox === undefined ? NaN : tagText(bndbox, t)));
      if (!corners.every(Number.isFinite) || corners[2] < corners[0] || corners[3] < corners[1]) {
        throw new AnnotationError(xmlFile, `object ${k + 1} (${name}) bndbox: expected numbers xmin ≤ xmax and ymin ≤ ymax, received ${describe(bndbox)}.`);
      }
      let box = [corners[0] - 1, corners[1] - 1, corners[2], corners[3]];
      const inside = [Math.max(0, box[0]), Math.max(0, box[1]), Math.min(width, box[2]), Math.min(height, box[3])];
      if (inside.some((v, j) => v !== box[j])) clipped += 1;
      box = inside;
      return { name, box, difficult: tagText(object, 'difficult') === '1' };
    });
    parsed.push({ file: path.join(dir, 'JPEGImages', fileName), width, height, objects });
  }
  if (clipped > 0) warnings.push(`${clipped} box(es) reached outside their image and were clipped to it.`);
  const classes = [...new Set(parsed.flatMap((p) => p.objects.map((o) => o.name)))].sort(compareStrings);
  const records: DetectionRecord[] = [];
  const missing = { files: 0, examples: [] as string[] };
  parsed.forEach((p, i) => {
    if (!fs.existsSync(p.file)) {
      missing.files += 1;
      if (missing.examples.length < MAX_EXAMPLES) missing.examples.push(p.file);
      return;
    }
    const objects: Accumulating = { boxes: p.objects.flatMap((o) => o.box), labels: p.objects.map((o) => classes.indexOf(o.name)), ignore: p.objects.map((o) => (o.difficult ? 1 : 0)), areas: p.objects.map((o) => (o.box[2] - o.box[0]) * (o.box[3] - o.box[1])) };
    records.push(toRecord(p.file, i + 1, p.width, p.height, objects));
  });
  return { classes, categoryIds: classes.map((_, i) => i + 1), records, missing, warnings };
}
