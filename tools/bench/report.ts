/**
 * `npm run bench`: one report of this machine's speed, all measured in one run — inference latency of
 * classifiers on onnxruntime fp32 and int8 and on each tfjs backend, training images/s on each engine,
 * detectors end to end on onnxruntime — as report.md, report.json and latency-vs-multadds.png.
 * What each run measures and the section budgets: report/plan.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '@mobilenets/cli-kit';
import { latencyPlotPng } from './report/latency-plot';
import { PLOT_FILE, renderMarkdown } from './report/markdown';
import { FULL_PLAN, QUICK_PLAN } from './report/plan';
import { StopRequested } from './report/section';
import { type BenchReport, REPORT_KIND } from './report/types';

const USAGE = `Usage: npm run bench -- [options]

Measures this machine's speed in one run and writes report.md, report.json and ${PLOT_FILE}:
  1. inference latency per image (batch 1) of MobileNetV1/V2 classifiers on onnxruntime fp32 and int8
     and on each tfjs backend, with the profiler's Mult-Adds and params;
  2. training images/s on the onnxruntime engine and tfjs (in process, data-parallel workers, cpu);
  3. detectors end to end on onnxruntime (pre-processing, network, post-processing).
A full run takes at most ~30 min on a 2-core machine (each section has a budget); run it on a quiet machine.
Progress goes to stderr.

Options:
  --out DIR        where to write the report (default: bench-report/ in the current directory);
                   a non-empty folder that holds no previous report is refused unless --overwrite
  --overwrite      write into --out even if it holds other files (the report's three files are replaced)
  --quick          smoke run (~1–2 min): two small models, one training config, one detector, few runs
  --json           also print the report's JSON object on stdout
  --render FILE    measure nothing: write report.md and the plot again from a report.json
  --help           this text

SIGINT/SIGTERM stop the run after the current measurement, writing nothing (a second one quits at once).`;

const REPORT_FILES = ['report.md', 'report.json', PLOT_FILE];

interface Args {
  out: string;
  overwrite: boolean;
  quick: boolean;
  json: boolean;
  render: string | null;
}

function parseArgs(argv: string[]): Args | 'help' {
  const args: Args = { out: 'bench-report', overwrite: false, quick: false, json: false, render: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value (see --help)`);
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value (see --help)`);
      return true;
    };
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--out') args.out = value();
    else if (flag === '--render') args.render = value();
    else if (flag === '--overwrite') args.overwrite = noValue();
    else if (flag === '--quick') args.quick = noValue();
    else if (flag === '--json') args.json = noValue();
    else throw new UsageError(`unknown ${flag.startsWith('-') ? 'option' : 'argument'} '${argv[i]}'; the options are --out DIR, --overwrite, --quick, --json, --render FILE, --help`);
  }
  return args;
}

function isReport(value: unknown): value is BenchReport {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === REPORT_KIND;
}

/** Before measuring: the folder is absent, empty, a previous report, or --overwrite was given. */
function checkOutputFolder(dir: string, overwrite: boolean): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} is a file; give a folder for the report`);
  if (overwrite || fs.readdirSync(dir).length === 0) return;
  const previous = path.join(dir, 'report.json');
  let isPrevious = false;
  try {
    isPrevious = isReport(JSON.parse(fs.readFileSync(previous, 'utf8')));
  } catch {
    isPrevious = false;
  }
  if (!isPrevious) throw new UsageError(`--out ${dir} is not empty and holds no previous report (report.json); pick another folder or add --overwrite`);
}

/** Renders every file first, then writes each to a temporary name and renames it: no half-written report. */
async function writeReport(dir: string, report: BenchReport): Promise<void> {
  const contents: [string, string | Buffer][] = [
    ['report.md', renderMarkdown(report)],
    ['report.json', `${JSON.stringify(report, null, 2)}\n`],
    [PLOT_FILE, await latencyPlotPng(report)],
  ];
  fs.mkdirSync(dir, { recursive: true });
  const temporary = (name: string) => path.join(dir, `.${name}.${process.pid}.tmp`);
  try {
    for (const [name, content] of contents) fs.writeFileSync(temporary(name), content);
    for (const [name] of contents) fs.renameSync(temporary(name), path.join(dir, name));
  } finally {
    for (const name of REPORT_FILES) fs.rmSync(temporary(name), { force: true });
  }
}

/** The first SIGINT/SIGTERM asks the run to stop after the current measurement; a second quits at once. */
function listenForStop(): () => string | null {
  let received: string | null = null;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (received !== null) process.exit(signal === 'SIGINT' ? 130 : 143);
      received = signal;
      process.stderr.write(`\n${signal}: stopping after the current measurement, writing no report (again to quit at once)\n`);
    });
  }
  return () => received;
}

function readReport(file: string): BenchReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new UsageError(`--render ${file}: cannot read it as JSON`, { cause });
  }
  if (!isReport(parsed)) throw new UsageError(`--render ${file}: not a report.json written by npm run bench (no "kind": "${REPORT_KIND}")`);
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Under `npm run bench` the working directory is the workspace's root: relative paths are the caller's.
  const base = process.env.npm_lifecycle_event === 'bench' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  const out = path.resolve(base, args.out);
  let report: BenchReport;
  if (args.render !== null) {
    const input = path.resolve(base, args.render);
    report = readReport(input);
    if (input !== path.join(out, 'report.json')) checkOutputFolder(out, args.overwrite);
  } else {
    checkOutputFolder(out, args.overwrite);
    const stopSignal = listenForStop();
    const { measureAll } = require('./report/measure') as typeof import('./report/measure'); // the engines load only when measuring
    const started = performance.now();
    try {
      report = await measureAll(args.quick ? QUICK_PLAN : FULL_PLAN, args.quick, stopSignal);
    } catch (error) {
      if (error instanceof StopRequested) {
        process.stderr.write(`${error.message}\n`);
        return error.signal === 'SIGINT' ? 130 : 143;
      }
      throw error;
    }
    process.stderr.write(`measured in ${((performance.now() - started) / 60_000).toFixed(1)} min\n`);
  }
  await writeReport(out, report);
  process.stderr.write(`wrote ${REPORT_FILES.map((f) => path.join(out, f)).join(', ')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = require('@mobilenets/cli-kit').reportError(error);
  },
);
