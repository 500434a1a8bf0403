/**
 * int8 against fp32 on onnxruntime for a classifier trained by mobilenet-classify: top-1 on the held-out
 * split (the same seeded split training used) and latency per image, measured in one run.
 * Usage: npm run bench:int8 -- --model runs/shapes/model --data shapes/ [--val-fraction 0.2] [--seed 0]
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { formatTable } from '@mobilenets/cli-kit';
import { loadImage, readImageFolder } from '@mobilenets/datasets';
import { calibrateRanges, createSession, exportOnnx, fileSystem, float32Output, setup } from '@mobilenets/runtime';

function argument(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required (see the usage line at the top of tools/bench/int8.ts)`);
  return fallback;
}

async function main(): Promise<void> {
  const modelDir = argument('model');
  const dataDir = argument('data');
  const dataset = await readImageFolder(dataDir, { valFraction: Number(argument('val-fraction', '0.2')), seed: Number(argument('seed', '0')) });
  await setup({ log: null });
  const model = await tfl.loadLayersModel(fileSystem(modelDir));
  const size = model.inputs[0].shape[1] as number;
  const load = async (records: { path: string }[]) => Promise.all(records.map(async (r) => (await loadImage(r.path, { size })).pixels));

  const calibrationImages = await load(dataset.train.filter((_, i) => i % Math.max(1, Math.floor(dataset.train.length / 64)) === 0).slice(0, 64));
  const calibration = [];
  for (let i = 0; i < calibrationImages.length; i += 8) {
    const chunk = calibrationImages.slice(i, i + 8);
    const data = new Float32Array(chunk.length * size * size * 3);
    chunk.forEach((p, k) => data.set(p, k * size * size * 3));
    calibration.push(tf.tensor4d(data, [chunk.length, size, size, 3]));
  }
  const ranges = calibrateRanges(model, calibration);
  tf.dispose(calibration);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'int8-bench-'));
  const files = { fp32: path.join(dir, 'fp32.onnx'), int8: path.join(dir, 'int8.onnx') };
  await exportOnnx(model, files.fp32);
  await exportOnnx(model, files.int8, { int8Ranges: ranges });

  const val = await load(dataset.val);
  const rows = [];
  for (const [precision, file] of Object.entries(files)) {
    const session = await createSession(file, { threads: 2 });
    const run = async (pixels: Float32Array) => float32Output(await session.run({ [session.inputNames[0]]: { data: pixels, dims: [1, size, size, 3] } }), session.outputNames[0]);
    let correct = 0;
    for (let i = 0; i < val.length; i++) {
      const probabilities = await run(val[i]);
      let best = 0;
      for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[best]) best = c;
      if (best === dataset.val[i].label) correct++;
    }
    const times: number[] = [];
    for (let i = 0; i < 10; i++) await run(val[0]);
    for (let i = 0; i < 100; i++) {
      const start = process.hrtime.bigint();
      await run(val[i % val.length]);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    rows.push({ precision, top1: correct / val.length, ms: (times[49] + times[50]) / 2 });
    await session.dispose();
  }
  await fs.rm(dir, { recursive: true, force: true });
  const [fp32, int8] = rows;
  process.stdout.write(
    `${formatTable(rows, [
      { header: 'onnxruntime', value: (r) => r.precision },
      { header: `top-1 (${val.length} held-out images)`, value: (r) => `${(100 * r.top1).toFixed(2)}%`, align: 'right' },
      { header: 'ms/image (batch 1, 2 threads)', value: (r) => r.ms.toFixed(3), align: 'right' },
    ])}\n` + `int8: ${((int8.top1 - fp32.top1) * 100).toFixed(2)} points top-1, ${(fp32.ms / int8.ms).toFixed(2)}× faster than fp32\n`,
  );
  model.dispose();
}

main().catch((error) => {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
});
