/** Plots as SVG strings, rendered to PNG with sharp: the learning curve and the confusion matrix. */
import sharp from 'sharp';
import { parseMetricsLog } from '@mobilenets/training';

export interface CurvePoint {
  step: number;
  value: number;
}

export interface LearningCurve {
  /** Training loss per step. */
  loss: CurvePoint[];
  /** Training accuracy per step (smoothed when drawn). */
  accuracy: CurvePoint[];
  /** Validation top-1 per epoch end. */
  valTop1: CurvePoint[];
  /** Validation loss per epoch end. */
  valLoss: CurvePoint[];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(2));

function smooth(points: CurvePoint[], weight = 0.8): CurvePoint[] {
  let s: number | null = null;
  return points.map((p) => {
    s = s === null ? p.value : weight * s + (1 - weight) * p.value;
    return { step: p.step, value: s };
  });
}

interface Series {
  points: CurvePoint[];
  color: string;
  label: string;
  dots?: boolean;
  faint?: boolean;
}

function panel(x0: number, y0: number, width: number, height: number, title: string, series: Series[], yRange?: [number, number]): string {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.value));
  const left = 52;
  const bottom = 34;
  const w = width - left - 16;
  const h = height - bottom - 30;
  const steps = all.map((p) => p.step);
  const xMin = Math.min(0, ...steps);
  const xMax = Math.max(1, ...steps);
  let [yMin, yMax] = yRange ?? [Math.min(...all.map((p) => p.value)), Math.max(...all.map((p) => p.value))];
  if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const sx = (s: number) => x0 + left + ((s - xMin) / (xMax - xMin)) * w;
  const sy = (v: number) => y0 + 30 + h - ((v - yMin) / (yMax - yMin)) * h;
  const out: string[] = [`<text x="${x0 + left + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`];
  out.push(`<rect x="${x0 + left}" y="${y0 + 30}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + w}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + left - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`);
    const s = xMin + ((xMax - xMin) * i) / 4;
    out.push(`<text x="${sx(s)}" y="${y0 + 30 + h + 16}" text-anchor="middle" font-size="11">${Math.round(s)}</text>`);
  }
  out.push(`<text x="${x0 + left + w / 2}" y="${y0 + height - 4}" text-anchor="middle" font-size="12">step</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.value));
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.faint ? 1 : 2}" stroke-opacity="${s.faint ? 0.35 : 1}" points="${pts.map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ')}"/>`);
    }
    if (s.dots || pts.length === 1) for (const p of pts) out.push(`<circle cx="${sx(p.step).toFixed(1)}" cy="${sy(p.value).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    if (!s.faint) {
      out.push(`<rect x="${x0 + left + 10}" y="${y0 + 38 + i * 16}" width="12" height="3" fill="${s.color}"/>`);
      out.push(`<text x="${x0 + left + 28}" y="${y0 + 43 + i * 16}" font-size="11">${escape(s.label)}</text>`);
    }
  });
  return out.join('\n');
}

export function learningCurveSvg(curve: LearningCurve, title: string): string {
  const width = 960;
  const height = 380;
  const lossSeries: Series[] = [
    { points: curve.loss, color: '#1f77b4', label: 'train loss (raw)', faint: true },
    { points: smooth(curve.loss), color: '#1f77b4', label: 'train loss' },
    { points: curve.valLoss, color: '#d62728', label: 'validation loss', dots: true },
  ];
  const accuracySeries: Series[] = [
    { points: smooth(curve.accuracy), color: '#1f77b4', label: 'train accuracy (batch, smoothed)' },
    { points: curve.valTop1, color: '#d62728', label: 'validation top-1', dots: true },
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 30}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    panel(0, 30, width / 2, height, 'loss', lossSeries),
    panel(width / 2, 30, width / 2, height, 'accuracy', accuracySeries, [0, 1]),
    '</svg>',
  ].join('\n');
}

export function confusionSvg(confusion: number[][], labels: readonly string[], title: string): string {
  const n = labels.length;
  const cell = Math.max(14, Math.min(48, Math.floor(560 / Math.max(n, 1))));
  const margin = 140;
  const size = margin + n * cell + 20;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size + 30}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${size / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    `<text x="${margin + (n * cell) / 2}" y="${margin - 100}" text-anchor="middle" font-size="12">predicted</text>`,
    `<text x="14" y="${margin + (n * cell) / 2}" font-size="12" transform="rotate(-90 14 ${margin + (n * cell) / 2})" text-anchor="middle">true label</text>`,
  ];
  confusion.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, c) => {
      const share = total === 0 ? 0 : count / total;
      const shade = Math.round(255 - share * 200);
      out.push(`<rect x="${margin + c * cell}" y="${margin + r * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#ccc"/>`);
      if (cell >= 20) out.push(`<text x="${margin + c * cell + cell / 2}" y="${margin + r * cell + cell / 2 + 4}" text-anchor="middle" font-size="${Math.min(12, cell / 2)}" fill="${share > 0.5 ? 'white' : 'black'}">${count}</text>`);
    });
  });
  labels.forEach((label, i) => {
    const short = escape(label.length > 16 ? `${label.slice(0, 15)}…` : label);
    out.push(`<text x="${margin - 6}" y="${margin + i * cell + cell / 2 + 4}" text-anchor="end" font-size="11">${short}</text>`);
    const x = margin + i * cell + cell / 2;
    out.push(`<text x="${x}" y="${margin - 6}" font-size="11" transform="rotate(-60 ${x} ${margin - 6})">${short}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/**
 * The learning curve from a run's metrics log (metrics.jsonl; resumed runs included, a step logged
 * twice keeps its last entry): training loss and accuracy per step, validation top-1 and loss per epoch.
 */
export function learningCurveFromLog(text: string): LearningCurve {
  const log = parseMetricsLog(text);
  const epochs = log.epochs.filter((e) => e.val !== null);
  return {
    loss: log.steps.map((s) => ({ step: s.step, value: s.loss })),
    accuracy: log.steps.map((s) => ({ step: s.step, value: s.metrics?.accuracy ?? NaN })),
    valTop1: epochs.map((e) => ({ step: e.step, value: e.val!.top1 ?? NaN })),
    valLoss: epochs.map((e) => ({ step: e.step, value: e.val!.loss ?? NaN })),
  };
}

/** The SVG as PNG bytes (to write wherever and however the caller wants). */
export async function renderPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export async function writePng(svg: string, file: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(file);
}
