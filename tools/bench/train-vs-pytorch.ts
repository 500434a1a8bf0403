/**
 * Training speed against PyTorch's, in one run (issue 11, "Training at PyTorch's speed"): for each
 * configuration, round by round, `mobilenet bench train` (a subprocess, random data, the paper's recipe)
 * and then tools/bench/torch_train_bench.py (the same model, loss, optimizer and batch in PyTorch, run with
 * Debian's python3-torch under /usr/bin/python3 — an optional comparison, never a dependency of the
 * project or its tests). Alternating the two in one run means both see the same machine load.
 *
 * Reported per configuration: the median images/s of each side over the rounds, the ratio ours/PyTorch of
 * each round with its median and min–max, and the peak RSS of each (the largest over the rounds). The
 * issue's target: ratio ≥ 0.9 for V1 0.25-128 b32 and V1 1.0-224 b16.
 *
 * Usage: npm run bench:train-vs-torch -- [options]
 *   node -r ./tools/ts-register.js tools/bench/train-vs-pytorch.ts [options]
 *   --configs v1-0.25-128-b32,v1-1-224-b16,v2-1-224-b16   (default: these three; arch-alpha-size-bBATCH)
 *   --rounds N            rounds per configuration (default 3)
 *   --quick               fewer steps (a smoke test, noisy)
 *   --steps N --warmup N  timed and untimed steps of every run (default: by configuration, see stepsFor)
 *   --ours-args "…"       extra arguments of `mobilenet bench train`, e.g. "--workers 2" (split on spaces)
 *   --torch-args "…"      extra arguments of torch_train_bench.py, e.g. "--memory-format auto"
 *   --threads N           PyTorch's threads (default 2)
 *   --python PATH         the interpreter with torch (default /usr/bin/python3)
 *   --json                one JSON object on stdout instead of the table
 * Progress goes to stderr.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatTable } from '@mobilenets/cli-kit';

const ROOT = path.resolve(__dirname, '..', '..');
const OURS_BIN = path.join(ROOT, 'apps', 'mobilenet', 'bin', 'mobilenet.js');
const TORCH_SCRIPT = path.join(ROOT, 'tools', 'bench', 'torch_train_bench.py');
const DEFAULT_CONFIGS = ['v1-0.25-128-b32', 'v1-1-224-b16', 'v2-1-224-b16'];
/** Issue 11's target: ours ≥ 0.9 × PyTorch's images/s. */
const TARGET_RATIO = 0.9;
const CLASSES = 10;

interface Config {
  name: string;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  batch: number;
}

/** What either side's benchmark prints (the fields both have). */
interface RunResult {
  imagesPerSecond: number;
  msPerStep: number;
  peakRssMiB: number;
  [key: string]: unknown;
}

interface Round {
  ours: RunResult;
  torch: RunResult;
  ratio: number;
}

interface Summary {
  config: Config;
  steps: number;
  warmup: number;
  rounds: Round[];
  ours: { imagesPerSecond: number; peakRssMiB: number };
  torch: { imagesPerSecond: number; peakRssMiB: number; memoryFormat: unknown };
  ratio: { median: number; min: number; max: number; perRound: number[] };
}

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const i = args.lastIndexOf(flag);
  if (i === -1) return undefined;
  if (args[i + 1] === undefined) throw new Error(`${flag} needs a value`);
  return args[i + 1];
};
const integer = (flag: string, min: number): number | undefined => {
  const text = value(flag);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}. Received '${text}'.`);
  return n;
};
const words = (text: string | undefined) => (text ?? '').split(/\s+/).filter((w) => w !== '');

function parseConfig(name: string): Config {
  const m = /^(v1|v2)-(\d+(?:\.\d+)?)-(\d+)-b(\d+)$/.exec(name);
  if (m === null) throw new Error(`--configs: '${name}' is not arch-alpha-size-bBATCH, e.g. v1-0.25-128-b32`);
  return { name, arch: m[1] as 'v1' | 'v2', alpha: Number(m[2]), inputSize: Number(m[3]), batch: Number(m[4]) };
}

/** Steps per run: ~3-8 s of timed steps on a 2-core machine for each side; --quick: a smoke test. */
function stepsFor(c: Config, quick: boolean): { steps: number; warmup: number } {
  const small = c.alpha * c.alpha * c.inputSize * c.inputSize * c.batch < 0.1 * 224 * 224 * 16;
  if (quick) return { steps: small ? 5 : 2, warmup: 1 };
  // About 10 s of timed steps a side: with 3 s (20 steps at 0.25-128) a round's ratio moved by ±0.1 on a quiet machine.
  return { steps: small ? 60 : 10, warmup: small ? 5 : 2 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Runs a benchmark subprocess and returns the JSON object of its last stdout line. */
function run(label: string, command: string, commandArgs: string[]): RunResult {
  const started = performance.now();
  const r = spawnSync(command, commandArgs, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const fail = (why: string) =>
    new Error(`${label} failed (${why}): ${[command, ...commandArgs].join(' ')}\n${(r.stderr ?? '').trim().split('\n').slice(-20).join('\n')}`);
  if (r.error) throw fail(r.error.message);
  if (r.status !== 0) throw fail(r.signal === null ? `exit code ${r.status}` : `signal ${r.signal}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw fail('no JSON on stdout');
  const result = JSON.parse(line) as RunResult;
  if (!(result.imagesPerSecond > 0)) throw fail(`no imagesPerSecond in ${line.slice(0, 200)}`);
  process.stderr.write(`  ${label}: ${result.imagesPerSecond.toFixed(1)} images/s (${result.msPerStep.toFixed(0)} ms/step), peak RSS ${result.peakRssMiB.toFixed(0)} MiB, ${((performance.now() - started) / 1000).toFixed(0)} s in all\n`);
  return result;
}

function torchVersion(python: string): string {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').pop() || `exit code ${r.status}`;
    process.stderr.write(
      `error: ${python} cannot import torch (${why}).\n` +
        `This comparison is optional and needs Debian's python3-torch: sudo apt-get install python3-torch (or --python PATH).\n`,
    );
    process.exit(1);
  }
  return r.stdout.trim();
}

function main(): void {
  const json = args.includes('--json');
  const quick = args.includes('--quick');
  const rounds = integer('--rounds', 1) ?? 3;
  const threads = integer('--threads', 1) ?? 2;
  const stepsOverride = integer('--steps', 1);
  const warmupOverride = integer('--warmup', 0);
  const python = value('--python') ?? '/usr/bin/python3';
  const oursArgs = words(value('--ours-args'));
  const torchArgs = words(value('--torch-args'));
  const configs = (value('--configs')?.split(',').filter((c) => c !== '') ?? DEFAULT_CONFIGS).map(parseConfig);
  const torch = torchVersion(python);
  process.stderr.write(`PyTorch ${torch} (${python}, ${threads} threads) against mobilenet bench train${oursArgs.length > 0 ? ` ${oursArgs.join(' ')}` : ''}; ${rounds} round(s), ${os.cpus().length} CPUs\n`);

  const summaries: Summary[] = [];
  for (const c of configs) {
    const defaults = stepsFor(c, quick);
    const steps = stepsOverride ?? defaults.steps;
    const warmup = warmupOverride ?? defaults.warmup;
    const common = ['--arch', c.arch, '--alpha', String(c.alpha), '--input-size', String(c.inputSize), '--batch', String(c.batch), '--steps', String(steps), '--warmup', String(warmup), '--classes', String(CLASSES)];
    const oursCommand = [OURS_BIN, 'bench', 'train', ...common, '--no-cpu', '--json', ...oursArgs];
    const torchCommand = [TORCH_SCRIPT, ...common, '--threads', String(threads), '--json', ...torchArgs];
    const done: Round[] = [];
    for (let i = 0; i < rounds; i++) {
      process.stderr.write(`${c.name}, round ${i + 1}/${rounds} (${steps} timed steps after ${warmup} warm-up):\n`);
      const ours = run('ours', process.execPath, oursCommand);
      const theirs = run('PyTorch', python, torchCommand);
      done.push({ ours, torch: theirs, ratio: ours.imagesPerSecond / theirs.imagesPerSecond });
    }
    const ratios = done.map((r) => r.ratio);
    summaries.push({
      config: c,
      steps,
      warmup,
      rounds: done,
      ours: { imagesPerSecond: median(done.map((r) => r.ours.imagesPerSecond)), peakRssMiB: Math.max(...done.map((r) => r.ours.peakRssMiB)) },
      torch: {
        imagesPerSecond: median(done.map((r) => r.torch.imagesPerSecond)),
        peakRssMiB: Math.max(...done.map((r) => r.torch.peakRssMiB)),
        memoryFormat: done[0].torch.memoryFormat,
      },
      ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), perRound: ratios },
    });
  }

  if (json) {
    process.stdout.write(
      `${JSON.stringify({ torch, python, threads, oursArgs, torchArgs, rounds, quick, target: TARGET_RATIO, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, configs: summaries })}\n`,
    );
    return;
  }
  process.stdout.write(
    `${formatTable(summaries, [
      { header: 'config', value: (s) => s.config.name },
      { header: 'steps', value: (s) => `${s.steps}+${s.warmup}`, align: 'right' },
      { header: 'ours img/s', value: (s) => s.ours.imagesPerSecond.toFixed(1), align: 'right' },
      { header: 'PyTorch img/s', value: (s) => s.torch.imagesPerSecond.toFixed(1), align: 'right' },
      { header: 'ours/PyTorch', value: (s) => s.ratio.median.toFixed(2), align: 'right' },
      { header: 'min–max', value: (s) => `${s.ratio.min.toFixed(2)}–${s.ratio.max.toFixed(2)}`, align: 'right' },
      { header: 'per round', value: (s) => s.ratio.perRound.map((r) => r.toFixed(2)).join(' ') },
      { header: `≥ ${TARGET_RATIO}`, value: (s) => (s.ratio.median >= TARGET_RATIO ? 'yes' : 'no') },
      { header: 'ours RSS MiB', value: (s) => s.ours.peakRssMiB.toFixed(0), align: 'right' },
      { header: 'PyTorch RSS MiB', value: (s) => s.torch.peakRssMiB.toFixed(0), align: 'right' },
    ])}\n\n` +
      `Medians over ${rounds} round(s), each ours then PyTorch; the ratio is per round (ours/PyTorch images/s). ` +
      `Ours: mobilenet bench train${oursArgs.length > 0 ? ` ${oursArgs.join(' ')}` : ''}. ` +
      `PyTorch ${torch}, ${threads} threads, ${[...new Set(summaries.map((s) => String(s.torch.memoryFormat)))].join('/')}${torchArgs.length > 0 ? `, ${torchArgs.join(' ')}` : ''}. ` +
      `Peak RSS: the largest of the rounds.\n`,
  );
}

try {
  main();
} catch (error) {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
}
