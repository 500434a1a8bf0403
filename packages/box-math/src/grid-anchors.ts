/**
 * Faster R-CNN first-stage anchors as TF's `grid_anchor_generator.GridAnchorGenerator` builds them
 * (`grid_anchor_generator.proto`; scales and aspect ratios from `faster_rcnn_*_coco.config`).
 *
 * Output: pixels of the (resized) input image, not clipped (TF's meta-architecture clips or prunes them
 * to the image window later), float64.
 *
 * Order (TF's): grid cells row-major (y outer, x inner); within a cell, aspect ratios outer and scales
 * inner (TF flattens `meshgrid(scales, aspect_ratios)`, scales varying fastest). With the defaults a
 * cell's 12 anchors are (r 0.5: s 0.25, 0.5, 1, 2), (r 1: …), (r 2: …).
 *
 * Anchor of scale s and aspect ratio r (width / height): height s/√r·baseAnchorHeight, width
 * s·√r·baseAnchorWidth, centred at (y·heightStride + heightOffset, x·widthStride + widthOffset).
 */
import { convertBoxes } from './formats';

/** Options of the grid anchor generator; field names follow `grid_anchor_generator.proto`. */
export interface GridAnchorConfig {
  /** Anchor scales, multiples of the base anchor size. Default [0.25, 0.5, 1, 2] (the COCO configs; TF's code default is [0.5, 1, 2]). */
  scales?: readonly number[];
  /** Aspect ratios, width / height. Default [0.5, 1, 2]. */
  aspectRatios?: readonly number[];
  /** Base anchor height in pixels. Default 256. */
  height?: number;
  /** Base anchor width in pixels. Default 256. */
  width?: number;
  /** Distance between anchor centres in y, pixels (the feature stride). Default 16. */
  heightStride?: number;
  /** Distance between anchor centres in x, pixels. Default 16. */
  widthStride?: number;
  /** Centre of the first row of anchors, pixels. Default 0. */
  heightOffset?: number;
  /** Centre of the first column of anchors, pixels. Default 0. */
  widthOffset?: number;
}

export type ResolvedGridAnchorConfig = Required<GridAnchorConfig>;

export const GRID_ANCHOR_DEFAULTS: ResolvedGridAnchorConfig = {
  scales: [0.25, 0.5, 1, 2],
  aspectRatios: [0.5, 1, 2],
  height: 256,
  width: 256,
  heightStride: 16,
  widthStride: 16,
  heightOffset: 0,
  widthOffset: 0,
};

/** Fills defaults and validates; throws RangeError naming the bad field. */
export function resolveGridAnchorConfig(config: GridAnchorConfig = {}): ResolvedGridAnchorConfig {
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c: ResolvedGridAnchorConfig = { ...GRID_ANCHOR_DEFAULTS, ...defined };
  if (c.scales.length === 0 || c.aspectRatios.length === 0) throw new RangeError('scales/aspectRatios: expected at least one of each, received an empty list.');
  for (const v of [...c.scales, ...c.aspectRatios]) if (!(v > 0)) throw new RangeError(`scales/aspectRatios: expected positive numbers, received ${v}.`);
  for (const key of ['height', 'width', 'heightStride', 'widthStride'] as const) {
    if (!(c[key] > 0)) throw new RangeError(`${key}: expected a positive number of pixels, received ${c[key]}.`);
  }
  return c;
}

/** Anchors per grid cell: scales × aspect ratios (12 with the defaults). */
export function gridAnchorsPerLocation(config: GridAnchorConfig = {}): number {
  const c = resolveGridAnchorConfig(config);
  return c.scales.length * c.aspectRatios.length;
}

/**
 * Faster R-CNN anchors in pixels, cxcywh [cx, cy, w, h], for a feature map of featureHeight ×
 * featureWidth cells, TF order (cells row-major y then x; aspect ratios outer, scales inner), not clipped.
 */
export function gridAnchorsCxcywh(featureHeight: number, featureWidth: number, config: GridAnchorConfig = {}): Float64Array {
  if (!Number.isInteger(featureHeight) || !Number.isInteger(featureWidth) || featureHeight < 1 || featureWidth < 1) {
    throw new RangeError(`featureHeight/featureWidth: expected positive integers, received ${featureHeight}×${featureWidth}.`);
  }
  const c = resolveGridAnchorConfig(config);
  const sizes = c.aspectRatios.flatMap((r) => c.scales.map((s) => [s * Math.sqrt(r) * c.width, (s / Math.sqrt(r)) * c.height]));
  const out = new Float64Array(4 * featureHeight * featureWidth * sizes.length);
  let i = 0;
  for (let y = 0; y < featureHeight; y++) {
    for (let x = 0; x < featureWidth; x++) {
      for (const [w, h] of sizes) {
        out[4 * i] = x * c.widthStride + c.widthOffset;
        out[4 * i + 1] = y * c.heightStride + c.heightOffset;
        out[4 * i + 2] = w;
        out[4 * i + 3] = h;
        i++;
      }
    }
  }
  return out;
}

/** The same anchors as {@link gridAnchorsCxcywh} as yxyx corners [ymin, xmin, ymax, xmax] in pixels (TF's BoxList layout), same order. */
export function gridAnchorsYxyx(featureHeight: number, featureWidth: number, config: GridAnchorConfig = {}): Float64Array {
  return convertBoxes(gridAnchorsCxcywh(featureHeight, featureWidth, config), 'cxcywh', 'yxyx');
}

/** The same anchors as {@link gridAnchorsCxcywh} as xyxy corners [x1, y1, x2, y2] in pixels (torchvision's layout), same order. */
export function gridAnchorsXyxy(featureHeight: number, featureWidth: number, config: GridAnchorConfig = {}): Float64Array {
  return convertBoxes(gridAnchorsCxcywh(featureHeight, featureWidth, config), 'cxcywh', 'xyxy');
}
