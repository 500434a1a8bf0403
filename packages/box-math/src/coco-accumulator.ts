/**
 * A detector's validation set, image by image, as COCO evaluation reads it: each image's ground truth
 * (normalised boxes scaled to its size in pixels) and its detections (pixels), under ids of its own
 * (a data source's image ids need not be unique). `evaluate` runs pycocotools' bbox evaluation
 * (coco-eval.ts) and names its 12 numbers. What the SSD and Faster R-CNN tasks' validations share.
 */
import { evaluateCocoBoxes } from './coco-eval';

/** pycocotools' 12 summary numbers, in its order. */
export const COCO_SUMMARY_NAMES = ['mAP', 'AP50', 'AP75', 'APsmall', 'APmedium', 'APlarge', 'AR1', 'AR10', 'AR100', 'ARsmall', 'ARmedium', 'ARlarge'] as const;
export type CocoSummaryName = (typeof COCO_SUMMARY_NAMES)[number];

export interface AccumulatedImage {
  widthPx: number;
  heightPx: number;
  /** Its objects, xyxy in [0, 1] of the image, 4 numbers a box. */
  boxesXyxy: ArrayLike<number>;
  /** Class indices in [0, classes). */
  labels: ArrayLike<number>;
  /** 1 (true) for objects COCO treats as crowds: matched without counting. */
  ignore?: ArrayLike<number | boolean>;
  /** The data's own areas in pixels (COCO `area`, read by the size ranges); default the boxes' areas. */
  areas?: ArrayLike<number>;
}

export interface PixelDetection {
  /** xyxy in pixels of the image. */
  boxXyxy: ArrayLike<number>;
  /** Class index in [0, classes). */
  label: number;
  score: number;
}

export interface AccumulatedEvaluation {
  metrics: Record<CocoSummaryName, number>;
  /** Per category id (class index + 1): AP and AP50. */
  perCategory: Record<number, { ap: number; ap50: number }>;
  images: number;
  detections: number;
}

export class CocoBoxAccumulator {
  private readonly images: { id: number; width: number; height: number }[] = [];
  private readonly annotations: object[] = [];
  private readonly results: { image_id: number; category_id: number; bbox: number[]; score: number }[] = [];

  constructor(readonly classes: number) {
    if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`CocoBoxAccumulator: classes must be an integer ≥ 1. Received ${classes}.`);
  }

  /** Adds an image and its ground truth; returns the id its detections go under. */
  addImage(image: AccumulatedImage): number {
    const { widthPx: w, heightPx: h, boxesXyxy: b, labels, ignore, areas } = image;
    if (b.length !== 4 * labels.length) throw new RangeError(`CocoBoxAccumulator.addImage: ${labels.length} labels need ${4 * labels.length} box numbers, received ${b.length}.`);
    const id = this.images.length + 1;
    this.images.push({ id, width: w, height: h });
    for (let g = 0; g < labels.length; g++) {
      const bbox = [b[4 * g] * w, b[4 * g + 1] * h, (b[4 * g + 2] - b[4 * g]) * w, (b[4 * g + 3] - b[4 * g + 1]) * h];
      const crowd = ignore !== undefined && Boolean(ignore[g]);
      this.annotations.push({ id: this.annotations.length + 1, image_id: id, category_id: this.categoryOf(labels[g]), bbox, area: areas?.[g] ?? bbox[2] * bbox[3], iscrowd: crowd ? 1 : 0 });
    }
    return id;
  }

  addDetections(imageId: number, detections: readonly PixelDetection[]): void {
    if (!(imageId >= 1 && imageId <= this.images.length)) throw new RangeError(`CocoBoxAccumulator.addDetections: no image ${imageId} (${this.images.length} added).`);
    for (const d of detections) {
      const [x1, y1, x2, y2] = Array.from(d.boxXyxy);
      this.results.push({ image_id: imageId, category_id: this.categoryOf(d.label), bbox: [x1, y1, x2 - x1, y2 - y1], score: d.score });
    }
  }

  evaluate(): AccumulatedEvaluation {
    const categories = Array.from({ length: this.classes }, (_, c) => ({ id: c + 1, name: `class ${c}` }));
    const evaluation = evaluateCocoBoxes({ images: this.images, annotations: this.annotations, categories }, this.results);
    const metrics = Object.fromEntries(COCO_SUMMARY_NAMES.map((name, k) => [name, evaluation.stats[k]])) as Record<CocoSummaryName, number>;
    const perCategory = Object.fromEntries(Object.entries(evaluation.perCategory).map(([id, s]) => [id, { ap: s.ap, ap50: s.ap50 }]));
    return { metrics, perCategory, images: this.images.length, detections: this.results.length };
  }

  private categoryOf(label: number): number {
    if (!(Number.isInteger(label) && label >= 0 && label < this.classes)) throw new RangeError(`CocoBoxAccumulator: class index must be an integer in [0, ${this.classes}). Received ${label}.`);
    return label + 1;
  }
}
