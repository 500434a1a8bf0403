/**
 * COCO JSON for box evaluation: reads an already parsed ground-truth object and results array (the caller
 * reads the files) into flat typed arrays, and says which entry and field is wrong when one is.
 *
 * Boxes are COCO "bbox" [x, y, w, h] in pixels (xywh, see ./formats). What is kept follows pycocotools'
 * COCO / COCO.loadRes for iouType 'bbox':
 * - image ids: the ground truth's `images` list, sorted and without repeats (COCOeval's params.imgIds);
 * - category ids: the ground truth's `categories`, sorted (params.catIds), a repeated id keeps its last name;
 * - a ground-truth annotation keeps its own `area` (COCO's segmentation area, not w·h), `iscrowd` and `ignore`;
 * - a result gets area w·h, as loadRes gives it.
 * Where pycocotools would silently drop an entry (an annotation of an image or category the ground truth
 * does not list) or assert (a result for an unknown image) this is an error instead.
 */

/** The ground truth, flat: annotation `j` is box [4j, 4j + 4) of `boxesXywh`, of image `imageIndex[j]` and category `categoryIndex[j]`. */
export interface CocoGroundTruth {
  /** Image ids, sorted ascending, no repeats; an image's index is its position here. */
  imageIds: number[];
  /** Category ids, sorted ascending, no repeats; a category's index is its position here. */
  categoryIds: number[];
  /** Category names, by category index. */
  categoryNames: string[];
  /** Annotation ids (pycocotools treats a match to annotation id 0 as no match; see coco-eval). */
  annotationIds: Float64Array;
  imageIndex: Int32Array;
  categoryIndex: Int32Array;
  /** COCO xywh boxes in pixels, four numbers an annotation. */
  boxesXywh: Float64Array;
  /** Each annotation's `area` field (used for the area ranges). */
  areas: Float64Array;
  /** 1 for a crowd region (`iscrowd` true or 1). */
  crowd: Uint8Array;
  /** 1 where the annotation has a truthy `ignore` field (pycocotools itself disregards this field). */
  ignoreField: Uint8Array;
}

/** Detection results, flat: result `j` is box [4j, 4j + 4) of `boxesXywh` (COCO xywh, pixels). */
export interface CocoResults {
  imageIndex: Int32Array;
  categoryIndex: Int32Array;
  boxesXywh: Float64Array;
  scores: Float64Array;
  /** w·h of each box (pycocotools' loadRes area). */
  areas: Float64Array;
}

type Json = Record<string, unknown>;

/** A short JSON rendering of `value` for error messages. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayField(owner: Json, key: string, where: string): unknown[] {
  const value = owner[key];
  if (!Array.isArray(value)) throw new TypeError(`${where}.${key}: expected an array, received ${show(value)}`);
  return value;
}

function entryObject(value: unknown, where: string): Json {
  if (!isObject(value)) throw new TypeError(`${where}: expected an object, received ${show(value)}`);
  return value;
}

function numberField(entry: Json, key: string, where: string): number {
  const value = entry[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${where}.${key}: expected a finite number, received ${show(value)}`);
  return value;
}

/** A 0/1 flag from an optional field that may be a boolean or a number (absent: 0). */
function flagField(entry: Json, key: string, where: string): number {
  const value = entry[key];
  if (value === undefined || value === null || value === false || value === 0) return 0;
  if (value === true || value === 1) return 1;
  throw new TypeError(`${where}.${key}: expected 0, 1, true or false, received ${show(value)}`);
}

/** Writes entry's `bbox` as box `j` of `out`; w and h must be ≥ 0. Returns w·h. */
function readBbox(entry: Json, where: string, out: Float64Array, j: number): number {
  const box = entry.bbox;
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new TypeError(`${where}.bbox: expected 4 finite numbers [x, y, w, h], received ${show(box)}`);
  }
  const [x, y, w, h] = box as number[];
  if (w < 0 || h < 0) throw new RangeError(`${where}.bbox: expected a width and height ≥ 0 ([x, y, w, h] in pixels), received ${show(box)}`);
  out[4 * j] = x;
  out[4 * j + 1] = y;
  out[4 * j + 2] = w;
  out[4 * j + 3] = h;
  return w * h;
}

/** Position of each id in `sortedIds`. */
function indexOfIds(sortedIds: number[]): Map<number, number> {
  return new Map(sortedIds.map((id, i) => [id, i]));
}

/** Looks `id` (field `key` of entry `where`) up in `index`, an error naming what it is not when absent. */
function lookUp(index: Map<number, number>, entry: Json, key: string, where: string, what: string): number {
  const id = numberField(entry, key, where);
  const i = index.get(id);
  if (i === undefined) throw new RangeError(`${where}.${key} ${id}: not ${what} of the ground truth`);
  return i;
}

function readImageIds(gt: Json): number[] {
  const ids = arrayField(gt, 'images', 'groundTruth').map((image, i) => numberField(entryObject(image, `groundTruth.images[${i}]`), 'id', `groundTruth.images[${i}]`));
  return [...new Set(ids)].sort((a, b) => a - b);
}

function readCategories(gt: Json): { ids: number[]; names: string[] } {
  const byId = new Map<number, string>();
  arrayField(gt, 'categories', 'groundTruth').forEach((value, i) => {
    const where = `groundTruth.categories[${i}]`;
    const category = entryObject(value, where);
    const id = numberField(category, 'id', where);
    byId.set(id, category.name === undefined ? String(id) : String(category.name));
  });
  const ids = [...byId.keys()].sort((a, b) => a - b);
  return { ids, names: ids.map((id) => byId.get(id) as string) };
}

/**
 * Reads a COCO ground-truth object ({ images: [{ id }], annotations: [{ id, image_id, category_id, bbox, area,
 * iscrowd?, ignore? }], categories: [{ id, name }] }, bbox COCO xywh in pixels) into flat arrays.
 * Throws naming the entry and field, e.g. `groundTruth.annotations[4].area: expected a finite number, received nothing`.
 */
export function parseCocoGroundTruth(groundTruth: unknown): CocoGroundTruth {
  const gt = entryObject(groundTruth, 'groundTruth');
  const imageIds = readImageIds(gt);
  const categories = readCategories(gt);
  const imageIndexOf = indexOfIds(imageIds);
  const categoryIndexOf = indexOfIds(categories.ids);
  const annotations = arrayField(gt, 'annotations', 'groundTruth');
  const n = annotations.length;
  const out: CocoGroundTruth = {
    imageIds,
    categoryIds: categories.ids,
    categoryNames: categories.names,
    annotationIds: new Float64Array(n),
    imageIndex: new Int32Array(n),
    categoryIndex: new Int32Array(n),
    boxesXywh: new Float64Array(4 * n),
    areas: new Float64Array(n),
    crowd: new Uint8Array(n),
    ignoreField: new Uint8Array(n),
  };
  const seenIds = new Map<number, number>();
  for (let j = 0; j < n; j++) {
    const where = `groundTruth.annotations[${j}]`;
    const a = entryObject(annotations[j], where);
    const id = numberField(a, 'id', where);
    const first = seenIds.get(id);
    if (first !== undefined) throw new RangeError(`${where}.id ${id}: the same id as groundTruth.annotations[${first}] (annotation ids must be unique)`);
    seenIds.set(id, j);
    out.annotationIds[j] = id;
    out.imageIndex[j] = lookUp(imageIndexOf, a, 'image_id', where, 'an image');
    out.categoryIndex[j] = lookUp(categoryIndexOf, a, 'category_id', where, 'a category');
    readBbox(a, where, out.boxesXywh, j);
    out.areas[j] = numberField(a, 'area', where);
    out.crowd[j] = flagField(a, 'iscrowd', where);
    out.ignoreField[j] = flagField(a, 'ignore', where);
  }
  return out;
}

/**
 * Reads a COCO results array ([{ image_id, category_id, bbox, score }], bbox COCO xywh in pixels) against the
 * ground truth. Throws naming the entry and field, e.g.
 * `results[12].bbox: expected 4 finite numbers [x, y, w, h], received [1,2,3]` or
 * `results[3].image_id 999: not an image of the ground truth`.
 */
export function parseCocoResults(results: unknown, groundTruth: CocoGroundTruth): CocoResults {
  if (!Array.isArray(results)) throw new TypeError(`results: expected an array of { image_id, category_id, bbox, score }, received ${show(results)}`);
  const n = results.length;
  const imageIndexOf = indexOfIds(groundTruth.imageIds);
  const categoryIndexOf = indexOfIds(groundTruth.categoryIds);
  const out: CocoResults = {
    imageIndex: new Int32Array(n),
    categoryIndex: new Int32Array(n),
    boxesXywh: new Float64Array(4 * n),
    scores: new Float64Array(n),
    areas: new Float64Array(n),
  };
  for (let j = 0; j < n; j++) {
    const where = `results[${j}]`;
    const r = entryObject(results[j], where);
    out.imageIndex[j] = lookUp(imageIndexOf, r, 'image_id', where, 'an image');
    out.categoryIndex[j] = lookUp(categoryIndexOf, r, 'category_id', where, 'a category');
    out.areas[j] = readBbox(r, where, out.boxesXywh, j);
    out.scores[j] = numberField(r, 'score', where);
  }
  return out;
}
