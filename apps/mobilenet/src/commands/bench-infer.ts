/** `mobilenet bench infer`: per-image latency on onnxruntime and on every tfjs backend, in one run. */
import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { Command, Option } from 'commander';
import * as tfl from '@tensorflow/tfjs-layers';
import { addArchitectureOptions, ArchitectureOptions, buildMobileNet, formatTable, parseIntegerOption, UsageError } from '@mobilenets/cli-kit';
import { availableBackends, exportOnnx, measureLatency, randomCalibrationRanges, setup, timeOnnx } from '@mobilenets/runtime';

interface BenchInferOptions extends ArchitectureOptions {
  onnx?: string;
  threads: number;
  runs: number;
  tfjs: boolean;
  int8?: boolean;
  json?: boolean;
}

export function benchInferCommand(): Command {
  return addArchitectureOptions(new Command('infer'), { classes: true, head: true })
    .description('latency per image (batch 1, median after warm-up) on onnxruntime-node and on each tfjs backend')
    .option('--onnx <file>', 'an exported model to time on onnxruntime (default: export the --arch model to a temporary file)')
    .addOption(new Option('--threads <n>', 'onnxruntime intra-op threads').argParser(parseIntegerOption('--threads', 1)).default(2))
    .addOption(new Option('--runs <n>', 'timed runs on onnxruntime and wasm (cpu stops after ~10 s)').argParser(parseIntegerOption('--runs', 3)).default(50))
    .option('--no-tfjs', 'time onnxruntime only')
    .option('--int8', 'also export an int8 (QDQ) model, calibrated on random inputs, and time it (speed only: calibrate on real images for accuracy)')
    .option('--json', 'print one JSON object')
    .action(async (o: BenchInferOptions) => {
      if (o.onnx !== undefined) {
        if (!existsSync(o.onnx)) throw new UsageError(`--onnx ${o.onnx}: no such file. Expected an ONNX file written by 'mobilenet export'.`);
        if (statSync(o.onnx).isDirectory()) throw new UsageError(`--onnx ${o.onnx}: this is a folder. Expected an ONNX file written by 'mobilenet export'.`);
      }
      await setup({ log: null });
      const model = buildMobileNet({ ...o, top: o.top });
      let file = o.onnx;
      let temp: string | undefined;
      if (file === undefined) {
        temp = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-bench-'));
        file = path.join(temp, `${model.name}.onnx`);
        await exportOnnx(model, file);
      }
      try {
        const progress = (engine: string) => process.stderr.write(`timing ${engine} (${o.runs} runs)…\n`); // minutes on a slow machine: say what runs
        progress('onnxruntime');
        const onnxMsPerImage = (await timeOnnx(file, { threads: o.threads, runs: o.runs })).msPerImage;
        let int8MsPerImage: number | null = null;
        if (o.int8) {
          const ranges = randomCalibrationRanges(model);
          temp ??= await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenet-bench-'));
          const int8File = path.join(temp, `${model.name}-int8.onnx`);
          await exportOnnx(model, int8File, { int8Ranges: ranges });
          progress('onnxruntime int8');
          int8MsPerImage = (await timeOnnx(int8File, { threads: o.threads, runs: o.runs })).msPerImage;
        }
        const msPerImage: Record<string, number> = {};
        if (o.tfjs) {
          for (const backend of availableBackends()) {
            await setup({ backend, log: null });
            const slow = backend === 'cpu';
            progress(`tfjs ${backend}`);
            msPerImage[backend] = (await measureLatency(model, { warmup: slow ? 1 : 3, runs: o.runs, budgetMs: slow ? 10_000 : 60_000 })).msPerImage;
          }
        }
        report(o, file, model, onnxMsPerImage, msPerImage, int8MsPerImage);
      } finally {
        model.dispose();
        if (temp) await fs.rm(temp, { recursive: true, force: true });
      }
    });
}

function report(o: BenchInferOptions, file: string, model: tfl.LayersModel, onnxMsPerImage: number, msPerImage: Record<string, number>, int8MsPerImage: number | null): void {
  if (o.json) {
    const speedup = Object.fromEntries(Object.entries(msPerImage).map(([b, ms]) => [b, ms / onnxMsPerImage]));
    process.stdout.write(`${JSON.stringify({ model: model.name, onnx: o.onnx === undefined ? null : path.resolve(file), threads: o.threads, onnxMsPerImage, int8MsPerImage, msPerImage, onnxSpeedup: speedup })}\n`);
    return;
  }
  const rows = [
    ...(int8MsPerImage === null ? [] : [{ engine: `onnxruntime-node int8 (${o.threads} threads)`, ms: int8MsPerImage }]),
    { engine: `onnxruntime-node (${o.threads} threads)`, ms: onnxMsPerImage },
    ...Object.entries(msPerImage).map(([b, ms]) => ({ engine: `tfjs ${b}`, ms })),
  ];
  process.stdout.write(
    `${model.name}, batch 1, median of ${o.runs} runs after warm-up (tfjs cpu: as many as fit in ~10 s)\n` +
      `${formatTable(rows, [
        { header: 'engine', value: (r) => r.engine },
        { header: 'ms/image', value: (r) => r.ms.toFixed(2), align: 'right' },
        { header: '× onnxruntime', value: (r) => (r.ms / onnxMsPerImage).toFixed(1), align: 'right' },
      ])}\n`,
  );
}
