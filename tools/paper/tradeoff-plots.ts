/** The trade-off plots of paper:tradeoff (Figures 4 and 5 of the MobileNetV1 paper, for our data): SVG, rendered to PNG with sharp. */
import * as fs from 'node:fs';
import sharp from 'sharp';

export interface TradeoffPoint {
  alpha: number;
  inputSize: number;
  multAdds: number;
  params: number;
  /** Held-out top-1, 0–1. */
  top1: number;
}

interface PlotPoint {
  x: number;
  y: number;
  label: string;
}

interface PlotSeries {
  name: string;
  color: string;
  points: PlotPoint[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** "4.2M", "569M", "25k": a count for an axis tick. */
function shortCount(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toPrecision(2)}B`;
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(2)}k`;
  return `${n}`;
}

/** Ticks at 1, 2, 5 × powers of ten within [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return ticks;
}

/** A scatter with a log x axis and a linear y axis (top-1 in %), points joined within a series and labeled. */
function logXScatterSvg(title: string, caption: string, xLabel: string, series: PlotSeries[]): string {
  const width = 760;
  const height = 520;
  const left = 64;
  const right = 130;
  const top = 56;
  const bottom = 70;
  const all = series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p.x)) / 1.25;
  const xMax = Math.max(...all.map((p) => p.x)) * 1.25;
  const yMax = Math.min(100, Math.ceil((Math.max(...all.map((p) => p.y)) + 5) / 10) * 10);
  const yMin = Math.max(0, Math.floor((Math.min(...all.map((p) => p.y)) - 5) / 10) * 10);
  const w = width - left - right;
  const h = height - top - bottom;
  const sx = (x: number) => left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * w;
  const sy = (y: number) => top + h - ((y - yMin) / (yMax - yMin)) * h;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${left + w / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${left + w / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${escape(caption)}</text>`,
    `<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  ];
  for (const t of logTicks(xMin, xMax)) {
    out.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${top}" y2="${top + h}" stroke="#eee"/>`);
    out.push(`<text x="${sx(t)}" y="${top + h + 16}" text-anchor="middle" font-size="11">${shortCount(t)}</text>`);
  }
  for (let y = yMin; y <= yMax; y += 10) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="11">${y}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${height - 30}" text-anchor="middle" font-size="12">${escape(xLabel)} (log scale)</text>`);
  out.push(`<text x="16" y="${top + h / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${top + h / 2})">held-out top-1 (%)</text>`);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${s.color}"/>`);
      out.push(`<text x="${(sx(p.x) + 6).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}" font-size="9" fill="#333">${escape(p.label)}</text>`);
    }
    out.push(`<rect x="${left + w + 14}" y="${top + 8 + i * 18}" width="14" height="3" fill="${s.color}"/>`);
    out.push(`<text x="${left + w + 34}" y="${top + 13 + i * 18}" font-size="11">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function groupBy<K>(points: TradeoffPoint[], key: (p: TradeoffPoint) => K): Map<K, TradeoffPoint[]> {
  const groups = new Map<K, TradeoffPoint[]>();
  for (const p of points) groups.set(key(p), [...(groups.get(key(p)) ?? []), p]);
  return groups;
}

/** Figure 4's shape: top-1 against Mult-Adds, one line per width multiplier through its resolutions. */
export function accuracyVsMultAddsSvg(points: TradeoffPoint[], caption: string): string {
  const series = [...groupBy(points, (p) => p.alpha)].sort((a, b) => b[0] - a[0]).map(([alpha, ps], i) => ({
    name: `α ${alpha}`,
    color: COLORS[i % COLORS.length],
    points: ps.map((p) => ({ x: p.multAdds, y: 100 * p.top1, label: `${p.alpha}-${p.inputSize}` })),
  }));
  return logXScatterSvg('Top-1 vs Mult-Adds', caption, 'Mult-Adds', series);
}

/** Figure 5's shape: top-1 against parameters (which do not depend on resolution), one line per input size. */
export function accuracyVsParamsSvg(points: TradeoffPoint[], caption: string): string {
  const series = [...groupBy(points, (p) => p.inputSize)].sort((a, b) => b[0] - a[0]).map(([size, ps], i) => ({
    name: `${size} px`,
    color: COLORS[i % COLORS.length],
    points: ps.map((p) => ({ x: p.params, y: 100 * p.top1, label: `${p.alpha}-${p.inputSize}` })),
  }));
  return logXScatterSvg('Top-1 vs parameters', caption, 'parameters', series);
}

export async function writeSvgAsPng(svg: string, file: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await sharp(Buffer.from(svg)).png().toFile(temp);
  fs.renameSync(temp, file);
}
