/** `mobilenet bench train`: training images/s on random data, per-kernel breakdown, and the cpu backend for scale. */
import { spawnSync } from 'node:child_process';
import { Command, Option } from 'commander';
import { BACKEND_PREFERENCE, BackendName, StepProfile, StepProfilePart, TRAINING_ENGINE_ENV, TrainBenchResult, TrainingBatchPlan, benchmarkTraining, defaultTrainingEngine, profileTrainingStep } from '@mobilenets/runtime';
import { addArchitectureOptions, ArchitectureOptions, buildMobileNet, formatTable, parseChoiceOption, parseIntegerOption, rangeErrorsAsUsage, UsageError } from '@mobilenets/cli-kit';
import { benchProgress } from '../bench-progress';

interface BenchTrainOptions extends ArchitectureOptions {
  batch: number;
  steps: number;
  warmup: number;
  backend?: BackendName;
  workers: number;
  accumulate?: number;
  cpu: boolean;
  cpuBatch?: number;
  json?: boolean;
  engine?: 'tfjs' | 'onnx' | 'both';
  spin?: boolean;
  profile?: boolean;
  splitLoss?: boolean;
}

export function benchTrainCommand(): Command {
  return addArchitectureOptions(new Command('train'), { classes: true, head: true })
    .description("training throughput on random data with the paper's recipe (RMSprop 0.045/0.9/0.9/ε=1, weight decay 4e-5)")
    .addOption(new Option('--batch <n>', 'images per optimizer step').argParser(parseIntegerOption('--batch', 1)).default(32))
    .addOption(new Option('--steps <n>', 'timed steps').argParser(parseIntegerOption('--steps', 1)).default(10))
    .addOption(new Option('--warmup <n>', 'untimed steps first').argParser(parseIntegerOption('--warmup', 0)).default(2))
    .addOption(new Option('--backend <name>', 'tfjs backend (default: the best available)').argParser(parseChoiceOption('--backend', BACKEND_PREFERENCE)))
    .addOption(new Option('--workers <n>', 'data-parallel worker threads (1: in this process)').argParser(parseIntegerOption('--workers', 1)).default(1))
    .addOption(
      new Option('--accumulate <k>', 'split each step into k micro-batches whose gradients are averaged (default: 1, or as many as the batch needs to fit in memory)').argParser(
        parseIntegerOption('--accumulate', 1),
      ),
    )
    .addOption(new Option('--engine <name>', `tfjs: tfjs autodiff on the backend (in process or --workers); onnx: the onnxruntime training engine (steps compiled to ONNX, native kernels); both: one after the other, each in its own process (its own peak RSS), and their ratio. Default: the engine the training apps use (onnx, or the ${TRAINING_ENGINE_ENV} environment variable: ort or tfjs)`).argParser(parseChoiceOption('--engine', ['tfjs', 'onnx', 'both'] as const)))
    .option('--profile', "onnx engine: also profile the compiled step with onnxruntime's profiler (time by role and by operator)")
    .option('--spin', "onnx engine: onnxruntime's threads spin while waiting (10–20 % faster on an idle machine, much slower on a busy one)")
    .option('--split-loss', "onnx engine: the step split around the task's tfjs loss (a compiled forward half, then the backward half), as for a loss without a step-graph form: what the split costs")
    .option('--no-cpu', "tfjs engine: skip the cpu backend's measurement (the onnx engine never takes it: minutes per step at 224 px, and no kernel of its own to scale)")
    .addOption(new Option('--cpu-batch <n>', 'batch for the (slow) cpu measurement; default min(batch, 4)').argParser(parseIntegerOption('--cpu-batch', 1)))
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  mobilenet bench train --arch v1 --alpha 0.25 --input-size 128 --batch 32\n  mobilenet bench train --arch v1 --alpha 1 --input-size 224 --batch 16 --json\n  mobilenet bench train --engine tfjs --workers 2 --arch v1 --alpha 0.25 --input-size 128\n\nBefore training, the step\'s peak memory is estimated: a batch that does not fit (the wasm heap\'s 4 GiB, or\nthe memory available) is split into accumulated micro-batches, and said so on stderr.')
    .action(async (o: BenchTrainOptions) => {
      o.engine ??= rangeErrorsAsUsage(() => defaultTrainingEngine(), TRAINING_ENGINE_ENV);
      if (o.engine === 'onnx') refuseTfjsOnlyOptions(o);
      if (o.engine === 'both') {
        benchBothEngines(o);
        return;
      }
      const build = () => buildMobileNet({ ...o, classes: o.classes === 1000 ? 10 : o.classes });
      // Progress and the memory plan go to stderr, with --json too: stdout carries only the result.
      const onPlan = (plan: TrainingBatchPlan) => {
        if (plan.message !== null) process.stderr.write(`${plan.message}\n`);
      };
      const mode = o.engine === 'onnx' ? 'onnxruntime engine' : o.workers === 1 ? 'in process' : `${o.workers} workers`;
      const main = await benchmarkTraining({
        build, batch: o.batch, steps: o.steps, warmup: o.warmup, backend: o.backend, workers: o.workers, accumulate: o.accumulate,
        profile: o.engine === 'tfjs' && o.workers === 1, onPlan, onProgress: benchProgress(`training (${mode})`), engine: o.engine, spin: o.spin === true, splitLoss: o.splitLoss === true,
      });
      let cpu: TrainBenchResult | null = null;
      if (o.cpu && o.engine === 'tfjs' && main.backend !== 'cpu') {
        const batch = o.cpuBatch ?? Math.min(o.batch, 4);
        cpu = await benchmarkTraining({ build, batch, steps: 1, warmup: 0, backend: 'cpu', workers: 1, profile: false, onPlan, onProgress: benchProgress(`cpu backend, batch ${batch}`) });
      }
      const ratio = cpu === null ? null : main.imagesPerSecond / cpu.imagesPerSecond;
      let profile: StepProfile | null = null;
      if (o.profile && o.engine === 'onnx') {
        process.stderr.write('profiling the compiled step (onnxruntime profiler, 2 steps)…\n');
        const model = build();
        try {
          profile = await profileTrainingStep(model, { batch: o.batch, steps: 2 });
        } finally {
          model.dispose();
        }
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...main, cpuImagesPerSecond: cpu?.imagesPerSecond ?? null, cpuBatch: cpu?.batch ?? null, speedupOverCpu: ratio, profile })}\n`);
        return;
      }
      process.stdout.write(`${describe(o, main, cpu, ratio)}${profile === null ? '' : `\n\n${describeProfile(profile)}`}\n`);
    });
}

/** The tfjs engine's layout flags, each with a value: refused on the onnx engine, left out of `--engine both`'s onnx run. */
const TFJS_ONLY_FLAGS = ['--workers', '--accumulate', '--backend', '--cpu-batch'];

/**
 * The onnx engine runs the whole batch as one graph on onnxruntime's threads: the tfjs engine's layout
 * options would be silently ignored, so naming one without `--engine tfjs` is a usage error.
 */
function refuseTfjsOnlyOptions(o: BenchTrainOptions): void {
  const named = [
    o.workers !== 1 ? `--workers ${o.workers}` : null,
    o.accumulate !== undefined ? `--accumulate ${o.accumulate}` : null,
    o.backend !== undefined ? `--backend ${o.backend}` : null,
    o.cpuBatch !== undefined ? `--cpu-batch ${o.cpuBatch}` : null,
  ].filter((x): x is string => x !== null);
  if (named.length > 0) {
    throw new UsageError(`${named.join(', ')}: tfjs engine option${named.length > 1 ? 's' : ''}, but this measures the onnxruntime engine (the default). Add --engine tfjs (or --engine both) to measure the tfjs engine.`);
  }
}

/** The compiled step's time by role and by operator (the 12 largest). */
function describeProfile(p: StepProfile): string {
  const columns = [
    { header: 'part', value: (r: StepProfilePart) => r.name },
    { header: 'ms/step', value: (r: StepProfilePart) => r.msPerStep.toFixed(1), align: 'right' as const },
    { header: '%', value: (r: StepProfilePart) => r.percent.toFixed(1), align: 'right' as const },
  ];
  return [
    `the compiled step under onnxruntime's profiler: ${p.msPerStep.toFixed(0)} ms/step (profiling slows it a little)`,
    formatTable(p.byRole, columns),
    '',
    formatTable(p.byOperator.slice(0, 12), columns),
  ].join('\n');
}

/** --engine both: each engine in a child process of this command (each its own peak RSS), then their ratio. */
function benchBothEngines(o: BenchTrainOptions): void {
  const args = process.argv.slice(2);
  /** This command's arguments without `flags` (and their values, for those in `valued`). */
  const without = (flags: string[], valued: string[]) => {
    const kept: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const name = args[i].split('=')[0];
      if (!flags.includes(name)) kept.push(args[i]);
      else if (valued.includes(name) && !args[i].includes('=')) i += 1;
    }
    return kept;
  };
  const run = (engine: 'onnx' | 'tfjs'): TrainBenchResult & { profile?: StepProfile | null } => {
    // The onnx engine runs each step on onnxruntime's threads (no workers, no accumulation); the cpu backend's scale is the tfjs run's.
    const own = engine === 'onnx' ? [...without(['--engine', '--json', ...TFJS_ONLY_FLAGS], ['--engine', ...TFJS_ONLY_FLAGS]), '--no-cpu'] : without(['--engine', '--json', '--profile', '--spin', '--split-loss'], ['--engine']);
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...own, '--engine', engine, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (child.status !== 0) throw new Error(`mobilenet bench train --engine ${engine} failed (exit ${child.status ?? child.signal}); see its messages above.`);
    return JSON.parse(child.stdout.trim().split('\n').pop() as string);
  };
  const onnx = run('onnx');
  const tfjs = run('tfjs');
  const ratio = onnx.imagesPerSecond / tfjs.imagesPerSecond;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ onnx, tfjs, onnxOverTfjs: ratio })}\n`);
    return;
  }
  const line = (name: string, r: TrainBenchResult) => `${name}: ${r.imagesPerSecond.toFixed(1)} images/s (${r.msPerStep.toFixed(0)} ms/step), peak RSS ${r.peakRssMiB.toFixed(0)} MiB`;
  const lines = [
    `${o.arch} α=${o.alpha} ${o.inputSize}px, batch ${o.batch}, ${o.steps} timed steps after ${o.warmup} warm-up, each engine in its own process`,
    line('onnxruntime engine', onnx),
    line(`tfjs engine (${tfjs.backend}${tfjs.workers > 1 ? ` × ${tfjs.workers} workers` : ', in process'})`, tfjs),
    `onnxruntime engine / tfjs engine: ${ratio.toFixed(2)}×`,
  ];
  if (onnx.profile) lines.push('', describeProfile(onnx.profile));
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describe(o: BenchTrainOptions, r: TrainBenchResult, cpu: TrainBenchResult | null, ratio: number | null): string {
  const lines = [
    `${o.arch} α=${o.alpha} ${o.inputSize}px, batch ${r.batch}${r.accumulate > 1 ? ` (${r.accumulate} micro-batches of up to ${r.microBatch})` : ''}, ${r.steps} timed steps after ${o.warmup} warm-up`,
    r.engine === 'onnx'
      ? `onnxruntime training engine (${o.splitLoss ? "the step split around the task's tfjs loss: forward half, loss, backward half" : 'one compiled graph per step'}), ${r.threadsPerWorker} threads`
      : `backend ${r.backend}, ${r.workers === 1 ? 'in process' : `${r.workers} data-parallel workers`}, ${r.threadsPerWorker} thread(s) each`,
    `${r.imagesPerSecond.toFixed(1)} images/s (${r.msPerStep.toFixed(0)} ms/step); loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}`,
    (r.estimatedPeakMiB === null ? 'memory: ' : `memory: estimated peak ${r.estimatedPeakMiB.toFixed(0)} MiB ${r.backend === 'wasm' ? 'of wasm heap' : 'for the step'}${r.workers > 1 ? ' per worker' : ''}`) +
      (r.wasmHeapMiB === null ? '' : ` (the heap grew to ${r.wasmHeapMiB.toFixed(0)} MiB)`) +
      `${r.estimatedPeakMiB === null ? '' : '; '}peak RSS ${r.peakRssMiB.toFixed(0)} MiB; RSS ${r.rssAfterWarmupMiB.toFixed(0)} MiB after warm-up, ${r.rssAfterStepsMiB.toFixed(0)} MiB after the timed steps` +
      (r.tensorGrowth === null ? '' : `; tensors leaked per run: ${r.tensorGrowth}`),
  ];
  if (cpu !== null && ratio !== null) lines.push(`cpu backend: ${cpu.imagesPerSecond.toFixed(2)} images/s (batch ${cpu.batch}, 1 step) → ${ratio.toFixed(0)}× faster`);
  if (r.kernels.length > 0) {
    lines.push('', 'one profiled step, by kernel:');
    lines.push(formatTable(r.kernels.slice(0, 15), [
      { header: 'kernel', value: (k) => k.kernel },
      { header: 'ms', value: (k) => k.ms.toFixed(1), align: 'right' },
      { header: '%', value: (k) => k.percent.toFixed(1), align: 'right' },
    ]));
  }
  return lines.join('\n');
}
