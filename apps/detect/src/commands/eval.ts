/** `mobilenet-detect eval`: COCO box AP of a trained detector on held-out images (the run's own, or a COCO / VOC set). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { evaluateCocoBoxes, formatCocoStats } from '@mobilenets/box-math';
import { UsageError, formatTable, isInsideFolder, progressLine } from '@mobilenets/cli-kit';
import * as datasets from '@mobilenets/datasets';
import { setup } from '@mobilenets/runtime';
import { describeSource, readSource, sourceFromFlags } from '../data';
import { loadEvaluableDetector } from '../detector-io';
import { readDetectRun } from '../run-settings';

interface EvalFlags {
  model: string;
  data?: string;
  images?: string;
  voc?: string;
  vocSplit?: string;
  batch: number;
  minScore: number;
  iouThreshold?: number;
  dtOut?: string;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description("the 12 COCO numbers (pycocotools' order) and AP per class of a trained detector")
    .requiredOption('--model <dir>', "a run folder or its model/ folder, as 'mobilenet-detect train' wrote it")
    .option('--data <file.json>', "COCO instances JSON of the images to evaluate on (default: the run's validation images)")
    .option('--images <dir>', "folder --data's file_names are relative to (default: the JSON file's folder)")
    .option('--voc <dir>', 'a Pascal VOC folder instead of --data')
    .option('--voc-split <name>', 'with --voc: an image set of ImageSets/Main (e.g. test)')
    .option('--batch <n>', 'images per forward pass', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--batch must be an integer ≥ 1. Received '${v}'.`);
      return n;
    }, 16)
    .option('--min-score <s>', 'keep detections scoring above this (low, as COCO mAP wants every detection)', (v) => {
      const n = Number(v);
      if (!(n >= 0 && n < 1)) throw new UsageError(`--min-score must be in [0, 1). Received '${v}'.`);
      return n;
    }, 0.01)
    .option('--iou-threshold <x>', "per-class NMS: a box overlapping a higher-scoring box of its class by more than this IoU is dropped (default: the model's own: an SSD's detector.json nms.iouThreshold, a Faster R-CNN's 0.6)", (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new UsageError(`--iou-threshold must be in (0, 1]. Received '${v}'.`);
      return n;
    })
    .option('--dt-out <file.json>', 'also write the detections as a COCO results file (for coco-eval or pycocotools)')
    .option('--json', 'print { "stats": [12 numbers in pycocotools order], "perCategory": { id: { name, ap, ap50, … } }, "images", "detections" }')
    .action(async (o: EvalFlags) => {
      await evaluate(o);
    });
}

async function evaluate(o: EvalFlags): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const named = sourceFromFlags(o);
  await setup({ log });
  const detector = await loadEvaluableDetector(o.model);
  try {
    // The images: named by flags, or the validation images of the run the model came from.
    let records: datasets.DetectionRecord[];
    let classes: string[];
    let categoryIds: number[];
    let what: string;
    if (named !== null) {
      const set = await readSource(named, named.kind === 'coco' ? '--data' : '--voc', log);
      const unknown = set.classes.filter((c) => !detector.classes.includes(c));
      if (unknown.length > 0) throw new UsageError(`--data ${describeSource(named)}: classes ${unknown.join(', ')} are not classes of the detector (${detector.classes.join(', ')}).`);
      records = set.records.map((r) => ({ ...r, labels: Int32Array.from(r.labels, (l) => detector.classes.indexOf(set.classes[l])) }));
      classes = detector.classes;
      categoryIds = classes.map((c) => (set.classes.includes(c) ? set.categoryIds[set.classes.indexOf(c)] : -1));
      // Categories of the detector the data does not have get ids after the data's.
      let next = Math.max(0, ...categoryIds) + 1;
      categoryIds = categoryIds.map((id) => (id === -1 ? next++ : id));
      what = describeSource(named);
    } else {
      const run = detector.runDir === null ? null : readDetectRun(detector.runDir);
      if (run === null) throw new UsageError(`--model ${o.model}: no run folder with run.json around this model, so there are no validation images to use: give the images with --data COCO.json or --voc DIR.`);
      if (run.val !== null) {
        const set = await readSource(run.val, 'the run\'s validation data', log);
        records = set.records.map((r) => ({ ...r, labels: Int32Array.from(r.labels, (l) => run.classes.indexOf(set.classes[l])) }));
        what = describeSource(run.val);
      } else {
        const set = await readSource(run.data, 'the run\'s data', log);
        records = datasets.holdOut(set.records, run.valFraction, run.seed).val;
        what = `the ${records.length} images held out of ${describeSource(run.data)}`;
      }
      classes = run.classes;
      categoryIds = classes.map((_, i) => i + 1);
      if (records.length === 0) throw new UsageError(`--model ${o.model}: the run has no validation images (it trained with --val-fraction 0): give the images with --data or --voc.`);
    }
    const dataFolders = [...new Set(records.map((r) => path.dirname(r.path)))];
    const intoData = o.dtOut === undefined ? undefined : dataFolders.find((d) => isInsideFolder(path.resolve(o.dtOut!), d));
    if (intoData !== undefined) throw new UsageError(`--dt-out ${o.dtOut} is inside the data folder ${intoData}: nothing is written into your data folders. Choose a file elsewhere.`);

    const { inputSize } = detector;
    let skipped = 0;
    const data = datasets.detectionData(records, classes, { inputSize, augment: false, prefetch: 2, onSkip: (file, error) => {
      skipped += 1;
      log(`warning: skipped ${file}: ${error.message}`);
    } });
    const byPath = new Map(records.map((r) => [r.path, r]));
    const images: { id: number; width: number; height: number }[] = [];
    const annotations: object[] = [];
    const results: { image_id: number; category_id: number; bbox: number[]; score: number }[] = [];
    const progress = progressLine('evaluating', 'images');
    for await (const b of data.batches({ epoch: 0, batchSize: o.batch, seed: 0, skip: 0, shuffle: false })) {
      const n = b.shape[0];
      const sizes = b.paths.map((p, i): [number, number] => b.originalSizes?.[i] ?? [byPath.get(p)!.width, byPath.get(p)!.height]);
      const found = detector.detect(b.images, b.shape, sizes, { minScore: o.minScore, iouThreshold: o.iouThreshold ?? detector.iouThreshold, maxDetections: 100 });
      for (let i = 0; i < n; i++) {
        const record = byPath.get(b.paths[i])!;
        const id = record.imageId; // the data's own ids, so that --dt-out pairs with its ground-truth file
        const [w, h] = sizes[i];
        images.push({ id, width: w, height: h });
        // Ground truth from the annotations, scaled to the decoded size (they agree unless EXIF rotated the image).
        const [sx, sy] = [w / record.width, h / record.height];
        record.labels.forEach((label, g) => {
          const [x1, y1, x2, y2] = [record.boxesXyxy[4 * g] * sx, record.boxesXyxy[4 * g + 1] * sy, record.boxesXyxy[4 * g + 2] * sx, record.boxesXyxy[4 * g + 3] * sy];
          const area = b.areas?.[i][g] ?? (x2 - x1) * (y2 - y1); // the data's own `area` (COCO's), as pycocotools reads it, at the decoded size
          annotations.push({ id: annotations.length + 1, image_id: id, category_id: categoryIds[label], bbox: [x1, y1, x2 - x1, y2 - y1], area, iscrowd: record.ignore[g] });
        });
        for (const d of found[i]) {
          const [x1, y1, x2, y2] = d.boxXyxy;
          results.push({ image_id: id, category_id: categoryIds[d.label], bbox: [x1, y1, x2 - x1, y2 - y1], score: d.score });
        }
      }
      progress.update(images.length, records.length);
    }
    progress.done();
    if (images.length === 0) throw new Error(`none of the ${records.length} images of ${what} could be read (see the warnings above).`);
    const evaluation = evaluateCocoBoxes({ images, annotations, categories: classes.map((name, i) => ({ id: categoryIds[i], name })) }, results);
    if (o.dtOut !== undefined) fs.writeFileSync(o.dtOut, `${JSON.stringify(results)}\n`);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ stats: evaluation.stats, perCategory: evaluation.perCategory, images: images.length, skippedImages: skipped, detections: results.length, data: what })}\n`);
      return;
    }
    const ap = (v: number) => (v < 0 ? '—' : v.toFixed(3));
    const rows = evaluation.categoryIds.map((id) => ({ id, ...evaluation.perCategory[id] }));
    process.stdout.write(
      `${detector.title} on ${images.length} images of ${what}\n` +
        `${formatCocoStats(evaluation.stats)}\n\n${formatTable(rows, [
          { header: 'class', value: (r) => `${r.name} (${r.id})` },
          { header: 'AP', value: (r) => ap(r.ap), align: 'right' },
          { header: 'AP50', value: (r) => ap(r.ap50), align: 'right' },
          { header: 'AP75', value: (r) => ap(r.ap75), align: 'right' },
          { header: 'AR100', value: (r) => ap(r.ar100), align: 'right' },
        ])}\n`,
    );
  } finally {
    detector.dispose();
  }
}
