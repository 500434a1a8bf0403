/**
 * The training-speed targets of the wasm-training issue, measured in one run:
 *   V1 0.25-128, batch 32: ≥ 100 images/s;  V1 1.0-224, batch 16: ≥ 8 images/s,
 * in this process and over 2 data-parallel workers, each against tfjs' cpu backend measured in the same
 * run (small batch, one step: it is ~500× slower). Usage: npm run bench:train [-- --json] [-- --quick]
 */
import { mobilenetV1 } from '@mobilenets/backbone';
import { formatTable } from '@mobilenets/cli-kit';
import { TrainBenchResult, benchmarkTraining } from '@mobilenets/runtime';

interface Target {
  alpha: number;
  inputSize: number;
  batch: number;
  imagesPerSecond: number;
  cpuBatch: number;
}

const TARGETS: Target[] = [
  { alpha: 0.25, inputSize: 128, batch: 32, imagesPerSecond: 100, cpuBatch: 4 },
  { alpha: 1, inputSize: 224, batch: 16, imagesPerSecond: 8, cpuBatch: 1 },
];

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const quick = process.argv.includes('--quick');
  const rows: { model: string; mode: string; result: TrainBenchResult; target: number; cpu: number }[] = [];
  for (const t of TARGETS) {
    const build = () => mobilenetV1({ widthMultiplier: t.alpha, inputSize: t.inputSize, classes: 10 });
    const model = `V1 ${t.alpha}-${t.inputSize} b${t.batch}`;
    process.stderr.write(`${model}: cpu backend…\n`);
    const cpu = await benchmarkTraining({ build, batch: t.cpuBatch, steps: 1, warmup: 0, backend: 'cpu', workers: 1, accumulate: 1, profile: false });
    for (const workers of [1, 2]) {
      process.stderr.write(`${model}: wasm, ${workers === 1 ? 'in process' : `${workers} workers`}…\n`);
      const steps = quick ? 2 : t.alpha < 1 ? 20 : 5;
      const result = await benchmarkTraining({ build, batch: t.batch, steps, warmup: 2, backend: 'wasm', workers, accumulate: 1, profile: false });
      rows.push({ model, mode: workers === 1 ? 'in process' : `${workers} workers`, result, target: t.imagesPerSecond, cpu: cpu.imagesPerSecond });
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ model: r.model, mode: r.mode, imagesPerSecond: r.result.imagesPerSecond, target: r.target, cpuImagesPerSecond: r.cpu, peakRssMiB: r.result.peakRssMiB })))}\n`);
    return;
  }
  process.stdout.write(
    `${formatTable(rows, [
      { header: 'model', value: (r) => r.model },
      { header: 'wasm', value: (r) => r.mode },
      { header: 'images/s', value: (r) => r.result.imagesPerSecond.toFixed(1), align: 'right' },
      { header: 'target', value: (r) => `≥ ${r.target}`, align: 'right' },
      { header: '× target', value: (r) => (r.result.imagesPerSecond / r.target).toFixed(2), align: 'right' },
      { header: 'cpu images/s', value: (r) => r.cpu.toFixed(3), align: 'right' },
      { header: '× cpu', value: (r) => (r.result.imagesPerSecond / r.cpu).toFixed(0), align: 'right' },
      { header: 'peak RSS MiB', value: (r) => r.result.peakRssMiB.toFixed(0), align: 'right' },
    ])}\n`,
  );
}

main().catch((error) => {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
});
