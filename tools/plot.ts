/**
 * A small scatter/line plot for the tools' reports, as SVG rendered to PNG with sharp: series of points
 * (each point optionally labeled), linear or log axes, a legend. E.g. latency against Mult-Adds
 * (tools/bench/report.ts) or accuracy against Mult-Adds (log x).
 */
import sharp from 'sharp';

export interface PlotPoint {
  x: number;
  y: number;
  /** Written next to the point. */
  label?: string;
}

export interface PlotSeries {
  /** The legend's name for the series. */
  name: string;
  points: PlotPoint[];
  /** CSS colour; default the next of a fixed palette. */
  color?: string;
  /** Join the points in x order. Default false. */
  line?: boolean;
}

export interface ScatterPlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Log (base 10) axes; default false. Points ≤ 0 on a log axis are left out. */
  logX?: boolean;
  logY?: boolean;
  /** Pixels; default 900 × 600. */
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
/** The legend sits in the right margin, off the data. */
const MARGIN = { left: 70, right: 190, top: 40, bottom: 50 };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const tickText = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(0) : String(Number(v.toPrecision(3))));

interface Axis {
  /** Data value → pixel. */
  scale: (v: number) => number;
  ticks: number[];
}

/** Ticks at 1, 2, 5 × 10^k inside [min, max] (fewer when the range spans many decades, linear ones within one). */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  const decades = Math.log10(max) - Math.log10(min);
  if (decades < 0.7) return linearTicks(min, max);
  const steps = decades > 4 ? [1] : decades > 1.5 ? [1, 3] : [1, 2, 5];
  for (let k = Math.floor(Math.log10(min)); k <= Math.ceil(Math.log10(max)); k++) {
    for (const s of steps) {
      const v = s * 10 ** k;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(Number(v.toPrecision(3)));
    }
  }
  return ticks;
}

/** About 5 ticks at 1, 2, 5 × 10^k steps. */
function linearTicks(min: number, max: number): number[] {
  const raw = (max - min) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((s) => s * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** An axis over `values` from pixel `from` to `to`, padded by 5 % (of the log range on a log axis). */
function axis(values: number[], log: boolean, from: number, to: number): Axis {
  const t = log ? Math.log10 : (v: number) => v;
  let [lo, hi] = values.length === 0 ? [log ? 1 : 0, log ? 10 : 1] : [Math.min(...values.map(t)), Math.max(...values.map(t))];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  [lo, hi] = [lo - pad, hi + pad];
  const scale = (v: number) => from + ((t(v) - lo) / (hi - lo)) * (to - from);
  return { scale, ticks: log ? logTicks(10 ** lo, 10 ** hi) : linearTicks(lo, hi) };
}

/** The plot as an SVG document. */
export function scatterPlotSvg(options: ScatterPlotOptions): string {
  const { width = 900, height = 600, logX = false, logY = false } = options;
  const visible = (p: PlotPoint) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0) && (!logY || p.y > 0);
  const series = options.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length], points: s.points.filter(visible) }));
  const all = series.flatMap((s) => s.points);
  const [left, right, top, bottom] = [MARGIN.left, width - MARGIN.right, MARGIN.top, height - MARGIN.bottom];
  const x = axis(all.map((p) => p.x), logX, left, right);
  const y = axis(all.map((p) => p.y), logY, bottom, top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${(left + right) / 2}" y="24" text-anchor="middle" font-size="15">${escape(options.title)}</text>`,
    `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#888"/>`,
  ];
  for (const v of x.ticks) {
    const px = x.scale(v).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" stroke="#eee"/>`, `<text x="${px}" y="${bottom + 16}" text-anchor="middle" font-size="11">${tickText(v)}</text>`);
  }
  for (const v of y.ticks) {
    const py = y.scale(v).toFixed(1);
    out.push(`<line x1="${left}" x2="${right}" y1="${py}" y2="${py}" stroke="#eee"/>`, `<text x="${left - 6}" y="${Number(py) + 4}" text-anchor="end" font-size="11">${tickText(v)}</text>`);
  }
  out.push(
    `<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle" font-size="12">${escape(options.xLabel)}${logX ? ' (log)' : ''}</text>`,
    `<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(top + bottom) / 2})">${escape(options.yLabel)}${logY ? ' (log)' : ''}</text>`,
  );
  series.forEach((s, i) => {
    const at = (p: PlotPoint) => [x.scale(p.x).toFixed(1), y.scale(p.y).toFixed(1)];
    if (s.line && s.points.length > 1) {
      const path = [...s.points].sort((a, b) => a.x - b.x).map((p) => at(p).join(',')).join(' ');
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${path}"/>`);
    }
    for (const p of s.points) {
      const [cx, cy] = at(p);
      out.push(`<circle cx="${cx}" cy="${cy}" r="4" fill="${s.color}"/>`);
      // Right of the point, or left of it in the plot's right quarter (so that it stays inside).
      const leftward = Number(cx) > left + 0.75 * (right - left);
      if (p.label !== undefined) out.push(`<text x="${Number(cx) + (leftward ? -6 : 6)}" y="${Number(cy) - 5}" text-anchor="${leftward ? 'end' : 'start'}" font-size="10" fill="${s.color}">${escape(p.label)}</text>`);
    }
    out.push(`<circle cx="${right + 16}" cy="${top + 10 + i * 18}" r="4" fill="${s.color}"/>`, `<text x="${right + 26}" y="${top + 14 + i * 18}" font-size="12">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The plot as PNG bytes, `width` × `height` pixels. */
export async function scatterPlotPng(options: ScatterPlotOptions): Promise<Buffer> {
  return sharp(Buffer.from(scatterPlotSvg(options))).png().toBuffer();
}
