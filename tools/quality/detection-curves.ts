/**
 * Held-out mAP and AP50 against training minutes for a `mobilenet-detect train` run and a torchvision
 * SSDLite run (tools/quality/ssdlite_torchvision.py), on one chart (SVG rendered to PNG with sharp, as
 * apps/classify/src/charts.ts does), and the points as a markdown table on stdout.
 *
 *   node -r ./tools/ts-register.js tools/quality/detection-curves.ts --ours RUN/metrics.jsonl [--ours-label '…'] \
 *     [--ours RUN2/metrics.jsonl --ours-label '…' …] --torch TORCHRUN/metrics.jsonl --out curve.png [--title '…'] [--json]
 *
 * `--ours` may be given several times, each with its `--ours-label` in the same order; either side may
 * be given alone. Each line of a log is read for an evaluation (lines without one are
 * skipped; so are lines that are not JSON, such as a line cut short by a crash):
 * - ssdlite_torchvision.py: {"minutes", "mAP", "AP50", …}; minutes is training time (evaluation excluded);
 * - the project's metrics log (packages/training/src/metrics-log.ts): {"type": "epoch", "time", "val":
 *   {"mAP", "AP50", …}}, after a {"type": "begin", "time"} line. Its minutes: the line's `elapsedSeconds`
 *   (top level or in `val`) / 60 when there is one; else `minutes` when there is one; else the wall time
 *   from the first 'begin' line's `time` to this line's `time` — which includes the evaluations and
 *   anything else the run did between its epochs, so it overstates training time (the table says which
 *   clock each point used).
 * The metric names are matched without regard to case: mAP (or AP), AP50.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';

export interface CurvePoint {
  minutes: number;
  mAP: number;
  AP50: number;
  /** Where `minutes` came from: 'training' (evaluation excluded), 'elapsedSeconds' or 'wall' (log times). */
  clock: 'training' | 'elapsedSeconds' | 'wall';
}

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A metric by name, case-insensitive, from an object. */
function metric(o: Json | undefined, ...names: string[]): number | undefined {
  if (!o || typeof o !== 'object') return undefined;
  for (const name of names) {
    const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
    const v = key === undefined ? undefined : num(o[key]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The evaluations of a metrics log, in time order (either format above). */
export function readCurve(text: string): CurvePoint[] {
  const points: CurvePoint[] = [];
  let begin: number | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: Json;
    try {
      o = JSON.parse(line) as Json;
    } catch {
      continue;
    }
    if (o.type === 'begin' && typeof o.time === 'string' && begin === undefined) begin = Date.parse(o.time);
    const val = (o.val && typeof o.val === 'object' ? o.val : o.type === undefined ? o : undefined) as Json | undefined;
    const mAP = metric(val, 'mAP', 'AP');
    const AP50 = metric(val, 'AP50');
    if (mAP === undefined && AP50 === undefined) continue;
    // The 'end' line repeats the last epoch's validation: one point, not two.
    const last = points[points.length - 1];
    if (o.type === 'end' && last !== undefined && last.mAP === mAP && last.AP50 === AP50) continue;
    const elapsed = num(o.elapsedSeconds) ?? num(val?.elapsedSeconds);
    let minutes: number | undefined;
    let clock: CurvePoint['clock'];
    if (elapsed !== undefined) {
      minutes = elapsed / 60;
      clock = 'elapsedSeconds';
    } else if (num(o.minutes) !== undefined) {
      minutes = num(o.minutes);
      clock = 'training';
    } else {
      const t = typeof o.time === 'string' ? Date.parse(o.time) : NaN;
      if (begin === undefined || !Number.isFinite(t)) continue;
      minutes = (t - begin) / 60000;
      clock = 'wall';
    }
    points.push({ minutes: minutes!, mAP: mAP ?? NaN, AP50: AP50 ?? NaN, clock });
  }
  return points.sort((a, b) => a.minutes - b.minutes);
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface Run {
  label: string;
  color: string;
  points: CurvePoint[];
}

/** One panel: mAP (solid) and AP50 (dashed) per run against minutes. */
export function curvesSvg(runs: Run[], title: string): string {
  const width = 820;
  const height = 480;
  const left = 60;
  const right = 20;
  const top = 50;
  const bottom = 50;
  const w = width - left - right;
  const h = height - top - bottom;
  const all = runs.flatMap((r) => r.points);
  const xMax = Math.max(1, ...all.map((p) => p.minutes));
  const yTop = Math.max(0.05, ...all.flatMap((p) => [p.mAP, p.AP50]).filter(Number.isFinite));
  const yMax = Math.min(1, Math.ceil(yTop * 10 + 1e-9) / 10);
  const sx = (m: number) => left + (m / xMax) * w;
  const sy = (v: number) => top + h - (v / yMax) * h;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(`<line x1="${left}" x2="${left + w}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(2)}</text>`);
    const m = (xMax * i) / 5;
    out.push(`<text x="${sx(m)}" y="${top + h + 16}" text-anchor="middle" font-size="11">${m.toFixed(m >= 10 ? 0 : 1)}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${height - 12}" text-anchor="middle" font-size="12">training minutes</text>`);
  out.push(`<text x="16" y="${top + h / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${top + h / 2})">held-out COCO AP</text>`);
  // The legend sits lower right, where learning curves rising from the left leave the panel empty.
  const entries = runs.length * 2;
  const legendLeft = left + w - 380;
  const legendTop = top + h - entries * 16 - 6;
  out.push(`<rect x="${legendLeft - 6}" y="${legendTop - 4}" width="380" height="${entries * 16 + 6}" fill="white" fill-opacity="0.85"/>`);
  let legend = 0;
  for (const run of runs) {
    for (const [key, dash] of [['mAP', ''], ['AP50', ' stroke-dasharray="6 4"']] as const) {
      const pts = run.points.filter((p) => Number.isFinite(p[key]));
      if (pts.length > 1) out.push(`<polyline fill="none" stroke="${run.color}" stroke-width="2"${dash} points="${pts.map((p) => `${sx(p.minutes).toFixed(1)},${sy(p[key]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) out.push(`<circle cx="${sx(p.minutes).toFixed(1)}" cy="${sy(p[key]).toFixed(1)}" r="3" fill="${key === 'mAP' ? run.color : 'white'}" stroke="${run.color}"/>`);
      const y = legendTop + 10 + legend * 16;
      out.push(`<line x1="${legendLeft}" x2="${legendLeft + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${run.color}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${legendLeft + 30}" y="${y}" font-size="11">${escape(`${run.label} ${key === 'mAP' ? 'mAP@[.5:.95]' : 'AP50'}`)}</text>`);
      legend++;
    }
  }
  out.push('</svg>');
  return out.join('\n');
}

const OURS_COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];

function main(argv: string[]): Promise<void> {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const all = (name: string) => argv.flatMap((a, i) => (a === `--${name}` && i + 1 < argv.length ? [argv[i + 1]] : []));
  const ours = all('ours');
  const labels = all('ours-label');
  const torch = get('torch');
  const out = get('out') ?? 'detection-curves.png';
  if (ours.length === 0 && !torch) throw new Error('Give --ours RUN/metrics.jsonl (one or more) and/or --torch TORCHRUN/metrics.jsonl.');
  if (labels.length > ours.length) throw new Error(`${labels.length} --ours-label for ${ours.length} --ours: give one label a run, in the same order.`);
  const runs: Run[] = ours.map((file, k) => ({ label: labels[k] ?? (ours.length === 1 ? 'mobilenet-detect' : `mobilenet-detect ${k + 1}`), color: OURS_COLORS[k % OURS_COLORS.length], points: readCurve(fs.readFileSync(file, 'utf8')) }));
  if (torch) runs.push({ label: 'torchvision SSDLite320-MobileNetV3-L', color: '#d62728', points: readCurve(fs.readFileSync(torch, 'utf8')) });
  for (const r of runs) if (r.points.length === 0) throw new Error(`No evaluations (mAP / AP50) found in the ${r.label} log.`);
  const title = get('title') ?? 'Held-out mAP (solid) and AP50 (dashed) against training time';
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ out, runs })}\n`);
  else {
    const lines = ['| run | minutes | clock | mAP | AP50 |', '|---|---|---|---|---|'];
    for (const r of runs) for (const p of r.points) lines.push(`| ${r.label} | ${p.minutes.toFixed(2)} | ${p.clock} | ${p.mAP.toFixed(4)} | ${p.AP50.toFixed(4)} |`);
    process.stdout.write(`${lines.join('\n')}\n\nchart: ${out}\n`);
  }
  return sharp(Buffer.from(curvesSvg(runs, title))).png().toFile(out).then(() => undefined);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  });
}
