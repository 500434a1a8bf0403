/**
 * COCO box evaluation: pycocotools' COCOeval for iouType 'bbox' (evaluate, accumulate, summarize),
 * reproduced step for step, on flat typed arrays. Boxes are COCO xywh [x, y, w, h] in pixels.
 *
 * Reproduced as pycocotools does it:
 * - thresholds from np.linspace (IoU .50:.05:.95, recall 0:.01:1 computed as i·0.01, so 0.35 is 0.35000000000000003;
 *   0.90 is 0.8999999999999999);
 *   maxDets [1, 10, 100]; area ranges all/small/medium/large compared on the ground truth's `area` field
 *   (inclusive bounds: 32² is both small and medium), a detection's area is w·h;
 * - images are the ground truth's images (sorted ids), categories its categories (useCats);
 * - a ground truth is ignored when it is a crowd (pycocotools overwrites any `ignore` field with `iscrowd`;
 *   `useIgnoreField` also honours that field) or its area is outside the range; ignored ground truths are
 *   sorted last (stably);
 * - detections sorted by score, highest first, ties in input order (np.argsort(-score, kind='mergesort')),
 *   the top 100 of each image and category matched; maxDets 1 and 10 take the first 1 or 10 of those matches;
 * - greedy matching per IoU threshold: a detection skips a ground truth when `iou < min(t, 1 − 1e−10)`, keeps the
 *   best (last of equals), stops at the first ignored ground truth once it holds a regular one; crowd ground truths
 *   match any number of detections with IoU = intersection / detection area; a detection matched to an ignored
 *   ground truth is ignored, an unmatched detection outside the area range is ignored;
 * - a match to a ground truth whose annotation id is 0 counts as no match (pycocotools stores matches by id);
 * - accumulation over images in id order (ties across images in image order), precision made monotone from the
 *   right, read at the recall thresholds with searchsorted(side='left'), 0 past the last recall reached;
 *   precision/recall −1 where a category has no regular ground truth;
 * - the 12 summary numbers are means over the cells that are not −1 (numpy's pairwise summation), −1 when none.
 */

import { parseCocoGroundTruth, parseCocoResults } from './coco-json';
import type { CocoGroundTruth, CocoResults } from './coco-json';

/** np.linspace(start, stop, num): i·step + start, the last exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** IoU thresholds 0.50, 0.55, …, 0.95 (pycocotools' params.iouThrs). */
export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
/** Recall thresholds 0, 0.01, …, 1 (pycocotools' params.recThrs, 101 points). */
export const COCO_RECALL_THRESHOLDS: readonly number[] = linspace(0, 1, 101);
/** Detections per image counted (pycocotools' params.maxDets). */
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];
/** Area ranges [lo, hi] in pixels², inclusive: all, small, medium, large (pycocotools' params.areaRng). */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];

const T = COCO_IOU_THRESHOLDS.length;
const R = COCO_RECALL_THRESHOLDS.length;
const A = COCO_AREA_RANGES.length;
const M = COCO_MAX_DETS.length;
const MAX_DET = COCO_MAX_DETS[M - 1];
/** np.spacing(1). */
const EPS = 2.220446049250313e-16;

/** Options of evaluateCocoBoxes. */
export interface CocoEvalOptions {
  /** Also ignore ground truths with a truthy `ignore` field (pycocotools does not: false, the default, matches it). */
  useIgnoreField?: boolean;
}

/** One category's 12 summary numbers (the same definitions as `stats`, restricted to the category; −1: nothing to evaluate). */
export interface CocoCategoryStats {
  name: string;
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
}

/** What evaluateCocoBoxes returns. */
export interface CocoEvalResult {
  /** pycocotools' 12 numbers: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (−1: nothing to evaluate). */
  stats: number[];
  /** The same 12 numbers per category id. */
  perCategory: Record<number, CocoCategoryStats>;
  /** Category ids in the order of the K axis. */
  categoryIds: number[];
  /** Interpolated precision, shape [T=10, R=101, K, A=4, M=3] row-major as pycocotools' eval['precision']. */
  precision: Float64Array;
  /** Recall, shape [T=10, K, A=4, M=3] row-major as pycocotools' eval['recall']. */
  recall: Float64Array;
}

/** Members of each group, stable: group g is members[start[g] .. start[g + 1]). */
interface Groups {
  start: Int32Array;
  members: Int32Array;
}

/** Counting sort of entries by key (category index · images + image index), input order kept within a group. */
function groupByImageAndCategory(imageIndex: Int32Array, categoryIndex: Int32Array, images: number, categories: number): Groups {
  const start = new Int32Array(images * categories + 1);
  for (let j = 0; j < imageIndex.length; j++) start[categoryIndex[j] * images + imageIndex[j] + 1]++;
  for (let g = 0; g < images * categories; g++) start[g + 1] += start[g];
  const next = start.slice(0, images * categories);
  const members = new Int32Array(imageIndex.length);
  for (let j = 0; j < imageIndex.length; j++) members[next[categoryIndex[j] * images + imageIndex[j]]++] = j;
  return { start, members };
}

/**
 * IoU of every detection with every ground truth, as maskApi.c bbIou: boxes COCO xywh in pixels; for a crowd
 * ground truth the union is the detection's area alone. Writes out[d · G + g].
 */
function iouMatrixXywh(dtBoxes: ArrayLike<number>, dts: ArrayLike<number>, gtBoxes: ArrayLike<number>, gts: ArrayLike<number>, crowd: ArrayLike<number>, out: Float64Array): void {
  const G = gts.length;
  for (let g = 0; g < G; g++) {
    const o = 4 * gts[g];
    const gx = gtBoxes[o], gy = gtBoxes[o + 1], gw = gtBoxes[o + 2], gh = gtBoxes[o + 3];
    const ga = gw * gh;
    const isCrowd = crowd[gts[g]] !== 0;
    for (let d = 0; d < dts.length; d++) {
      const p = 4 * dts[d];
      const dx = dtBoxes[p], dy = dtBoxes[p + 1], dw = dtBoxes[p + 2], dh = dtBoxes[p + 3];
      const da = dw * dh;
      out[d * G + g] = 0;
      const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (w <= 0) continue;
      const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
      if (h <= 0) continue;
      const i = w * h;
      out[d * G + g] = i / (isCrowd ? da : da + ga - i);
    }
  }
}

/**
 * IoU matrix [D × G] (row d, column g) of COCO xywh detection boxes against COCO xywh ground-truth boxes, in
 * pixels, exactly as pycocotools' maskUtils.iou: no +1 convention, and for ground truth marked crowd
 * (`crowd[g]` 1) intersection / detection area.
 */
export function cocoIouXywh(dtBoxesXywh: ArrayLike<number>, gtBoxesXywh: ArrayLike<number>, crowd?: ArrayLike<number>): Float64Array {
  const D = Math.floor(dtBoxesXywh.length / 4);
  const G = Math.floor(gtBoxesXywh.length / 4);
  const out = new Float64Array(D * G);
  const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
  iouMatrixXywh(dtBoxesXywh, range(D), gtBoxesXywh, range(G), crowd ?? new Uint8Array(G), out);
  return out;
}

/** Matches of one category: slot s is a detection kept for matching (top 100 of its image), slots in image order. */
interface CategoryMatches {
  slots: number;
  scores: Float64Array;
  /** Rank of the slot's detection within its image (0 = highest score). */
  rank: Int32Array;
  /** [A][T][slots]: 1 where the detection matched a ground truth. */
  matched: Uint8Array;
  /** [A][T][slots]: 1 where the detection is ignored. */
  ignored: Uint8Array;
  /** Regular (not ignored) ground truths per area range. */
  regularGt: Int32Array;
}

/** Reusable buffers of one image's matching. */
interface Scratch {
  iou: Float64Array;
  gtIgnored: Uint8Array;
  gtOrder: Int32Array;
  gtTaken: Uint8Array;
}

function makeScratch(): Scratch {
  return { iou: new Float64Array(0), gtIgnored: new Uint8Array(0), gtOrder: new Int32Array(0), gtTaken: new Uint8Array(0) };
}

function ensureScratch(s: Scratch, D: number, G: number): void {
  if (s.iou.length < D * G) s.iou = new Float64Array(D * G);
  if (s.gtOrder.length < G) {
    s.gtIgnored = new Uint8Array(G);
    s.gtOrder = new Int32Array(G);
    s.gtTaken = new Uint8Array(G);
  }
}

/** The group's detections sorted by score, highest first, ties in input order, the first MAX_DET. */
function topDetections(res: CocoResults, members: Int32Array, from: number, to: number): number[] {
  const dts = Array.from(members.subarray(from, to));
  dts.sort((a, b) => res.scores[b] - res.scores[a]);
  return dts.length > MAX_DET ? dts.slice(0, MAX_DET) : dts;
}

/** Marks ground truths ignored for area range `a` and orders them regular first (stable). Returns how many are regular. */
function orderGroundTruth(gt: CocoGroundTruth, gts: ArrayLike<number>, a: number, useIgnoreField: boolean, s: Scratch): number {
  const [lo, hi] = COCO_AREA_RANGES[a];
  let regular = 0;
  for (let g = 0; g < gts.length; g++) {
    const j = gts[g];
    const flagged = gt.crowd[j] !== 0 || (useIgnoreField && gt.ignoreField[j] !== 0);
    s.gtIgnored[g] = flagged || gt.areas[j] < lo || gt.areas[j] > hi ? 1 : 0;
    if (s.gtIgnored[g] === 0) s.gtOrder[regular++] = g;
  }
  let k = regular;
  for (let g = 0; g < gts.length; g++) if (s.gtIgnored[g] === 1) s.gtOrder[k++] = g;
  return regular;
}

/** The ground truth (position in gts) detection d matches at threshold t, or −1; pycocotools' inner loop. */
function bestMatch(d: number, t: number, G: number, gtCrowd: (g: number) => boolean, s: Scratch): number {
  let best = Math.min(COCO_IOU_THRESHOLDS[t], 1 - 1e-10);
  let m = -1;
  for (let k = 0; k < G; k++) {
    const g = s.gtOrder[k];
    if (s.gtTaken[g] !== 0 && !gtCrowd(g)) continue;
    if (m > -1 && s.gtIgnored[m] === 0 && s.gtIgnored[g] === 1) break;
    const v = s.iou[d * G + g];
    if (v < best) continue;
    best = v;
    m = g;
  }
  return m;
}

/** pycocotools' evaluateImg for one image, category and area range; writes slots [s0, s0 + D) of `out`. */
function matchImage(gt: CocoGroundTruth, res: CocoResults, gts: ArrayLike<number>, dts: number[], a: number, s0: number, out: CategoryMatches, s: Scratch): void {
  const G = gts.length;
  const [lo, hi] = COCO_AREA_RANGES[a];
  const gtCrowd = (g: number) => gt.crowd[gts[g]] !== 0;
  for (let t = 0; t < T; t++) {
    s.gtTaken.fill(0, 0, G);
    const base = (a * T + t) * out.slots + s0;
    for (let d = 0; d < dts.length; d++) {
      const m = bestMatch(d, t, G, gtCrowd, s);
      let matched = 0;
      let ignored = 0;
      if (m > -1) {
        s.gtTaken[m] = 1;
        ignored = s.gtIgnored[m];
        matched = gt.annotationIds[gts[m]] !== 0 ? 1 : 0;
      }
      const area = res.areas[dts[d]];
      if (matched === 0 && (area < lo || area > hi)) ignored = 1;
      out.matched[base + d] = matched;
      out.ignored[base + d] = ignored;
    }
  }
}

/** Matches every image of category k (pycocotools' evaluate for one category, all area ranges). */
function matchCategory(k: number, gt: CocoGroundTruth, res: CocoResults, gtGroups: Groups, dtGroups: Groups, useIgnoreField: boolean, s: Scratch): CategoryMatches {
  const I = gt.imageIds.length;
  let slots = 0;
  for (let i = 0; i < I; i++) slots += Math.min(dtGroups.start[k * I + i + 1] - dtGroups.start[k * I + i], MAX_DET);
  const out: CategoryMatches = {
    slots,
    scores: new Float64Array(slots),
    rank: new Int32Array(slots),
    matched: new Uint8Array(A * T * slots),
    ignored: new Uint8Array(A * T * slots),
    regularGt: new Int32Array(A),
  };
  let s0 = 0;
  for (let i = 0; i < I; i++) {
    const key = k * I + i;
    const gts = gtGroups.members.subarray(gtGroups.start[key], gtGroups.start[key + 1]);
    const dts = topDetections(res, dtGroups.members, dtGroups.start[key], dtGroups.start[key + 1]);
    if (gts.length === 0 && dts.length === 0) continue;
    ensureScratch(s, dts.length, gts.length);
    iouMatrixXywh(res.boxesXywh, dts, gt.boxesXywh, gts, gt.crowd, s.iou);
    dts.forEach((j, d) => {
      out.scores[s0 + d] = res.scores[j];
      out.rank[s0 + d] = d;
    });
    for (let a = 0; a < A; a++) {
      out.regularGt[a] += orderGroundTruth(gt, gts, a, useIgnoreField, s);
      matchImage(gt, res, gts, dts, a, s0, out, s);
    }
    s0 += dts.length;
  }
  return out;
}

/** Reusable buffers of one precision/recall curve. */
interface Curve {
  rc: Float64Array;
  pr: Float64Array;
}

/** Precision at the recall thresholds (101 values) and the last recall of one ranked list; pycocotools' accumulate inner part. */
function interpolate(list: Int32Array, n: number, matched: Uint8Array, ignored: Uint8Array, offset: number, npig: number, c: Curve, q: Float64Array): number {
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < n; j++) {
    const s = offset + list[j];
    if (ignored[s] === 0) {
      if (matched[s] !== 0) tp++;
      else fp++;
    }
    c.rc[j] = tp / npig;
    c.pr[j] = tp / (fp + tp + EPS);
  }
  for (let j = n - 1; j > 0; j--) if (c.pr[j] > c.pr[j - 1]) c.pr[j - 1] = c.pr[j];
  q.fill(0);
  let j = 0;
  for (let r = 0; r < R; r++) {
    while (j < n && c.rc[j] < COCO_RECALL_THRESHOLDS[r]) j++;
    if (j >= n) break;
    q[r] = c.pr[j];
  }
  return n > 0 ? c.rc[n - 1] : 0;
}

/** Slots sorted by score, highest first; ties keep slot order (image order, then rank in the image). */
function rankSlots(m: CategoryMatches): Int32Array {
  const order = Array.from({ length: m.slots }, (_, s) => s);
  order.sort((a, b) => m.scores[b] - m.scores[a]);
  return Int32Array.from(order);
}

/** Fills category k's precision and recall cells (pycocotools' accumulate for one category). */
function accumulateCategory(k: number, K: number, m: CategoryMatches, precision: Float64Array, recall: Float64Array): void {
  const ranked = rankSlots(m);
  const list = new Int32Array(m.slots);
  const curve: Curve = { rc: new Float64Array(m.slots), pr: new Float64Array(m.slots) };
  const q = new Float64Array(R);
  for (let mi = 0; mi < M; mi++) {
    let n = 0;
    for (const s of ranked) if (m.rank[s] < COCO_MAX_DETS[mi]) list[n++] = s;
    for (let a = 0; a < A; a++) {
      if (m.regularGt[a] === 0) continue;
      for (let t = 0; t < T; t++) {
        const offset = (a * T + t) * m.slots;
        recall[((t * K + k) * A + a) * M + mi] = interpolate(list, n, m.matched, m.ignored, offset, m.regularGt[a], curve, q);
        for (let r = 0; r < R; r++) precision[(((t * R + r) * K + k) * A + a) * M + mi] = q[r];
      }
    }
  }
}

/** numpy's pairwise summation of values[from, from + n) (np.add.reduce on float64), so means match to the last bit. */
function pairwiseSum(values: ArrayLike<number>, from: number, n: number): number {
  if (n < 8) {
    let sum = -0;
    for (let i = 0; i < n; i++) sum += values[from + i];
    return sum;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => values[from + i]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let u = 0; u < 8; u++) r[u] += values[from + i + u];
    let sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) sum += values[from + i];
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(values, from, half) + pairwiseSum(values, from + half, n - half);
}

/** np.mean(s[s > -1]), or −1 when no value is > −1. */
function meanOfValid(values: number[]): number {
  const valid = values.filter((v) => v > -1);
  return valid.length === 0 ? -1 : (0 + pairwiseSum(valid, 0, valid.length)) / valid.length;
}

/** One summary number: AP (precision) or AR (recall) at an IoU threshold or all, area range a, maxDets index mi, over categories ks. */
interface SummaryCell {
  ap: boolean;
  iouThr: number | null;
  a: number;
  mi: number;
}

/** pycocotools' summarize order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl. */
const SUMMARY: readonly SummaryCell[] = [
  { ap: true, iouThr: null, a: 0, mi: 2 },
  { ap: true, iouThr: 0.5, a: 0, mi: 2 },
  { ap: true, iouThr: 0.75, a: 0, mi: 2 },
  { ap: true, iouThr: null, a: 1, mi: 2 },
  { ap: true, iouThr: null, a: 2, mi: 2 },
  { ap: true, iouThr: null, a: 3, mi: 2 },
  { ap: false, iouThr: null, a: 0, mi: 0 },
  { ap: false, iouThr: null, a: 0, mi: 1 },
  { ap: false, iouThr: null, a: 0, mi: 2 },
  { ap: false, iouThr: null, a: 1, mi: 2 },
  { ap: false, iouThr: null, a: 2, mi: 2 },
  { ap: false, iouThr: null, a: 3, mi: 2 },
];

/** pycocotools' _summarize: the cells in row-major order (t, r, k) or (t, k), −1 cells left out, averaged. */
function summarizeCell(cell: SummaryCell, ks: number[], K: number, precision: Float64Array, recall: Float64Array): number {
  const ts = COCO_IOU_THRESHOLDS.map((v, t) => (cell.iouThr === null || v === cell.iouThr ? t : -1)).filter((t) => t >= 0);
  const values: number[] = [];
  for (const t of ts) {
    if (cell.ap) {
      for (let r = 0; r < R; r++) for (const k of ks) values.push(precision[(((t * R + r) * K + k) * A + cell.a) * M + cell.mi]);
    } else {
      for (const k of ks) values.push(recall[((t * K + k) * A + cell.a) * M + cell.mi]);
    }
  }
  return meanOfValid(values);
}

function categoryStats(name: string, s: number[]): CocoCategoryStats {
  const [ap, ap50, ap75, apSmall, apMedium, apLarge, ar1, ar10, ar100, arSmall, arMedium, arLarge] = s;
  return { name, ap, ap50, ap75, apSmall, apMedium, apLarge, ar1, ar10, ar100, arSmall, arMedium, arLarge };
}

/** evaluateCocoBoxes on already parsed input (see coco-json: parseCocoGroundTruth, parseCocoResults). */
export function evaluateParsedCocoBoxes(gt: CocoGroundTruth, res: CocoResults, options: CocoEvalOptions = {}): CocoEvalResult {
  const I = gt.imageIds.length;
  const K = gt.categoryIds.length;
  const gtGroups = groupByImageAndCategory(gt.imageIndex, gt.categoryIndex, I, K);
  const dtGroups = groupByImageAndCategory(res.imageIndex, res.categoryIndex, I, K);
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scratch = makeScratch();
  for (let k = 0; k < K; k++) {
    const matches = matchCategory(k, gt, res, gtGroups, dtGroups, options.useIgnoreField === true, scratch);
    accumulateCategory(k, K, matches, precision, recall);
  }
  const all = Array.from({ length: K }, (_, k) => k);
  const stats = SUMMARY.map((cell) => summarizeCell(cell, all, K, precision, recall));
  const perCategory: Record<number, CocoCategoryStats> = {};
  gt.categoryIds.forEach((id, k) => {
    perCategory[id] = categoryStats(gt.categoryNames[k], SUMMARY.map((cell) => summarizeCell(cell, [k], K, precision, recall)));
  });
  return { stats, perCategory, categoryIds: gt.categoryIds.slice(), precision, recall };
}

/**
 * Evaluates COCO detection results against COCO ground truth as pycocotools' COCOeval(gt, dt, 'bbox') with
 * evaluate(), accumulate(), summarize(): `groundTruth` is the parsed ground-truth JSON ({ images, annotations,
 * categories }), `results` the parsed results JSON ([{ image_id, category_id, bbox, score }]), boxes COCO xywh in
 * pixels. Returns the 12 summary numbers, the same per category, and the precision/recall arrays.
 * Bad input throws naming the entry and field (see parseCocoGroundTruth, parseCocoResults).
 */
export function evaluateCocoBoxes(groundTruth: unknown, results: unknown, options: CocoEvalOptions = {}): CocoEvalResult {
  const gt = parseCocoGroundTruth(groundTruth);
  return evaluateParsedCocoBoxes(gt, parseCocoResults(results, gt), options);
}

const SUMMARY_LINES: readonly string[] = [
  'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]',
  'Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]',
  'Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]',
  'Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]',
  'Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]',
  'Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]',
  'Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]',
];

/** The 12 stats as pycocotools' summarize() prints them, one line each (three decimals). */
export function formatCocoStats(stats: readonly number[]): string {
  return SUMMARY_LINES.map((line, i) => ` ${line} = ${stats[i].toFixed(3)}`).join('\n');
}
