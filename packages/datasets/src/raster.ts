/**
 * A tiny anti-aliased rasteriser for the procedural datasets: shapes are signed-distance functions in
 * a local frame (radius ≈ 1), drawn into an 8-bit RGB canvas with coverage clamp(½ − d, 0, 1) where d
 * is the distance in pixels. Only what the generators need; no dependencies.
 */
import type { Random } from '@mobilenets/random';

/** An RGB image being drawn. */
export interface Canvas {
  /** HWC RGB bytes, length width · height · 3. */
  data: Uint8Array;
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
}

/** An RGB colour, components 0–255. */
export type Rgb = [number, number, number];

/** Signed distance in the shape's unit frame: < 0 inside, > 0 outside. */
export type Sdf = (u: number, v: number) => number;

/** Colour at a point of the shape's unit frame (textures rotate and scale with the shape). */
export type Paint = (u: number, v: number) => Rgb;

export function createCanvas(width: number, height: number): Canvas {
  return { data: new Uint8Array(width * height * 3), width, height };
}

/** HSV (h in degrees, s and v in [0, 1]) to RGB bytes. */
export function hsv(h: number, s: number, v: number): Rgb {
  const hue = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hue % 2) - 1));
  const m = v - c;
  const [r, g, b] = hue < 1 ? [c, x, 0] : hue < 2 ? [x, c, 0] : hue < 3 ? [0, c, x] : hue < 4 ? [0, x, c] : hue < 5 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

export const circleSdf: Sdf = (u, v) => Math.hypot(u, v) - 0.9;

/** Axis-aligned box with half sizes (hx, hy). */
export function boxSdf(hx: number, hy: number): Sdf {
  return (u, v) => {
    const dx = Math.abs(u) - hx;
    const dy = Math.abs(v) - hy;
    return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0);
  };
}

/** A closed polygon given as [x0, y0, x1, y1, …] (any winding): exact distance, even-odd inside test. */
export function polygonSdf(points: readonly number[]): Sdf {
  const n = points.length / 2;
  return (u, v) => {
    let best = Infinity;
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = points[2 * i];
      const yi = points[2 * i + 1];
      const xj = points[2 * j];
      const yj = points[2 * j + 1];
      const ex = xj - xi;
      const ey = yj - yi;
      const wx = u - xi;
      const wy = v - yi;
      const t = Math.min(Math.max((wx * ex + wy * ey) / (ex * ex + ey * ey), 0), 1);
      const dx = wx - ex * t;
      const dy = wy - ey * t;
      const d = dx * dx + dy * dy;
      if (d < best) best = d;
      if (yi > v !== yj > v && u < (ex * (v - yi)) / ey + xi) inside = !inside;
    }
    return inside ? -Math.sqrt(best) : Math.sqrt(best);
  };
}

/** Vertices of a star (or, with inner = outer, a regular polygon) with `points` tips. */
export function starPoints(points: number, outer: number, inner: number): number[] {
  const out: number[] = [];
  const steps = inner === outer ? points : points * 2;
  for (let k = 0; k < steps; k++) {
    const r = inner === outer || k % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (2 * Math.PI * k) / steps;
    out.push(r * Math.cos(a), r * Math.sin(a));
  }
  return out;
}

export function union(a: Sdf, b: Sdf): Sdf {
  return (u, v) => Math.min(a(u, v), b(u, v));
}

export function subtract(a: Sdf, b: Sdf): Sdf {
  return (u, v) => Math.max(a(u, v), -b(u, v));
}

export function translate(sdf: Sdf, dx: number, dy: number): Sdf {
  return (u, v) => sdf(u - dx, v - dy);
}

/** Placement of a shape on the canvas. */
export interface Placement {
  /** Centre column, in pixels. */
  cx: number;
  /** Centre row, in pixels. */
  cy: number;
  /** Pixels per unit of the shape's frame. */
  radius: number;
  /** Rotation in radians. */
  angle: number;
  /** Opacity in [0, 1]. Default 1. */
  alpha?: number;
}

/**
 * Visits every pixel a shape placed at `at` can reach (its radius × 1.5 plus one pixel, inside the
 * canvas) with the pixel centre in the shape's own frame (u, v): rotated by −angle, divided by radius.
 */
export function forEachShapePixel(width: number, height: number, at: Placement, visit: (x: number, y: number, u: number, v: number) => void): void {
  const { cx, cy, radius, angle } = at;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const reach = radius * 1.5 + 1;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(cy + reach));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      visit(x, y, (cos * dx + sin * dy) / radius, (-sin * dx + cos * dy) / radius);
    }
  }
}

/** Draws `sdf` painted by `paint` (or a flat colour) at `at`, anti-aliased over one pixel. */
export function drawShape(canvas: Canvas, sdf: Sdf, paint: Paint | Rgb, at: Placement): void {
  const { data, width, height } = canvas;
  const { radius, alpha = 1 } = at;
  const flat = Array.isArray(paint) ? paint : null;
  forEachShapePixel(width, height, at, (x, y, u, v) => {
    const coverage = Math.min(Math.max(0.5 - sdf(u, v) * radius, 0), 1) * alpha;
    if (coverage <= 0) return;
    const [r, g, b] = flat ?? (paint as Paint)(u, v);
    const i = (y * width + x) * 3;
    data[i] += (r - data[i]) * coverage;
    data[i + 1] += (g - data[i + 1]) * coverage;
    data[i + 2] += (b - data[i + 2]) * coverage;
  });
}

/** Fills the canvas with a linear gradient from `from` to `to` along `angle`. */
export function fillGradient(canvas: Canvas, from: Rgb, to: Rgb, angle: number): void {
  const { data, width, height } = canvas;
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  const span = Math.abs(ux) * width + Math.abs(uy) * height;
  const offset = Math.min(0, ux * width) + Math.min(0, uy * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (ux * x + uy * y - offset) / span;
      const i = (y * width + x) * 3;
      data[i] = from[0] + (to[0] - from[0]) * t;
      data[i + 1] = from[1] + (to[1] - from[1]) * t;
      data[i + 2] = from[2] + (to[2] - from[2]) * t;
    }
  }
}

/**
 * Adds noise in ±amplitude to every byte (clamped): each 32-bit draw of `random` gives four bytes'
 * worth (a 256-level uniform each), which keeps noisy backgrounds cheap.
 */
export function addNoise(canvas: Canvas, amplitude: number, random: Random): void {
  const { data } = canvas;
  const scale = (2 * amplitude) / 255;
  let bits = 0;
  for (let i = 0; i < data.length; i++) {
    if ((i & 3) === 0) bits = (random() * 4294967296) >>> 0;
    const v = data[i] + ((bits >>> ((i & 3) * 8)) & 255) * scale - amplitude;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/** Blends `colour` into the pixel at byte offset `i` with weight `a` ∈ [0, 1]. */
function blend(data: Uint8Array, i: number, colour: Rgb, a: number): void {
  data[i] += (colour[0] - data[i]) * a;
  data[i + 1] += (colour[1] - data[i + 1]) * a;
  data[i + 2] += (colour[2] - data[i + 2]) * a;
}

/**
 * Fills the axis-aligned rectangle [x0, x1) × [y0, y1) (in pixels, fractional edges allowed): each pixel
 * gets `colour` with weight (the share of the pixel the rectangle covers) × alpha. Only the pixels it
 * touches are visited, so a tall thin rectangle costs its own area.
 */
export function fillRect(canvas: Canvas, x0: number, y0: number, x1: number, y1: number, colour: Rgb, alpha = 1): void {
  const { data, width, height } = canvas;
  const left = Math.max(0, Math.floor(x0));
  const right = Math.min(width, Math.ceil(x1));
  const top = Math.max(0, Math.floor(y0));
  const bottom = Math.min(height, Math.ceil(y1));
  for (let y = top; y < bottom; y++) {
    const coverY = Math.min(y + 1, y1) - Math.max(y, y0);
    if (coverY <= 0) continue;
    for (let x = left; x < right; x++) {
      const coverX = Math.min(x + 1, x1) - Math.max(x, x0);
      if (coverX > 0) blend(data, (y * width + x) * 3, colour, coverX * coverY * alpha);
    }
  }
}

/**
 * Draws a shape whose signed distance is given in canvas pixels (`sdf(x, y)` at pixel centres x + ½,
 * y + ½; e.g. a {@link polygonSdf} of pixel coordinates), anti-aliased over one pixel, visiting only the
 * pixels of the box [x0, x1) × [y0, y1) that the shape must lie in.
 */
export function drawSdfInBox(canvas: Canvas, sdf: Sdf, colour: Rgb, box: readonly [number, number, number, number], alpha = 1): void {
  const { data, width, height } = canvas;
  const left = Math.max(0, Math.floor(box[0]));
  const right = Math.min(width, Math.ceil(box[2]));
  const top = Math.max(0, Math.floor(box[1]));
  const bottom = Math.min(height, Math.ceil(box[3]));
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const coverage = Math.min(Math.max(0.5 - sdf(x + 0.5, y + 0.5), 0), 1) * alpha;
      if (coverage > 0) blend(data, (y * width + x) * 3, colour, coverage);
    }
  }
}

/** Draws the polygon [x0, y0, x1, y1, …] given in canvas pixels, anti-aliased (see {@link drawSdfInBox}). */
export function fillPolygon(canvas: Canvas, points: readonly number[], colour: Rgb, alpha = 1): void {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let k = 0; k < points.length; k += 2) {
    x0 = Math.min(x0, points[k]);
    x1 = Math.max(x1, points[k]);
    y0 = Math.min(y0, points[k + 1]);
    y1 = Math.max(y1, points[k + 1]);
  }
  drawSdfInBox(canvas, polygonSdf(points), colour, [x0 - 1, y0 - 1, x1 + 1, y1 + 1], alpha);
}

/** Draws an ellipse centred at (cx, cy) with radii (rx, ry) in pixels, anti-aliased (approximate distance). */
export function fillEllipse(canvas: Canvas, cx: number, cy: number, rx: number, ry: number, colour: Rgb, alpha = 1): void {
  const r = Math.max(Math.min(rx, ry), 1e-6);
  const sdf: Sdf = (x, y) => (Math.hypot((x - cx) / rx, (y - cy) / ry) - 1) * r;
  drawSdfInBox(canvas, sdf, colour, [cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1], alpha);
}
