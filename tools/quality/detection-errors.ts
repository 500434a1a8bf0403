/**
 * What a detector misses and what its false detections are, from a COCO ground-truth file and a COCO
 * results file (`mobilenet-detect eval --dt-out`, or any detector's): where COCO mAP says how much, this
 * says why.
 *
 *   node -r ./tools/ts-register.js tools/quality/detection-errors.ts --gt GT.json --dt DT.json [--json]
 *
 * - Recall at IoU ≥ 0.5 with the right class, by COCO size (the ground truth's `area`: small < 32²,
 *   medium < 96², large), counting detections scoring at least 0.05, 0.3 and 0.5 — how much is found at
 *   all, and how much is found with confidence.
 * - The detections in three score bands, each one what it is: matched greedily in score order as COCO does
 *   at IoU 0.5 (a true positive), else a duplicate (its object already matched), the wrong class (IoU ≥ 0.5
 *   with an object of another class), a poor box (IoU 0.1–0.5 with an object) or background.
 * Crowd ground truths are left out of both.
 */
import * as fs from 'node:fs';
import { type CocoGroundTruth, type CocoResults, convertBoxes, iouMatrixXyxy, parseCocoGroundTruth, parseCocoResults } from '@mobilenets/box-math';
import { formatTable } from '@mobilenets/cli-kit';

const IOU = 0.5;
const SCORE_FLOORS = [0.05, 0.3, 0.5] as const;
const BANDS: readonly [number, number][] = [[0.5, Infinity], [0.2, 0.5], [0.05, 0.2]];
const KINDS = ['true positive', 'duplicate', 'wrong class', 'poor box', 'background'] as const;
type Kind = (typeof KINDS)[number];
type Size = 'small' | 'medium' | 'large';

export interface ErrorReport {
  /** Objects and the share found at IoU ≥ 0.5 with the right class by detections scoring ≥ each floor. */
  recall: { size: Size | 'all'; objects: number; atScore: Record<string, number> }[];
  /** Detections of each score band, by kind. */
  bands: { scores: [number, number]; detections: number; kinds: Record<Kind, number> }[];
}

const sizeOf = (area: number): Size => (area < 32 * 32 ? 'small' : area < 96 * 96 ? 'medium' : 'large');

/** Indices of `imageIndex` grouped by image. */
function byImage(imageIndex: Int32Array, images: number): number[][] {
  const groups: number[][] = Array.from({ length: images }, () => []);
  imageIndex.forEach((image, k) => groups[image].push(k));
  return groups;
}

const xyxyOf = (boxesXywh: Float64Array, indices: number[]) => convertBoxes(Float64Array.from(indices.flatMap((k) => Array.from(boxesXywh.subarray(4 * k, 4 * k + 4)))), 'xywh', 'xyxy');

export function detectionErrors(gt: CocoGroundTruth, dt: CocoResults): ErrorReport {
  const gtByImage = byImage(gt.imageIndex, gt.imageIds.length);
  const dtByImage = byImage(dt.imageIndex, gt.imageIds.length);
  const found = SCORE_FLOORS.map(() => new Uint8Array(gt.areas.length));
  const bands = BANDS.map(([low, high]) => ({ scores: [low, high] as [number, number], detections: 0, kinds: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number> }));
  gtByImage.forEach((allGts, image) => {
    const gts = allGts.filter((g) => gt.crowd[g] === 0);
    const dts = [...dtByImage[image]].sort((a, b) => dt.scores[b] - dt.scores[a] || a - b);
    if (dts.length === 0) return;
    const iou = iouMatrixXyxy(xyxyOf(dt.boxesXywh, dts), xyxyOf(gt.boxesXywh, gts)); // [dts × gts]
    const at = (d: number, g: number) => iou[d * gts.length + g];
    // Recall: the best same-class IoU among detections above each floor.
    gts.forEach((g, j) => {
      SCORE_FLOORS.forEach((floor, f) => {
        if (dts.some((k, d) => dt.scores[k] >= floor && dt.categoryIndex[k] === gt.categoryIndex[g] && at(d, j) >= IOU)) found[f][g] = 1;
      });
    });
    // Kinds: greedy matching in score order, as COCO's at one IoU threshold.
    const matched = new Uint8Array(gts.length);
    dts.forEach((k, d) => {
      let best = -1;
      for (let j = 0; j < gts.length; j++) if (!matched[j] && gt.categoryIndex[gts[j]] === dt.categoryIndex[k] && at(d, j) >= IOU && (best < 0 || at(d, j) > at(d, best))) best = j;
      let kind: Kind;
      if (best >= 0) {
        matched[best] = 1;
        kind = 'true positive';
      } else if (gts.some((g, j) => gt.categoryIndex[g] === dt.categoryIndex[k] && at(d, j) >= IOU)) kind = 'duplicate';
      else if (gts.some((_, j) => at(d, j) >= IOU)) kind = 'wrong class';
      else if (gts.some((_, j) => at(d, j) >= 0.1)) kind = 'poor box';
      else kind = 'background';
      const band = bands.find((b) => dt.scores[k] >= b.scores[0] && dt.scores[k] < b.scores[1]);
      if (band) {
        band.detections += 1;
        band.kinds[kind] += 1;
      }
    });
  });
  const recall = (['all', 'small', 'medium', 'large'] as const).map((size) => {
    const members = Array.from(gt.areas.keys()).filter((g) => gt.crowd[g] === 0 && (size === 'all' || sizeOf(gt.areas[g]) === size));
    const atScore = Object.fromEntries(SCORE_FLOORS.map((floor, f) => [String(floor), members.length === 0 ? NaN : members.filter((g) => found[f][g]).length / members.length]));
    return { size, objects: members.length, atScore };
  });
  return { recall, bands };
}

function readJson(file: string, flag: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as Error).message}`);
  }
}

function main(argv: string[]): void {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const gtFile = get('gt');
  const dtFile = get('dt');
  if (!gtFile || !dtFile) throw new Error('Give --gt GT.json (COCO ground truth) and --dt DT.json (COCO results, e.g. from mobilenet-detect eval --dt-out).');
  const gt = parseCocoGroundTruth(readJson(gtFile, '--gt'));
  const report = detectionErrors(gt, parseCocoResults(readJson(dtFile, '--dt'), gt));
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const pct = (v: number) => (Number.isNaN(v) ? '—' : `${(100 * v).toFixed(1)} %`);
  const recallColumns = [
    { header: 'objects', value: (r: ErrorReport['recall'][number]) => `${r.size} (${r.objects})` },
    ...SCORE_FLOORS.map((floor) => ({ header: `found, score ≥ ${floor}`, value: (r: ErrorReport['recall'][number]) => pct(r.atScore[String(floor)]), align: 'right' as const })),
  ];
  const bandColumns = [
    { header: 'score', value: (b: ErrorReport['bands'][number]) => (b.scores[1] === Infinity ? `≥ ${b.scores[0]}` : `${b.scores[0]}–${b.scores[1]}`) },
    { header: 'detections', value: (b: ErrorReport['bands'][number]) => String(b.detections), align: 'right' as const },
    ...KINDS.map((kind) => ({ header: kind, value: (b: ErrorReport['bands'][number]) => String(b.kinds[kind]), align: 'right' as const })),
  ];
  process.stdout.write(`Recall at IoU ≥ ${IOU}, right class:\n${formatTable(report.recall, recallColumns)}\n\nDetections by score:\n${formatTable(report.bands, bandColumns)}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
