/** report.md from a report's data: the machine, the section times, one table per section with ratios. */
import type { DetectionLatencyRow } from '../detection-latency';
import type { BenchReport, InferenceModel, TrainingRow } from './types';

/** The plot report.md shows, written next to it. */
export const PLOT_FILE = 'latency-vs-multadds.png';

const ONNX_FP32 = 'onnxruntime fp32';
const ONNX_ENGINE = 'onnxruntime engine';

type Align = 'left' | 'right';

function markdownTable<T>(rows: readonly T[], columns: { header: string; value: (row: T) => string; align?: Align }[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(columns.map((c) => c.header)),
    line(columns.map((c) => (c.align === 'right' ? '---:' : '---'))),
    ...rows.map((row) => line(columns.map((c) => c.value(row).replace(/\|/g, '\\|')))),
  ].join('\n');
}

const millions = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`);
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const ratio = (value: number) => `${value >= 10 ? value.toFixed(0) : value >= 0.1 ? value.toFixed(2) : value.toPrecision(2)}×`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const duration = (seconds: number) => (seconds >= 60 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${seconds.toFixed(1)} s`);

function machineSection(r: BenchReport): string {
  const m = r.machine;
  const rows: [string, string][] = [
    ['CPU', m.cpu],
    ...(m.vectorExtensions === undefined ? [] : [['vector extensions', m.vectorExtensions.join(', ') || 'none found'] as [string, string]]),
    ['cores', `${m.cores}`],
    ['memory', `${m.memoryGiB.toFixed(1)} GiB`],
    ['OS', m.os],
    ['Node.js', m.node],
    ['onnxruntime-node', m.onnxruntime],
    ['tfjs', `${m.tfjs} (backends: ${m.tfjsBackends.join(', ')})`],
    ['load average at start (1 min)', m.loadAverageAtStart.toFixed(2)],
  ];
  return `## Machine\n\n${markdownTable(rows, [{ header: '', value: ([k]) => k }, { header: '', value: ([, v]) => v }])}`;
}

function sectionTimes(r: BenchReport): string {
  const total = r.sections.reduce((sum, s) => sum + s.seconds, 0);
  return `## Section times\n\n${markdownTable(r.sections, [
    { header: 'section', value: (s) => s.section },
    { header: 'time', value: (s) => duration(s.seconds), align: 'right' },
    { header: 'budget', value: (s) => duration(s.budgetSeconds), align: 'right' },
    { header: 'left out (budget or stop)', value: (s) => (s.skipped.length === 0 ? '—' : s.skipped.join('; ')) },
  ])}\n\nTotal: ${duration(total)}.`;
}

/** The engines in the order they first appear, onnxruntime fp32 first (the ratios' reference). */
function engineOrder(models: readonly InferenceModel[]): string[] {
  const engines = [...new Set(models.flatMap((m) => m.latency.map((l) => l.engine)))];
  return [ONNX_FP32, ...engines.filter((e) => e !== ONNX_FP32)].filter((e) => engines.includes(e));
}

function inferenceSection(r: BenchReport): string {
  const s = r.inference;
  const engines = engineOrder(s.models);
  const latency = (m: InferenceModel, engine: string) => m.latency.find((l) => l.engine === engine);
  const columns: { header: string; value: (m: InferenceModel) => string; align?: Align }[] = [
    { header: 'model', value: (m) => m.model },
    { header: 'Mult-Adds', value: (m) => millions(m.multAdds), align: 'right' },
    { header: 'params', value: (m) => millions(m.params), align: 'right' },
  ];
  for (const engine of engines) {
    columns.push({ header: `${engine} ms`, value: (m) => { const l = latency(m, engine); return l === undefined ? '—' : ms(l.msPerImage); }, align: 'right' });
    if (engine === ONNX_FP32) continue;
    columns.push({
      header: `× fp32`,
      value: (m) => {
        const [l, base] = [latency(m, engine), latency(m, ONNX_FP32)];
        return l === undefined || base === undefined ? '—' : ratio(l.msPerImage / base.msPerImage);
      },
      align: 'right',
    });
  }
  const budgets = Object.entries(s.budgetMsPerEngine).map(([engine, budget]) => `${engine} ${(budget / 1000).toFixed(0)} s`).join(', ');
  return [
    '## 1. Inference latency per image',
    '',
    `Batch 1, median of up to ${s.runs} timed runs after ${plural(s.warmup, 'warm-up run')} (per engine and model, timing stops after: ${budgets}; at least 3 runs). ` +
      `onnxruntime-node with ${s.threads} intra-op threads; int8 is the QDQ export calibrated on random inputs (speed only). ` +
      `tfjs cpu only on ${s.cpuModels.length === 0 ? 'no model' : s.cpuModels.join(', ')} (hundreds of times slower). ` +
      'Mult-Adds and params from the profiler (1000 classes). × fp32: ms per image over onnxruntime fp32\'s, this run.',
    '',
    markdownTable(s.models, columns),
    '',
    `![latency against Mult-Adds](${PLOT_FILE})`,
  ].join('\n');
}

function trainingSection(r: BenchReport): string {
  const rows = r.training.rows;
  const reference = (row: TrainingRow) => rows.find((x) => x.model === row.model && x.engine === ONNX_ENGINE);
  return [
    '## 2. Training throughput',
    '',
    "Random images, the paper's recipe (RMSprop, weight decay 4e-5), 10 classes; images/s over the timed steps after the warm-up steps. " +
      '× onnxruntime engine: images/s over the onnxruntime engine\'s for the same model, this run (tfjs cpu trains a smaller batch).',
    '',
    markdownTable(rows, [
      { header: 'model', value: (x) => x.model },
      { header: 'engine', value: (x) => x.engine },
      { header: 'batch', value: (x) => `${x.batch}`, align: 'right' },
      { header: 'steps (warm-up)', value: (x) => `${x.steps} (${x.warmupSteps})`, align: 'right' },
      { header: 'images/s', value: (x) => (x.imagesPerSecond >= 10 ? x.imagesPerSecond.toFixed(1) : x.imagesPerSecond.toPrecision(2)), align: 'right' },
      { header: 'ms/step', value: (x) => x.msPerStep.toFixed(0), align: 'right' },
      { header: '× onnxruntime engine', value: (x) => { const base = reference(x); return base === undefined ? '—' : ratio(x.imagesPerSecond / base.imagesPerSecond); }, align: 'right' },
    ]),
  ].join('\n');
}

function detectionSection(r: BenchReport): string {
  const d = r.detection;
  // Post-processing is a difference of medians timed apart: at or below zero, it is lost in their noise.
  const postMs = (x: DetectionLatencyRow) => x.endToEndMs - x.preprocessMs - x.networkMs;
  const post = (x: DetectionLatencyRow) => (postMs(x) > 0 ? ms(postMs(x)) : '≈ 0');
  return [
    '## 3. Detection, end to end on onnxruntime',
    '',
    `fp32, batch 1, on ${d.image}: pre-processing (resize and scale in TypeScript: Lanczos-3 as sharp resizes training images for our detectors, bilinear for face-api's), the network, and detect() end to end (min score ${d.minScore}); ` +
      `post-processing (decoding and NMS) is end to end minus the other two (≈ 0: within the noise of the other medians; fresh weights keep few boxes above the score threshold). Medians of up to ${d.runs} runs after ${plural(d.warmup, 'warm-up')}. ` +
      'Fresh seeded weights except face-api\'s detector (latency does not depend on the weights).',
    '',
    markdownTable(d.rows, [
      { header: 'detector', value: (x) => x.model },
      { header: 'input', value: (x) => `${x.inputSize}`, align: 'right' },
      { header: 'anchors', value: (x) => `${x.anchors}`, align: 'right' },
      { header: 'Mult-Adds', value: (x) => millions(x.multAdds), align: 'right' },
      { header: 'params', value: (x) => millions(x.params), align: 'right' },
      { header: 'pre ms', value: (x) => ms(x.preprocessMs), align: 'right' },
      { header: 'network ms', value: (x) => ms(x.networkMs), align: 'right' },
      { header: 'post ms', value: post, align: 'right' },
      { header: 'end-to-end ms', value: (x) => ms(x.endToEndMs), align: 'right' },
      { header: '× network', value: (x) => ratio(x.endToEndMs / x.networkMs), align: 'right' },
    ]),
  ].join('\n');
}

export function renderMarkdown(r: BenchReport): string {
  const title = `# MobileNets.ts benchmark report${r.quick ? ' (quick smoke run: few models and runs, not for quoting)' : ''}`;
  return [
    title,
    `Measured ${r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} by \`npm run bench${r.quick ? ' -- --quick' : ''}\`, all sections in one run on the machine below.`,
    machineSection(r),
    sectionTimes(r),
    inferenceSection(r),
    trainingSection(r),
    detectionSection(r),
  ].join('\n\n') + '\n';
}
