/**
 * The training-memory estimate (packages/runtime/src/memory) against measured peaks, one configuration
 * at a time, each in a fresh child process: on wasm, the memory grows exactly as far as the step asks,
 * so its size after the steps is the peak heap; what emscripten's usual ~20 % growth makes of it is
 * replayed from the same requests. On cpu, the child's peak resident memory. Prints estimate, measured
 * and their ratio (the estimate must never be below; the tests hold it within 1.3×).
 *
 * Usage: npm run bench:memory [-- --quick] [-- --backend cpu] [-- --steps 3] [-- --long] [-- --json]
 *   --quick  the three small configurations of the unit tests (a minute)
 *   --long   also V1 0.25-128 b32 over 100 steps (the heap's creep) and V1 1.0 at the largest input size
 *            the planner allows at batch 1 (does it fit?)
 * The full wasm list takes 20–40 minutes on this project's 2-core machine (V1 1.0-224 b24: ~1 min a step).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { formatTable } from '@mobilenets/cli-kit';
import {
  BackendName,
  MeasuredMemory,
  TrainingMemoryEstimate,
  WASM_HEAP_MAX_BYTES,
  estimateTrainingMemory,
  measureTrainingMemory,
  modelMemoryProfile,
  planTrainingBatch,
  scaleProfileInput,
  setup,
} from '@mobilenets/runtime';

interface Configuration {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  batch: number;
  accumulate?: number;
  variant?: 'full-conv';
  steps?: number;
}

const c = (arch: 'v1' | 'v2', alpha: number, inputSize: number, batch: number, more: Partial<Configuration> = {}): Configuration => ({ arch, alpha, inputSize, batch, ...more });

const QUICK: Configuration[] = [c('v1', 0.25, 64, 8), c('v2', 0.35, 96, 4), c('v2', 0.35, 96, 4, { accumulate: 2 })];

const WASM: Configuration[] = [
  c('v1', 0.25, 64, 8),
  c('v1', 0.25, 64, 32),
  c('v1', 0.25, 128, 8),
  c('v1', 0.25, 128, 32),
  c('v1', 0.25, 128, 8, { accumulate: 4 }),
  c('v1', 0.25, 128, 8, { variant: 'full-conv' }),
  c('v1', 0.5, 128, 16),
  c('v1', 0.5, 160, 32),
  c('v1', 0.75, 192, 8),
  c('v1', 1, 128, 8),
  c('v1', 1, 128, 32),
  c('v1', 1, 224, 1),
  c('v1', 1, 224, 4),
  c('v1', 1, 224, 8),
  c('v1', 1, 224, 16),
  c('v1', 1, 224, 24),
  c('v1', 1, 224, 32),
  c('v2', 0.35, 96, 4),
  c('v2', 0.35, 96, 4, { accumulate: 4 }),
  c('v2', 0.35, 96, 32),
  c('v2', 0.5, 128, 16),
  c('v2', 0.75, 160, 8),
  c('v2', 1, 128, 32),
  c('v2', 1, 224, 1),
  c('v2', 1, 224, 4),
  c('v2', 1, 224, 8),
  c('v2', 1, 224, 16),
  c('v2', 1.4, 224, 4),
];

/** The cpu backend trains ~500× slower: small configurations only. */
const CPU: Configuration[] = [c('v1', 0.25, 64, 1), c('v1', 0.25, 64, 8), c('v2', 0.35, 96, 4), c('v1', 0.25, 128, 8), c('v1', 0.25, 64, 32)];

function build(config: Configuration): tfl.LayersModel {
  const common = { widthMultiplier: config.alpha, inputSize: config.inputSize, classes: 10 };
  return config.arch === 'v1' ? mobilenetV1({ ...common, ...(config.variant ? { variant: config.variant } : {}) }) : mobilenetV2(common);
}

function label(config: Configuration): string {
  return `${config.arch.toUpperCase()} ${config.alpha}-${config.inputSize}${config.variant ? ` ${config.variant}` : ''}, b${config.batch}${(config.accumulate ?? 1) > 1 ? `×${config.accumulate}` : ''}${config.steps ? `, ${config.steps} steps` : ''}`;
}

interface Row {
  config: string;
  estimate: TrainingMemoryEstimate;
  measured: MeasuredMemory | null;
  failure: string | null;
  seconds: number;
}

const MiB = 2 ** 20;
const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? '—' : (bytes / MiB).toFixed(0));
const ratio = (a: number, b: number | null | undefined) => (b === null || b === undefined ? '—' : (a / b).toFixed(2));

async function measure(config: Configuration, backend: BackendName, steps: number): Promise<Row> {
  const model = build(config);
  const accumulate = config.accumulate ?? 1;
  const estimate = estimateTrainingMemory({ model, batchSize: config.batch, accumulate, backend });
  const start = performance.now();
  let measured: MeasuredMemory | null = null;
  let failure: string | null = null;
  process.stderr.write(`${label(config)} on ${backend}: estimate ${mib(estimate.bytes)} MiB, measuring…`);
  try {
    measured = await measureTrainingMemory({ model, batchSize: config.batch, accumulate, backend, steps: config.steps ?? steps });
  } catch (error) {
    failure = (error as Error).message;
  }
  model.dispose();
  const seconds = (performance.now() - start) / 1000;
  const peak = backend === 'wasm' ? measured?.heapBytes : measured ? measured.peakRssBytes - measured.rssBytesBeforeSteps : null;
  process.stderr.write(measured ? ` ${mib(peak)} MiB (${seconds.toFixed(0)} s)\n` : ` failed (${seconds.toFixed(0)} s): ${failure}\n`);
  return { config: label(config), estimate, measured, failure, seconds };
}

/** V1 1.0 at the largest input size the planner allows at batch 1. */
function largestInputConfig(): Configuration {
  const model = mobilenetV1({ widthMultiplier: 1, inputSize: 224, classes: 10 });
  const profile = modelMemoryProfile(model);
  model.dispose();
  let size = 224;
  while (estimateTrainingMemory({ model: scaleProfileInput(profile, size + 32), batchSize: 1, backend: 'wasm' }).bytes <= WASM_HEAP_MAX_BYTES * 0.97) size += 32;
  planTrainingBatch({ model: scaleProfileInput(profile, size), batchSize: 1, backend: 'wasm' }); // throws if the planner disagrees
  return c('v1', 1, size, 1);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const backend = (option('backend') ?? 'wasm') as BackendName;
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu (tfjs-node, 'tensorflow', does not install here). Received '${backend}'.`);
  const steps = Number(option('steps') ?? 3);
  await setup({ backend: 'cpu', log: null }); // to build the models here; each measurement runs in its own process
  let configs = argv.includes('--quick') ? QUICK : backend === 'cpu' ? CPU : WASM;
  if (argv.includes('--long') && backend === 'wasm') configs = [...configs, c('v1', 0.25, 128, 32, { steps: 100 }), largestInputConfig()];

  const rows: Row[] = [];
  for (const config of configs) rows.push(await measure(config, backend, steps));

  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ config: r.config, estimate: r.estimate, measured: r.measured, failure: r.failure, seconds: r.seconds })))}\n`);
    return;
  }
  if (backend === 'wasm') {
    process.stdout.write(
      `${formatTable(rows, [
        { header: 'configuration', value: (r) => r.config },
        { header: 'estimate MiB', value: (r) => mib(r.estimate.bytes), align: 'right' },
        { header: 'peak heap MiB', value: (r) => (r.measured ? mib(r.measured.heapBytes) : 'did not fit'), align: 'right' },
        { header: 'ratio', value: (r) => ratio(r.estimate.bytes, r.measured?.heapBytes), align: 'right' },
        { header: 'tensors est/meas', value: (r) => ratio(r.estimate.tensors.total, r.measured?.peakTensorBytes), align: 'right' },
        { header: 'grown est MiB', value: (r) => mib(r.estimate.grownBytes), align: 'right' },
        { header: 'grown MiB', value: (r) => mib(r.measured?.grownHeapBytes), align: 'right' },
        { header: 'RSS est MiB', value: (r) => mib(r.estimate.residentBytes), align: 'right' },
        { header: 'peak RSS MiB', value: (r) => mib(r.measured?.peakRssBytes), align: 'right' },
        { header: 's', value: (r) => r.seconds.toFixed(0), align: 'right' },
      ])}\n`,
    );
  } else {
    const added = (m: MeasuredMemory | null) => (m ? m.peakRssBytes - m.rssBytesBeforeSteps : null);
    process.stdout.write(
      `${formatTable(rows, [
        { header: 'configuration', value: (r) => r.config },
        { header: 'estimate MiB', value: (r) => mib(r.estimate.bytes), align: 'right' },
        { header: 'RSS added MiB', value: (r) => mib(added(r.measured)), align: 'right' },
        { header: 'ratio', value: (r) => ratio(r.estimate.bytes, added(r.measured)), align: 'right' },
        { header: 'RSS est MiB', value: (r) => mib(r.estimate.residentBytes), align: 'right' },
        { header: 'peak RSS MiB', value: (r) => mib(r.measured?.peakRssBytes), align: 'right' },
        { header: 's', value: (r) => r.seconds.toFixed(0), align: 'right' },
      ])}\n`,
    );
  }
  const below = rows.filter((r) => r.measured && r.estimate.bytes < (backend === 'wasm' ? r.measured.heapBytes! : r.measured.peakRssBytes - r.measured.rssBytesBeforeSteps));
  if (below.length > 0) {
    process.stdout.write(`\nestimate BELOW the measured peak: ${below.map((r) => r.config).join('; ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
});
