/**
 * The Faster R-CNN box coder, used by SSD and Faster R-CNN alike (TF `faster_rcnn_box_coder`,
 * torchvision `BoxCoder`): a box is coded relative to its anchor as centre offsets in anchor sizes and
 * log size ratios, each multiplied by a scale factor.
 *
 * Codes are in TF ORDER, [ty, tx, th, tw] (what TF checkpoints, coco-ssd and face-api.js predict);
 * torchvision's order is [tx, ty, tw, th] ({@link swapCodeOrderTfTorchvision} converts either way).
 * Boxes and anchors are cxcywh [cx, cy, w, h], in any one unit (normalised or pixels, the same for both),
 * one anchor a box (box i is coded against anchor i).
 *
 *   ty = yScale·(cy − cy_a)/h_a    tx = xScale·(cx − cx_a)/w_a
 *   th = heightScale·log(h/h_a)     tw = widthScale·log(w/w_a)
 *
 * TF adds EPSILON = 1e-8 to h_a, w_a, h and w when ENCODING only (so a zero-size box gives a finite
 * code) and decodes with the anchor's own size; the round trip is therefore exact only up to
 * ~epsilon·|w − w_a|/w_a (set `epsilon: 0` for an exact inverse).
 */
import { boxCount } from './formats';

/** TF's `faster_rcnn_box_coder.EPSILON`, added to sizes before encoding. */
export const TF_BOX_CODER_EPSILON = 1e-8;

/** torchvision's `bbox_xform_clip`, log(1000/16): the largest th/tw (after dividing by the scale) its decoder exponentiates. */
export const TORCHVISION_BBOX_XFORM_CLIP = Math.log(1000 / 16);

/** Options of the box coder; scale names follow `faster_rcnn_box_coder.proto`. */
export interface BoxCoderConfig {
  /** Multiplies ty. Default 10. */
  yScale?: number;
  /** Multiplies tx. Default 10. */
  xScale?: number;
  /** Multiplies th. Default 5. */
  heightScale?: number;
  /** Multiplies tw. Default 5. */
  widthScale?: number;
  /** Added to box and anchor sizes before encoding (TF's EPSILON). Default 1e-8. */
  epsilon?: number;
  /**
   * Decoding clamps th and tw (after dividing by their scales) to at most this before exp():
   * TORCHVISION_BBOX_XFORM_CLIP for torchvision's behaviour. Default Infinity (TF: no clamp).
   */
  decodeClip?: number;
}

export type ResolvedBoxCoderConfig = Required<BoxCoderConfig>;

export const BOX_CODER_DEFAULTS: ResolvedBoxCoderConfig = {
  yScale: 10,
  xScale: 10,
  heightScale: 5,
  widthScale: 5,
  epsilon: TF_BOX_CODER_EPSILON,
  decodeClip: Infinity,
};

/** Fills defaults and validates; throws RangeError naming the bad field. */
export function resolveBoxCoderConfig(config: BoxCoderConfig = {}): ResolvedBoxCoderConfig {
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c: ResolvedBoxCoderConfig = { ...BOX_CODER_DEFAULTS, ...defined };
  for (const key of ['yScale', 'xScale', 'heightScale', 'widthScale'] as const) {
    if (!(c[key] > 0)) throw new RangeError(`${key}: expected a positive scale factor, received ${c[key]}.`);
  }
  if (!(c.epsilon >= 0)) throw new RangeError(`epsilon: expected a number ≥ 0, received ${c.epsilon}.`);
  if (Number.isNaN(c.decodeClip)) throw new RangeError('decodeClip: expected a number (Infinity for no clamp), received NaN.');
  return c;
}

function checkSameCount(a: ArrayLike<number>, aName: string, anchorsCxcywh: ArrayLike<number>): number {
  const n = boxCount(a, aName);
  const m = boxCount(anchorsCxcywh, 'anchorsCxcywh');
  if (n !== m) throw new RangeError(`${aName}: expected one anchor a box, received ${n} boxes and ${m} anchors.`);
  return n;
}

/** Codes [ty, tx, th, tw] (TF order) of cxcywh boxes against their cxcywh anchors (same unit), scaled by the config's factors. */
export function encodeBoxesTfOrder(boxesCxcywh: ArrayLike<number>, anchorsCxcywh: ArrayLike<number>, config: BoxCoderConfig = {}): Float64Array {
  const c = resolveBoxCoderConfig(config);
  const n = checkSameCount(boxesCxcywh, 'boxesCxcywh', anchorsCxcywh);
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const wa = anchorsCxcywh[o + 2] + c.epsilon;
    const ha = anchorsCxcywh[o + 3] + c.epsilon;
    const w = boxesCxcywh[o + 2] + c.epsilon;
    const h = boxesCxcywh[o + 3] + c.epsilon;
    out[o] = (c.yScale * (boxesCxcywh[o + 1] - anchorsCxcywh[o + 1])) / ha;
    out[o + 1] = (c.xScale * (boxesCxcywh[o] - anchorsCxcywh[o])) / wa;
    out[o + 2] = c.heightScale * Math.log(h / ha);
    out[o + 3] = c.widthScale * Math.log(w / wa);
  }
  return out;
}

/** cxcywh boxes (the anchors' unit) from codes [ty, tx, th, tw] (TF order) against their cxcywh anchors; the inverse of {@link encodeBoxesTfOrder}. */
export function decodeBoxesTfOrder(codesTfOrder: ArrayLike<number>, anchorsCxcywh: ArrayLike<number>, config: BoxCoderConfig = {}): Float64Array {
  const c = resolveBoxCoderConfig(config);
  const n = checkSameCount(codesTfOrder, 'codesTfOrder', anchorsCxcywh);
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const wa = anchorsCxcywh[o + 2];
    const ha = anchorsCxcywh[o + 3];
    const th = Math.min(codesTfOrder[o + 2] / c.heightScale, c.decodeClip);
    const tw = Math.min(codesTfOrder[o + 3] / c.widthScale, c.decodeClip);
    out[o] = (codesTfOrder[o + 1] / c.xScale) * wa + anchorsCxcywh[o];
    out[o + 1] = (codesTfOrder[o] / c.yScale) * ha + anchorsCxcywh[o + 1];
    out[o + 2] = Math.exp(tw) * wa;
    out[o + 3] = Math.exp(th) * ha;
  }
  return out;
}

/** Swaps y and x within every code: TF order [ty, tx, th, tw] ↔ torchvision order [tx, ty, tw, th] (its own inverse). */
export function swapCodeOrderTfTorchvision(codes: ArrayLike<number>): Float64Array {
  const n = boxCount(codes, 'codes');
  const out = new Float64Array(4 * n);
  for (let o = 0; o < 4 * n; o += 4) {
    out[o] = codes[o + 1];
    out[o + 1] = codes[o];
    out[o + 2] = codes[o + 3];
    out[o + 3] = codes[o + 2];
  }
  return out;
}
