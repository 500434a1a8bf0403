/**
 * How well a set of anchors fits a dataset's boxes: for each ground-truth box, its best IoU with any
 * anchor and how many anchors reach the matcher's threshold. A box no anchor reaches is only learnt
 * through the matcher's forced match (one anchor, whatever its IoU); a box many anchors reach trains
 * many predictors at once. Grouped by box area in COCO's ranges (small < 32², medium < 96², large), in
 * the pixels of the images the boxes come from, as the evaluator groups APsmall / APmedium / APlarge.
 *
 * The count ignores competition between boxes (an anchor near two boxes counts for both), so it is
 * what the matcher could give a box alone — a property of the anchors and the box sizes, not of a model.
 */
import { boxCount } from './formats';
import { iouMatrixXyxy } from './iou';

/** One image's boxes: xyxy normalised to the image, and the image's size in pixels. */
export interface CoverageImage {
  boxesXyxy: ArrayLike<number>;
  width: number;
  height: number;
}

export interface CoverageGroup {
  /** Boxes in the group. */
  boxes: number;
  /** Boxes whose best anchor has IoU ≥ the threshold. */
  covered: number;
  /** Anchors with IoU ≥ the threshold, summed over the group's boxes. */
  anchorsAtThreshold: number;
}

export interface AnchorCoverage {
  iouThreshold: number;
  all: CoverageGroup;
  small: CoverageGroup;
  medium: CoverageGroup;
  large: CoverageGroup;
}

const emptyGroup = (): CoverageGroup => ({ boxes: 0, covered: 0, anchorsAtThreshold: 0 });

/**
 * Coverage of `images`' boxes by `anchorsXyxy` (normalised xyxy, the same for every image, as SSD's).
 * `iouThreshold` is the matcher's positive threshold (SSD: 0.5).
 */
export function anchorCoverage(images: Iterable<CoverageImage>, anchorsXyxy: ArrayLike<number>, options: { iouThreshold?: number } = {}): AnchorCoverage {
  const { iouThreshold = 0.5 } = options;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) throw new RangeError(`anchorCoverage: iouThreshold must be in (0, 1]. Received ${iouThreshold}.`);
  const anchors = boxCount(anchorsXyxy, 'anchorsXyxy');
  const result: AnchorCoverage = { iouThreshold, all: emptyGroup(), small: emptyGroup(), medium: emptyGroup(), large: emptyGroup() };
  let index = 0;
  for (const image of images) {
    const { boxesXyxy, width, height } = image;
    if (!(width > 0 && height > 0)) throw new RangeError(`anchorCoverage: image ${index} must have a positive width and height in pixels. Received ${width}×${height}.`);
    const boxes = boxCount(boxesXyxy, `image ${index} boxesXyxy`);
    index += 1;
    if (boxes === 0) continue;
    const iou = iouMatrixXyxy(boxesXyxy, anchorsXyxy);
    for (let g = 0; g < boxes; g++) {
      let best = 0;
      let reaching = 0;
      for (let a = 0, k = g * anchors; a < anchors; a++, k++) {
        const v = iou[k];
        if (v > best) best = v;
        if (v >= iouThreshold) reaching += 1;
      }
      const areaPixels = (boxesXyxy[4 * g + 2] - boxesXyxy[4 * g]) * width * (boxesXyxy[4 * g + 3] - boxesXyxy[4 * g + 1]) * height;
      const size = areaPixels < 32 ** 2 ? result.small : areaPixels < 96 ** 2 ? result.medium : result.large;
      for (const group of [result.all, size]) {
        group.boxes += 1;
        group.anchorsAtThreshold += reaching;
        if (best >= iouThreshold) group.covered += 1;
      }
    }
  }
  return result;
}

/** One line for a log: "79 % of 1751 boxes have an anchor at IoU ≥ 0.5 (small 17 %, medium 92 %, large 100 %), 4.5 such anchors a box on average". */
export function formatAnchorCoverage(c: AnchorCoverage): string {
  const share = (g: CoverageGroup) => (g.boxes === 0 ? '-' : `${Math.round((100 * g.covered) / g.boxes)} %`);
  const perBox = c.all.boxes === 0 ? 0 : c.all.anchorsAtThreshold / c.all.boxes;
  return `${share(c.all)} of ${c.all.boxes} boxes have an anchor at IoU ≥ ${c.iouThreshold} (small ${share(c.small)}, medium ${share(c.medium)}, large ${share(c.large)}), ${perBox.toFixed(1)} such anchors a box on average`;
}
