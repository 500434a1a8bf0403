/**
 * SSD anchors ("default boxes") as the TF Object Detection API builds them: `ssd_anchor_generator.proto`
 * → `multiple_grid_anchor_generator.create_ssd_anchors` → `MultipleGridAnchorGenerator._generate` →
 * `grid_anchor_generator.tile_anchors`. SSD and SSDLite use the same generator.
 *
 * Output: normalised coordinates ([0, 1] of the image), NOT clipped to the unit square (TF clips only
 * when the generator is given a `clip_window`, which `create_ssd_anchors` never does), float64 (TF
 * computes in float32, so its anchors agree with these to ~1e-7).
 *
 * Order (TF's): layer by layer (finest feature map first); within a layer, grid cells row-major
 * (y outer, x inner); within a cell, the layer's box specs in order ("box_spec index varying the
 * fastest, followed by width index, then height index, then grid index").
 *
 * Aspect ratio is width / height: an anchor of scale s and ratio r is s·√r wide and s/√r high (times
 * the base anchor size).
 *
 * face-api.js's SSD MobileNetV1 face detector uses this generator's anchors too, but NOT 1917 of them:
 * its input is 512×512, feature maps 32, 16, 8, 4, 2, 1 → 5118 anchors (pass those sizes), stored in its
 * weights (`Output/extra_dim`, yxyx) rather than computed, in the older 'after-ratio-1' spec order.
 */
import { convertBoxes } from './formats';

/**
 * Where the interpolated anchor (scale √(s_k·s_{k+1})) sits among a layer's box specs:
 * - `'last'`: after all aspect ratios (current TF, `interpolated_scale_aspect_ratio`);
 * - `'after-ratio-1'`: right after the aspect ratio 1.0 spec (TF revisions of 2017/2018, the order
 *   pretrained checkpoints of that time, e.g. face-api.js's SSD, were trained with).
 */
export type InterpolatedAnchorPlacement = 'last' | 'after-ratio-1';

/** Options of the SSD anchor generator; field names follow `ssd_anchor_generator.proto`. */
export interface SsdAnchorConfig {
  /** Number of feature maps (layers). Default 6. */
  numLayers?: number;
  /** Scale of the finest layer, as a fraction of the (shorter) image side. Default 0.2. */
  minScale?: number;
  /** Scale of the coarsest layer. Default 0.95. */
  maxScale?: number;
  /**
   * Explicit per-layer scales (numLayers of them); when non-empty they replace minScale/maxScale.
   * Either way the final scale 1.0 is appended for the last layer's interpolated anchor. Default [].
   */
  scales?: readonly number[];
  /**
   * Aspect ratios (width / height) of every layer but a reduced lowest one, in spec order. Default
   * [1, 2, 1/2, 3, 1/3], the order of `ssd_mobilenet_v1_coco.config` (which writes 1/3 as 0.3333;
   * pass that for bit-closeness to its checkpoints; TF's function default order is [1, 2, 3, 1/2, 1/3]).
   */
  aspectRatios?: readonly number[];
  /** Aspect ratio of the extra anchor of scale √(s_k·s_{k+1}); ≤ 0 leaves it out. Default 1. */
  interpolatedScaleAspectRatio?: number;
  /** Lowest layer gets only (0.1, 1), (s_0, 2), (s_0, 1/2). Default true. */
  reduceBoxesInLowestLayer?: boolean;
  /** Base anchor height (normalised; multiplies every scale). Default 1. */
  baseAnchorHeight?: number;
  /** Base anchor width (normalised). Default 1. */
  baseAnchorWidth?: number;
  /** Per-layer anchor stride in y, in pixels (divided by imageHeight); [] = 1 / feature map height. Default []. */
  heightStride?: readonly number[];
  /** Per-layer anchor stride in x, in pixels (divided by imageWidth); [] = 1 / feature map width. Default []. */
  widthStride?: readonly number[];
  /** Per-layer centre of the first cell in y, in pixels (divided by imageHeight); [] = half the stride. Default []. */
  heightOffset?: readonly number[];
  /** Per-layer centre of the first cell in x, in pixels (divided by imageWidth); [] = half the stride. Default []. */
  widthOffset?: readonly number[];
  /**
   * Image height in pixels. Used (as in TF's `_generate`) to divide pixel strides/offsets and to keep
   * anchors square on non-square images: the base size is scaled by min(h, w)/h in y and min(h, w)/w in x.
   * Default 1 (only the ratio matters when no strides/offsets are given).
   */
  imageHeight?: number;
  /** Image width in pixels; see imageHeight. Default 1. */
  imageWidth?: number;
  /** Where the interpolated anchor goes in a layer's specs. Default 'last' (current TF). */
  interpolatedAnchorPlacement?: InterpolatedAnchorPlacement;
  /**
   * Explicit box specs, one non-empty list a layer (TF's `MultipleGridAnchorGenerator(box_specs_list)`,
   * which `create_ssd_anchors` feeds with the specs the fields above describe). When non-empty they
   * replace those specs: scales, aspect ratios, the interpolated anchor and the reduced lowest layer no
   * longer apply; the base size, strides and offsets still do. Default [].
   */
  boxSpecs?: readonly (readonly AnchorSpec[])[];
}

export type ResolvedSsdAnchorConfig = Required<SsdAnchorConfig>;

export const SSD_ANCHOR_DEFAULTS: ResolvedSsdAnchorConfig = {
  numLayers: 6,
  minScale: 0.2,
  maxScale: 0.95,
  scales: [],
  aspectRatios: [1, 2, 1 / 2, 3, 1 / 3],
  interpolatedScaleAspectRatio: 1,
  reduceBoxesInLowestLayer: true,
  baseAnchorHeight: 1,
  baseAnchorWidth: 1,
  heightStride: [],
  widthStride: [],
  heightOffset: [],
  widthOffset: [],
  imageHeight: 1,
  imageWidth: 1,
  interpolatedAnchorPlacement: 'last',
  boxSpecs: [],
};

/** Feature map sizes [height, width] of SSD MobileNetV1 at 300×300 (Conv2d_11, Conv2d_13, 4 extra layers): 1917 anchors. */
export const SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES: readonly (readonly [number, number])[] = [
  [19, 19],
  [10, 10],
  [5, 5],
  [3, 3],
  [2, 2],
  [1, 1],
];

/** One anchor shape of a layer: scale (fraction of the base size) and aspect ratio (width / height). */
export interface AnchorSpec {
  scale: number;
  aspectRatio: number;
}

/** Fills defaults and validates; throws RangeError naming the bad field. */
export function resolveSsdAnchorConfig(config: SsdAnchorConfig = {}): ResolvedSsdAnchorConfig {
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c: ResolvedSsdAnchorConfig = { ...SSD_ANCHOR_DEFAULTS, ...defined };
  if (!Number.isInteger(c.numLayers) || c.numLayers < 1) throw new RangeError(`numLayers: expected an integer ≥ 1, received ${c.numLayers}.`);
  if (c.scales.length > 0 && c.scales.length !== c.numLayers) {
    throw new RangeError(`scales: expected numLayers (${c.numLayers}) scales or none, received ${c.scales.length}.`);
  }
  if (c.scales.length === 0 && c.boxSpecs.length === 0 && c.numLayers === 1) {
    throw new RangeError('numLayers: 1 layer needs explicit scales (TF divides by numLayers − 1 to interpolate minScale…maxScale).');
  }
  for (const r of c.aspectRatios) if (!(r > 0)) throw new RangeError(`aspectRatios: expected positive ratios (width / height), received ${r}.`);
  for (const key of ['heightStride', 'widthStride', 'heightOffset', 'widthOffset'] as const) {
    const v = c[key];
    if (v.length > 0 && v.length !== c.numLayers) throw new RangeError(`${key}: expected one value a layer (${c.numLayers}) or none, received ${v.length}.`);
  }
  if (c.boxSpecs.length > 0) {
    if (c.boxSpecs.length !== c.numLayers) throw new RangeError(`boxSpecs: expected one list of specs a layer (${c.numLayers}) or none, received ${c.boxSpecs.length}.`);
    c.boxSpecs.forEach((specs, k) => {
      if (specs.length === 0) throw new RangeError(`boxSpecs[${k}]: expected at least one { scale, aspectRatio }, received none.`);
      specs.forEach(({ scale, aspectRatio }, j) => {
        if (!(scale > 0) || !(aspectRatio > 0)) throw new RangeError(`boxSpecs[${k}][${j}]: expected a positive scale and aspect ratio, received ${scale} and ${aspectRatio}.`);
      });
    });
  }
  if (!(c.imageHeight > 0) || !(c.imageWidth > 0)) throw new RangeError(`imageHeight/imageWidth: expected positive sizes, received ${c.imageHeight}×${c.imageWidth}.`);
  return c;
}

/** The per-layer scales s_k = minScale + (maxScale − minScale)·k/(numLayers − 1) (or the explicit ones), followed by 1.0. */
export function ssdLayerScales(config: SsdAnchorConfig = {}): number[] {
  const c = resolveSsdAnchorConfig(config);
  const n = c.numLayers;
  const scales = c.scales.length > 0 ? [...c.scales] : Array.from({ length: n }, (_, k) => c.minScale + ((c.maxScale - c.minScale) * k) / (n - 1));
  return [...scales, 1];
}

/** The specs of one layer k ≥ 0 given its scale and the next one (TF's `layer_box_specs`). */
function layerSpecs(k: number, scale: number, scaleNext: number, c: ResolvedSsdAnchorConfig): AnchorSpec[] {
  if (k === 0 && c.reduceBoxesInLowestLayer) {
    return [
      { scale: 0.1, aspectRatio: 1 },
      { scale, aspectRatio: 2 },
      { scale, aspectRatio: 0.5 },
    ];
  }
  const interpolated: AnchorSpec[] = c.interpolatedScaleAspectRatio > 0 ? [{ scale: Math.sqrt(scale * scaleNext), aspectRatio: c.interpolatedScaleAspectRatio }] : [];
  if (c.interpolatedAnchorPlacement === 'last') return [...c.aspectRatios.map((aspectRatio) => ({ scale, aspectRatio })), ...interpolated];
  return c.aspectRatios.flatMap((aspectRatio) => [{ scale, aspectRatio }, ...(aspectRatio === 1 ? interpolated : [])]);
}

/** Box specs (scale, aspect ratio) of every layer, in the order anchors are laid out at each grid cell. */
export function ssdBoxSpecs(config: SsdAnchorConfig = {}): AnchorSpec[][] {
  const c = resolveSsdAnchorConfig(config);
  if (c.boxSpecs.length > 0) return c.boxSpecs.map((specs) => specs.map(({ scale, aspectRatio }) => ({ scale, aspectRatio })));
  const scales = ssdLayerScales(c);
  return Array.from({ length: c.numLayers }, (_, k) => layerSpecs(k, scales[k], scales[k + 1], c));
}

/** Anchors per grid cell of each layer (3, 6, 6, 6, 6, 6 with the defaults). */
export function ssdAnchorsPerLocation(config: SsdAnchorConfig = {}): number[] {
  return ssdBoxSpecs(config).map((specs) => specs.length);
}

function checkFeatureMapSizes(featureMapSizes: readonly (readonly [number, number])[], numLayers: number): void {
  if (featureMapSizes.length !== numLayers) {
    throw new RangeError(`featureMapSizes: expected one [height, width] a layer (${numLayers}), received ${featureMapSizes.length}.`);
  }
  for (const [h, w] of featureMapSizes) {
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
      throw new RangeError(`featureMapSizes: expected positive integer [height, width] pairs, received [${h}, ${w}].`);
    }
  }
}

/** Number of anchors for these feature maps: Σ h·w·(anchors per location). */
export function ssdAnchorCount(featureMapSizes: readonly (readonly [number, number])[] = SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES, config: SsdAnchorConfig = {}): number {
  const perLocation = ssdAnchorsPerLocation(config);
  checkFeatureMapSizes(featureMapSizes, perLocation.length);
  return featureMapSizes.reduce((sum, [h, w], k) => sum + h * w * perLocation[k], 0);
}

/**
 * SSD anchors in normalised cxcywh [cx, cy, w, h], TF order (layers finest first; cells row-major y
 * then x; the layer's specs fastest), not clipped. `featureMapSizes` are [height, width] pairs, one a
 * layer (default SSD MobileNetV1 at 300×300: 1917 anchors).
 */
export function ssdAnchorsCxcywh(
  featureMapSizes: readonly (readonly [number, number])[] = SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES,
  config: SsdAnchorConfig = {},
): Float64Array {
  const c = resolveSsdAnchorConfig(config);
  const specs = ssdBoxSpecs(c);
  checkFeatureMapSizes(featureMapSizes, c.numLayers);
  const out = new Float64Array(4 * ssdAnchorCount(featureMapSizes, c));
  const minSide = Math.min(c.imageHeight, c.imageWidth);
  const baseH = (minSide / c.imageHeight) * c.baseAnchorHeight;
  const baseW = (minSide / c.imageWidth) * c.baseAnchorWidth;
  let i = 0;
  featureMapSizes.forEach(([gridH, gridW], k) => {
    const strideY = c.heightStride.length > 0 ? c.heightStride[k] / c.imageHeight : 1 / gridH;
    const strideX = c.widthStride.length > 0 ? c.widthStride[k] / c.imageWidth : 1 / gridW;
    const offsetY = c.heightOffset.length > 0 ? c.heightOffset[k] / c.imageHeight : 0.5 * strideY;
    const offsetX = c.widthOffset.length > 0 ? c.widthOffset[k] / c.imageWidth : 0.5 * strideX;
    for (let y = 0; y < gridH; y++) {
      for (let x = 0; x < gridW; x++) {
        for (const { scale, aspectRatio } of specs[k]) {
          const sqrtRatio = Math.sqrt(aspectRatio);
          out[4 * i] = x * strideX + offsetX;
          out[4 * i + 1] = y * strideY + offsetY;
          out[4 * i + 2] = scale * sqrtRatio * baseW;
          out[4 * i + 3] = (scale / sqrtRatio) * baseH;
          i++;
        }
      }
    }
  });
  return out;
}

/**
 * The same anchors as {@link ssdAnchorsCxcywh} in normalised yxyx [ymin, xmin, ymax, xmax] (what TF's
 * anchor BoxList holds and what face-api.js stores as `Output/extra_dim`), same order, not clipped.
 */
export function ssdAnchorsYxyx(
  featureMapSizes: readonly (readonly [number, number])[] = SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES,
  config: SsdAnchorConfig = {},
): Float64Array {
  return convertBoxes(ssdAnchorsCxcywh(featureMapSizes, config), 'cxcywh', 'yxyx');
}
