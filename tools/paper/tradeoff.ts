/**
 * Figures 4 and 5 of the MobileNetV1 paper, for our data: the 16 models α ∈ {1, 0.75, 0.5, 0.25} × four
 * input sizes, each trained from scratch by `mobilenet-classify train` with one recipe on one generated
 * dataset, then top-1 on the held-out images against Mult-Adds (log scale) and against parameters.
 *
 * The paper's sizes (224, 192, 160, 128) are scaled down to 128, 96, 64, 32 by default, to fit the 16
 * runs into minutes on a 2-core machine (the app takes multiples of 32). The Mult-Adds and parameters
 * plotted are the profiler's for the models actually trained.
 *
 * Each model's run is its own `mobilenet-classify` run folder under <out>/runs: a finished run is
 * cached (its result.json), an unfinished one is resumed (`train --resume`). Ctrl-C or SIGTERM stops
 * the run in progress at a checkpoint; run the same command again to go on.
 *
 * Writes <out>/tradeoff.csv, <out>/accuracy-vs-multadds.png and <out>/accuracy-vs-params.png.
 * Usage: npm run paper:tradeoff -- [--out paper-tradeoff] [--epochs 6] [--sizes 128,96,64,32]
 *          [--alphas 1,0.75,0.5,0.25] [--classes 12] [--images-per-class 300] [--seed 0] [--json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { mobilenetV1, profile } from '@mobilenets/backbone';
import { UsageError, exitWithUsageStatus, formatMillions, formatTable, parseIntegerOption, reportError } from '@mobilenets/cli-kit';
import { setup } from '@mobilenets/runtime';
import { scatterPlotPng } from '../plot';
import { type TradeoffPoint, accuracyVsMultAdds, accuracyVsParams } from './tradeoff-plots';

const ROOT = path.join(__dirname, '..', '..');
const CLASSIFY = path.join(ROOT, 'apps', 'classify', 'bin', 'mobilenet-classify.js');

/** What makes the runs comparable; recorded in <out>/settings.json, and a second invocation must agree. */
interface TradeoffSettings {
  alphas: number[];
  sizes: number[];
  epochs: number;
  classes: number;
  imagesPerClass: number;
  seed: number;
  /** The training flags every run shares. */
  recipe: string[];
}

interface Flags {
  out: string;
  epochs: number;
  sizes: number[];
  alphas: number[];
  classes: number;
  imagesPerClass: number;
  seed: number;
  json?: boolean;
}

/**
 * One recipe for all 16 models: the paper's RMSprop with a cosine decay over the planned epochs (short
 * runs end at a small rate instead of the paper's slow ×0.98 per epoch), label smoothing 0.1 and the
 * app's default crop-and-flip augmentation.
 */
const RECIPE = ['--schedule', 'cosine', '--warmup-steps', '50', '--label-smoothing', '0.1', '--batch', '32'];

interface ModelResult {
  alpha: number;
  inputSize: number;
  multAdds: number;
  params: number;
  top1: number;
  top5: number;
  trainSeconds: number;
  steps: number;
  cached: boolean;
}

const list = (name: string, parse: (s: string) => number) => (value: string) => {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`${name} takes a comma-separated list, e.g. ${name === '--sizes' ? '128,96,64,32' : '1,0.5'}. Received '${value}'.`);
  return items.map(parse);
};

function parseSize(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 32 || n % 32 !== 0) throw new UsageError(`--sizes: each size must be a multiple of 32, at least 32. Received '${s}'.`);
  return n;
}

function parseAlpha(s: string): number {
  const n = Number(s);
  if (!(n > 0 && n <= 2)) throw new UsageError(`--alphas: each width multiplier must be in (0, 2]. Received '${s}'.`);
  return n;
}

const runName = (alpha: number, size: number) => `v1-${alpha}-${size}`;

function writeJsonAtomic(file: string, value: unknown): void {
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(temp, file);
}

function writeFileAtomic(file: string, data: string | Buffer): void {
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, data);
  fs.renameSync(temp, file);
}

/** Records the settings on the first run; later runs must name the same ones (the cache is only valid for them). */
function checkSettings(out: string, settings: TradeoffSettings): void {
  const file = path.join(out, 'settings.json');
  if (!fs.existsSync(file)) {
    const entries = fs.existsSync(out) ? fs.readdirSync(out) : [];
    if (entries.length > 0) throw new UsageError(`--out ${out}: this folder is not empty and holds no settings.json from paper:tradeoff. Give a new or empty folder, or a previous paper:tradeoff folder to continue it.`);
    fs.mkdirSync(out, { recursive: true });
    writeJsonAtomic(file, settings);
    return;
  }
  const recorded = JSON.parse(fs.readFileSync(file, 'utf8')) as TradeoffSettings;
  const differing = (Object.keys(settings) as (keyof TradeoffSettings)[]).filter((k) => JSON.stringify(recorded[k]) !== JSON.stringify(settings[k]));
  if (differing.length > 0) {
    throw new UsageError(
      `--out ${out} holds runs made with other settings (${differing.map((k) => `${k}: ${JSON.stringify(recorded[k])} there, ${JSON.stringify(settings[k])} now`).join('; ')}). ` +
        'Give the recorded settings to continue, or another --out.',
    );
  }
}

let current: ChildProcess | null = null;
let stopping: NodeJS.Signals | null = null;

/** Runs mobilenet-classify, echoing its epoch summaries to stderr with a prefix; resolves to its parsed --json output. */
function classify(args: string[], prefix: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLASSIFY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let stdout = '';
    let pending = '';
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      const lines = (pending + text).split(/\r|\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (/^epoch \d+ done|^generating:.*done|^wrote /.test(line)) process.stderr.write(`${prefix}${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (status) => {
      current = null;
      if (stopping !== null) return reject(new Stopped(stopping));
      if (status !== 0) return reject(new Error(`mobilenet-classify ${args.join(' ')} failed (exit ${status}):\n${tail}`));
      try {
        resolve(stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>));
      } catch {
        reject(new Error(`mobilenet-classify ${args[0]} printed something other than JSON on stdout: ${stdout.slice(0, 500)}`));
      }
    });
  });
}

class Stopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
  }
}

/** The dataset every model trains on, generated once into <out>/data at the largest input size. */
async function ensureData(out: string, s: TradeoffSettings): Promise<string> {
  const data = path.join(out, 'data');
  if (fs.existsSync(path.join(out, 'data.json'))) return data;
  const partial = path.join(out, 'data.partial');
  fs.rmSync(partial, { recursive: true, force: true });
  const size = Math.max(...s.sizes);
  process.stderr.write(`data: ${s.classes} classes × ${s.imagesPerClass} images at ${size} px (mobilenet-classify generate, seed ${s.seed})\n`);
  await classify(['generate', '--out', partial, '--classes', `${s.classes}`, '--images-per-class', `${s.imagesPerClass}`, '--size', `${size}`, '--seed', `${s.seed}`, '--json'], '  ');
  fs.rmSync(data, { recursive: true, force: true });
  fs.renameSync(partial, data);
  writeJsonAtomic(path.join(out, 'data.json'), { classes: s.classes, imagesPerClass: s.imagesPerClass, sizePx: size, seed: s.seed });
  return data;
}

function countModel(alpha: number, inputSize: number, classes: number): { multAdds: number; params: number } {
  const model = mobilenetV1({ widthMultiplier: alpha, inputSize, classes });
  try {
    const p = profile(model);
    return { multAdds: p.multAdds, params: p.params };
  } finally {
    model.dispose();
  }
}

async function trainOne(out: string, data: string, s: TradeoffSettings, alpha: number, size: number, index: number, total: number): Promise<ModelResult> {
  const runDir = path.join(out, 'runs', runName(alpha, size));
  const resultFile = path.join(runDir, 'tradeoff-result.json');
  const counts = countModel(alpha, size, s.classes);
  const label = `[${index + 1}/${total}] V1 ${alpha}-${size}`;
  if (fs.existsSync(resultFile)) {
    const r = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Omit<ModelResult, 'cached'>;
    process.stderr.write(`${label}: cached (top-1 ${(100 * r.top1).toFixed(1)} %)\n`);
    return { ...r, ...counts, cached: true };
  }
  const resuming = fs.existsSync(path.join(runDir, 'run.json'));
  process.stderr.write(`${label}: ${resuming ? 'resuming' : 'training'} (${formatMillions(counts.multAdds)} Mult-Adds, ${formatMillions(counts.params)} params)\n`);
  const args = resuming
    ? ['train', '--resume', runDir, '--json']
    : ['train', '--data', data, '--arch', 'v1', '--alpha', `${alpha}`, '--input-size', `${size}`, '--epochs', `${s.epochs}`, '--seed', `${s.seed}`, ...s.recipe, '--out', runDir, '--json'];
  const r = await classify(args, '    ');
  if (typeof r.top1 !== 'number' || typeof r.top5 !== 'number') throw new Error(`${runDir}: the run ended without a validation result (stopped by ${String(r.stoppedBy)}).`);
  if (r.stoppedBy !== 'epochs') throw new Stopped('SIGINT');
  const result: Omit<ModelResult, 'cached'> = { alpha, inputSize: size, ...counts, top1: r.top1, top5: r.top5, trainSeconds: Number(r.seconds), steps: Number(r.steps) };
  writeJsonAtomic(resultFile, result);
  process.stderr.write(`${label}: top-1 ${(100 * result.top1).toFixed(1)} % in ${result.trainSeconds.toFixed(0)} s\n`);
  return { ...result, cached: false };
}

/** Spearman's rank correlation (ties get their mean rank). */
export function spearman(xs: number[], ys: number[]): number {
  const ranks = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const a = ranks(xs);
  const b = ranks(ys);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ma) * (b[i] - mb);
    da += (a[i] - ma) ** 2;
    db += (b[i] - mb) ** 2;
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

/** Least-squares slope of top-1 against log10(Mult-Adds): points of accuracy gained per tenfold compute. */
function slopePerDecade(points: { multAdds: number; top1: number }[]): number {
  const xs = points.map((p) => Math.log10(p.multAdds));
  const ys = points.map((p) => p.top1);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function csv(results: ModelResult[]): string {
  const header = 'alpha,input_size,mult_adds,params,top1,top5,train_seconds,steps';
  return [header, ...results.map((r) => [r.alpha, r.inputSize, r.multAdds, r.params, r.top1.toFixed(4), r.top5.toFixed(4), r.trainSeconds.toFixed(1), r.steps].join(','))].join('\n') + '\n';
}

async function run(o: Flags): Promise<void> {
  const out = path.resolve(o.out);
  const settings: TradeoffSettings = { alphas: o.alphas, sizes: o.sizes, epochs: o.epochs, classes: o.classes, imagesPerClass: o.imagesPerClass, seed: o.seed, recipe: RECIPE };
  checkSettings(out, settings);
  await setup({ backend: 'cpu', log: null }); // the profiler's models only; training runs in the app's own processes
  const data = await ensureData(out, settings);
  const grid = o.alphas.flatMap((alpha) => o.sizes.map((size) => ({ alpha, size })));
  const results: ModelResult[] = [];
  for (const [i, { alpha, size }] of grid.entries()) results.push(await trainOne(out, data, settings, alpha, size, i, grid.length));

  const points: TradeoffPoint[] = results.map((r) => ({ alpha: r.alpha, inputSize: r.inputSize, multAdds: r.multAdds, params: r.params, top1: r.top1 }));
  const caption = `MobileNetV1 from scratch, ${o.classes} generated classes × ${o.imagesPerClass}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'} each`;
  writeFileAtomic(path.join(out, 'tradeoff.csv'), csv(results));
  writeFileAtomic(path.join(out, 'accuracy-vs-multadds.png'), await scatterPlotPng(accuracyVsMultAdds(points, `Top-1 against Mult-Adds: ${caption}`)));
  writeFileAtomic(path.join(out, 'accuracy-vs-params.png'), await scatterPlotPng(accuracyVsParams(points, `Top-1 against parameters: ${caption}`)));
  const rho = spearman(results.map((r) => r.multAdds), results.map((r) => r.top1));
  const slope = slopePerDecade(results);

  if (o.json) {
    process.stdout.write(`${JSON.stringify({ out, settings, models: results, spearmanMultAddsTop1: rho, top1PerDecadeOfMultAdds: slope })}\n`);
    return;
  }
  const sorted = [...results].sort((a, b) => b.multAdds - a.multAdds);
  process.stdout.write(
    `${caption}; recipe: ${RECIPE.join(' ')}\n` +
      `${formatTable(sorted, [
        { header: 'model', value: (r) => `${r.alpha} MobileNet-${r.inputSize}` },
        { header: 'Mult-Adds', value: (r) => formatMillions(r.multAdds), align: 'right' },
        { header: 'params', value: (r) => formatMillions(r.params), align: 'right' },
        { header: 'top-1', value: (r) => `${(100 * r.top1).toFixed(1)} %`, align: 'right' },
        { header: 'top-5', value: (r) => `${(100 * r.top5).toFixed(1)} %`, align: 'right' },
        { header: 'training s', value: (r) => r.trainSeconds.toFixed(0), align: 'right' },
      ])}\n` +
      `rank correlation of Mult-Adds and top-1 (Spearman): ${rho.toFixed(2)}; least-squares slope: ${(100 * slope).toFixed(1)} points of top-1 per tenfold Mult-Adds\n` +
      `wrote ${path.join(out, 'tradeoff.csv')}, accuracy-vs-multadds.png, accuracy-vs-params.png\n`,
  );
}

function main(): void {
  const program = new Command('paper:tradeoff')
    .description("Figures 4 and 5 of the MobileNetV1 paper for our data: 16 α × resolution models trained with one recipe, top-1 against Mult-Adds and parameters")
    .option('--out <dir>', 'folder for the data, the 16 run folders (cached, resumable), the CSV and the plots', 'paper-tradeoff')
    .addOption(new Option('--epochs <n>', 'epochs per model').argParser(parseIntegerOption('--epochs', 1)).default(6))
    .addOption(new Option('--sizes <list>', "input sizes, the paper's 224,192,160,128 scaled down (multiples of 32)").argParser(list('--sizes', parseSize)).default([128, 96, 64, 32]))
    .addOption(new Option('--alphas <list>', 'width multipliers').argParser(list('--alphas', parseAlpha)).default([1, 0.75, 0.5, 0.25]))
    .addOption(new Option('--classes <n>', 'classes of the generated dataset (2–12)').argParser(parseIntegerOption('--classes', 2)).default(12))
    .addOption(new Option('--images-per-class <n>', 'images per class').argParser(parseIntegerOption('--images-per-class', 10)).default(300))
    .addOption(new Option('--seed <n>', 'seed of the data, the split and every run').argParser(parseIntegerOption('--seed')).default(0))
    .option('--json', 'print one JSON object: settings, the models, the rank correlation and the slope')
    .action(async (o: Flags) => run(o));
  exitWithUsageStatus(program);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping !== null) return;
      stopping = signal;
      process.stderr.write(`\n${signal}: stopping the run in progress at a checkpoint; run the same command again to go on\n`);
      if (current !== null) current.kill(signal);
      else process.exit(130);
    });
  }
  program.parseAsync(process.argv).catch((error: unknown) => {
    process.exitCode = error instanceof Stopped ? 130 : reportError(error);
  });
}

if (require.main === module) main();
