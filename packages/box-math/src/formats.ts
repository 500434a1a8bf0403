/**
 * Box formats. Boxes travel as flat arrays, four numbers a box, in one of four layouts; every function
 * that takes or returns boxes says which in its name or its arguments:
 *
 *   xyxy    [x1, y1, x2, y2]        corners (torchvision, our detections, pixels or normalised)
 *   yxyx    [y1, x1, y2, x2]        corners, rows first (TF Object Detection API, face-api)
 *   cxcywh  [cx, cy, w, h]          centre and size (anchors, the box coder)
 *   xywh    [x, y, w, h]            top-left corner and size (COCO JSON "bbox")
 *
 * Corners are continuous coordinates: a box's width is x2 − x1 (no "+1" as in old Pascal VOC code).
 */

export type BoxFormat = 'xyxy' | 'yxyx' | 'cxcywh' | 'xywh';

/** Flat boxes, four numbers a box. */
export type Boxes = Float32Array | Float64Array | number[];

export const BOX_FORMATS: readonly BoxFormat[] = ['xyxy', 'yxyx', 'cxcywh', 'xywh'];

/** How many boxes a flat array holds; a length that is not a multiple of 4 is an error naming `what`. */
export function boxCount(boxes: ArrayLike<number>, what = 'boxes'): number {
  if (boxes.length % 4 !== 0) throw new RangeError(`${what}: expected 4 numbers a box, received ${boxes.length} numbers (not a multiple of 4).`);
  return boxes.length / 4;
}

/** Box `i` of `boxes` (in `format`) as corners [x1, y1, x2, y2]. */
function cornersOf(boxes: ArrayLike<number>, i: number, format: BoxFormat): [number, number, number, number] {
  const a = boxes[4 * i];
  const b = boxes[4 * i + 1];
  const c = boxes[4 * i + 2];
  const d = boxes[4 * i + 3];
  switch (format) {
    case 'xyxy':
      return [a, b, c, d];
    case 'yxyx':
      return [b, a, d, c];
    case 'cxcywh':
      return [a - c / 2, b - d / 2, a + c / 2, b + d / 2];
    case 'xywh':
      return [a, b, a + c, b + d];
  }
}

/** Writes corners [x1, y1, x2, y2] as box `i` of `out` in `format`. */
function writeCorners(out: Float64Array, i: number, format: BoxFormat, x1: number, y1: number, x2: number, y2: number): void {
  const o = 4 * i;
  switch (format) {
    case 'xyxy':
      out[o] = x1; out[o + 1] = y1; out[o + 2] = x2; out[o + 3] = y2;
      return;
    case 'yxyx':
      out[o] = y1; out[o + 1] = x1; out[o + 2] = y2; out[o + 3] = x2;
      return;
    case 'cxcywh':
      out[o] = (x1 + x2) / 2; out[o + 1] = (y1 + y2) / 2; out[o + 2] = x2 - x1; out[o + 3] = y2 - y1;
      return;
    case 'xywh':
      out[o] = x1; out[o + 1] = y1; out[o + 2] = x2 - x1; out[o + 3] = y2 - y1;
      return;
  }
}

/** `boxes` in format `from`, rewritten in format `to` (a new Float64Array). */
export function convertBoxes(boxes: ArrayLike<number>, from: BoxFormat, to: BoxFormat): Float64Array {
  const n = boxCount(boxes);
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = cornersOf(boxes, i, from);
    writeCorners(out, i, to, x1, y1, x2, y2);
  }
  return out;
}

/** Areas of xyxy boxes; an inverted box (x2 < x1 or y2 < y1) has area 0. */
export function boxAreasXyxy(boxesXyxy: ArrayLike<number>): Float64Array {
  const n = boxCount(boxesXyxy);
  const areas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = boxesXyxy[4 * i + 2] - boxesXyxy[4 * i];
    const h = boxesXyxy[4 * i + 3] - boxesXyxy[4 * i + 1];
    areas[i] = w > 0 && h > 0 ? w * h : 0;
  }
  return areas;
}

/** xyxy boxes clipped to [0, width] × [0, height] (a new array; e.g. pixels of an image). */
export function clipBoxesXyxy(boxesXyxy: ArrayLike<number>, width: number, height: number): Float64Array {
  const n = boxCount(boxesXyxy);
  const out = new Float64Array(4 * n);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < n; i++) {
    out[4 * i] = clip(boxesXyxy[4 * i], width);
    out[4 * i + 1] = clip(boxesXyxy[4 * i + 1], height);
    out[4 * i + 2] = clip(boxesXyxy[4 * i + 2], width);
    out[4 * i + 3] = clip(boxesXyxy[4 * i + 3], height);
  }
  return out;
}

/** xyxy boxes scaled by (sx, sy): normalised [0, 1] → pixels with (width, height), pixels → normalised with (1/width, 1/height). */
export function scaleBoxesXyxy(boxesXyxy: ArrayLike<number>, sx: number, sy: number): Float64Array {
  const n = boxCount(boxesXyxy);
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    out[4 * i] = boxesXyxy[4 * i] * sx;
    out[4 * i + 1] = boxesXyxy[4 * i + 1] * sy;
    out[4 * i + 2] = boxesXyxy[4 * i + 2] * sx;
    out[4 * i + 3] = boxesXyxy[4 * i + 3] * sy;
  }
  return out;
}
