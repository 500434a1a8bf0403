/**
 * `npm run demo`: the project's main job on embedded defaults. First the backbone tour:
 * the 16 V1 models of the paper's Figures 4–5 (α ∈ {1, .75, .5, .25} × {224, 192, 160, 128}) and V2
 * 1.0 / 0.35, with Mult-Adds and parameters as the papers count them and forward latency measured on the
 * best backend this machine has. Then a classifier fine-tuned from trained weights, faces found by the
 * pretrained SSD and a small SSDLite trained, and a geolocation model trained for a minute (below).
 * `--json` prints each part as a JSON line.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2, profile } from '@mobilenets/backbone';
import { formatMillions, formatTable } from '@mobilenets/cli-kit';
import { measureLatency, setup } from '@mobilenets/runtime';

interface Row {
  model: string;
  multAdds: number;
  params: number;
  paperMultAddsM: number | null;
  paperParamsM: number | null;
  msPerImage: number;
}

/** Published values in millions: V1 Tables 6, 7 and 9; V2 from the official checkpoint table. The other V1 points are only plotted (Figures 4, 5). */
const PAPER: Record<string, [number, number]> = {
  'mobilenet_v1_1.00_224': [569, 4.2], 'mobilenet_v1_1.00_192': [418, 4.2], 'mobilenet_v1_1.00_160': [290, 4.2], 'mobilenet_v1_1.00_128': [186, 4.2],
  'mobilenet_v1_0.75_224': [325, 2.6], 'mobilenet_v1_0.50_224': [149, 1.3], 'mobilenet_v1_0.50_160': [76, 1.32], 'mobilenet_v1_0.25_224': [41, 0.5],
  'mobilenet_v2_1.00_224': [300, 3.47], 'mobilenet_v2_0.35_224': [59, 1.66],
};

function* models(): Generator<() => tfl.LayersModel> {
  for (const alpha of [1, 0.75, 0.5, 0.25]) {
    for (const inputSize of [224, 192, 160, 128]) yield () => mobilenetV1({ widthMultiplier: alpha, inputSize });
  }
  yield () => mobilenetV2({ widthMultiplier: 1 });
  yield () => mobilenetV2({ widthMultiplier: 0.35 });
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const runtime = await setup();
  const rows: Row[] = [];
  const builders = [...models()];
  for (const [i, build] of builders.entries()) {
    const model = build();
    try {
      const p = profile(model);
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[${i + 1}/${builders.length}] timing ${model.name} on ${runtime.backend}…`);
      const latency = await measureLatency(model, { warmup: 2, runs: 15, budgetMs: 3000 });
      const paper = PAPER[model.name];
      rows.push({ model: model.name, multAdds: p.multAdds, params: p.params, paperMultAddsM: paper?.[0] ?? null, paperParamsM: paper?.[1] ?? null, msPerImage: latency.msPerImage });
    } finally {
      model.dispose();
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (json) {
    process.stdout.write(`${JSON.stringify({ backend: runtime.backend, threads: runtime.threads, rows })}\n`);
    return;
  }
  process.stdout.write(
    `${formatTable(rows, [
      { header: 'model', value: (r) => r.model },
      { header: 'Mult-Adds', value: (r) => formatMillions(r.multAdds), align: 'right' },
      { header: 'paper', value: (r) => (r.paperMultAddsM === null ? '' : `${r.paperMultAddsM}M`), align: 'right' },
      { header: 'params', value: (r) => formatMillions(r.params, 2), align: 'right' },
      { header: 'paper', value: (r) => (r.paperParamsM === null ? '' : `${r.paperParamsM}M`), align: 'right' },
      { header: `ms/image (${runtime.backend}, batch 1)`, value: (r) => r.msPerImage.toFixed(1), align: 'right' },
    ])}\n\n` +
      `Mult-Adds count conv and FC multiply-adds (1000 classes); params count conv and FC weights and biases, not batch norm.\n` +
      `Latency: median of up to 15 timed forward passes after 2 warm-ups, random input, tfjs '${runtime.backend}' backend, ${runtime.threads} thread(s).\n` +
      `Per-layer detail: npx mobilenet summary --arch v1 --alpha 0.5 --input-size 160\n`,
  );
}

/**
 * The fine-tuning recipe, chosen on the generated data (README, "npm run demo"): a short cosine run at
 * lr 0.01 without augmentation. At --lr 0.03 the pretrained body diverged; at 0.003 it learned slower.
 */
const DEMO_RECIPE = ['--epochs', '5', '--schedule', 'cosine', '--lr', '0.01', '--no-augment'];

/** Runs one of the apps as a user would, echoing the stderr lines `show` picks; its stdout (JSON) comes back parsed. */
async function runApp<T>(app: 'classify' | 'detect' | 'geo', args: string[], show: RegExp | null): Promise<T> {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const path = require('node:path') as typeof import('node:path');
  const bin = path.join(__dirname, '..', '..', 'apps', app, 'bin', `mobilenet-${app}.js`);
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    all += chunk.toString();
    const lines = stderr.split('\n');
    stderr = lines.pop() ?? '';
    if (show !== null) for (const line of lines) if (show.test(line)) process.stdout.write(`  ${line}\n`);
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`mobilenet-${app} ${args[0]} failed (exit ${status}): ${all.slice(-2000)}`);
  return JSON.parse(stdout) as T;
}

/**
 * Part two: fine-tune the trained MobileNetV1 body of face-api's face detector (α = 1, here at 64 px) on
 * the generated shapes dataset with the classification app, as a user would (`mobilenet-classify
 * train --init face-api`), and report the held-out top-1 it reached. Seeded: the same numbers every run
 * (README, "npm run demo").
 */
async function classificationRun(json: boolean, out: string): Promise<void> {
  const args = ['train', '--arch', 'v1', '--alpha', '1', '--input-size', '64', '--init', 'face-api', ...DEMO_RECIPE, '--seed', '0', '--out', out, '--json'];
  if (!json) process.stdout.write(`\nClassification: mobilenet-classify ${args.join(' ')}\n(no --data: it generates the procedural shapes dataset, 10 classes × 300 images, and holds out 20%)\n`);
  // the epoch summaries only; the per-step lines are the app's progress display
  const result = await runApp<{ top1: number; top5: number; steps: number; seconds: number }>('classify', args, json ? null : /^epoch \d+ done|^no --data|^trained/);
  if (json) {
    process.stdout.write(`${JSON.stringify({ classification: result })}\n`);
    return;
  }
  process.stdout.write(
    `validation top-1 ${(100 * result.top1).toFixed(1)}%, top-5 ${(100 * result.top5).toFixed(1)}% after ${result.steps} steps in ${result.seconds.toFixed(0)} s; ` +
      `model, learning-curve.png and checkpoints in ${out}\n` +
      `next: npx mobilenet-classify eval --run ${out}   ·   npx mobilenet-classify predict --model ${out} <image>\n`,
  );
}

/**
 * Part three, detection: face-api's pretrained SSD MobileNetV1 face detector, loaded into our SSD,
 * finds the faces in the sample photos face-api ships and draws them; then a small SSDLite trains for
 * one minute from scratch on the procedural shapes set (far from converged: the README's detection
 * section has the 30-minute run).
 */
async function detectionRun(json: boolean, out: string): Promise<void> {
  const fs = require('node:fs') as typeof import('node:fs');
  const path = require('node:path') as typeof import('node:path');
  const samples = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
  const photos = fs.existsSync(samples) ? fs.readdirSync(samples).filter((f) => /^sample\d+\.jpg$/.test(f)).sort().map((f) => path.join(samples, f)) : [];
  if (photos.length === 0) throw new Error(`no sample photos in ${samples}: is @vladmandic/face-api installed (npm ci)?`);
  const faces = path.join(out, 'faces');
  const predictArgs = ['predict', '--model', 'faceapi-ssd-mobilenetv1', ...photos, '--min-score', '0.5', '--out', faces, '--json'];
  if (!json) process.stdout.write(`\nDetection: mobilenet-detect predict --model faceapi-ssd-mobilenetv1 <face-api's ${photos.length} sample photos> --out ${faces}\n`);
  const found = await runApp<{ image: string; detections: { box: number[]; score: number; label: string }[] }[]>('detect', predictArgs, null);
  const trainArgs = ['train', '--model', 'ssdlite', '--arch', 'v2', '--alpha', '0.5', '--input-size', '160', '--max-minutes', '1', '--val-every', '3', '--seed', '0', '--out', path.join(out, 'ssdlite'), '--json'];
  if (!json) {
    for (const f of found) process.stdout.write(`  ${path.basename(f.image)}: ${f.detections.length} face${f.detections.length === 1 ? '' : 's'} (scores ${f.detections.map((d) => d.score.toFixed(2)).join(', ')})\n`);
    process.stdout.write(`  ${found.reduce((n, f) => n + f.detections.length, 0)} faces; annotated PNGs in ${faces}\n\nmobilenet-detect ${trainArgs.join(' ')}\n`);
  }
  const trained = await runApp<{ mAP: number | null; AP50: number | null; steps: number; seconds: number; anchors: number }>('detect', trainArgs, json ? null : /^no --data|^trained|^epoch \d+ done|^--max-minutes/);
  if (json) {
    process.stdout.write(`${JSON.stringify({ faces: found, detection: trained })}\n`);
    return;
  }
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  process.stdout.write(
    `held-out mAP ${f(trained.mAP)}, AP50 ${f(trained.AP50)} after ${trained.steps} steps in ${trained.seconds.toFixed(0)} s (one minute from scratch: the README's detection section has the 30-minute run)\n` +
      `next: npx mobilenet-detect eval --model ${path.join(out, 'ssdlite')}   ·   npx mobilenet-detect predict --model ${path.join(out, 'ssdlite')} <image> --out <dir>\n`,
  );
}

/**
 * Part four, geolocation: PlaNet on MobileNet V1 α 0.5 at 128 px for one minute on the procedural
 * geotagged set (photos placed by world population), scored at the five scales of the paper's Table 11
 * against always guessing the most populous cell. One minute is a start only: the README's geolocation
 * section has the 30-minute run.
 */
async function geolocationRun(json: boolean, out: string): Promise<void> {
  const trainArgs = ['train', '--max-minutes', '1', '--val-every', '2', '--seed', '0', '--out', out, '--json'];
  if (!json) process.stdout.write(`\nGeolocation: mobilenet-geo ${trainArgs.join(' ')}\n`);
  const trained = await runApp<{ withinKm: Record<string, number> | null; medianKm: number | null; baseline: { withinKm: Record<string, number>; medianKm: number } | null; cells: number; steps: number; seconds: number }>(
    'geo', trainArgs, json ? null : /^no --data|^partitioned|^trained|^epoch \d+ done|^--max-minutes/);
  if (json) {
    process.stdout.write(`${JSON.stringify({ geolocation: trained })}\n`);
    return;
  }
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
  const scales: [string, string][] = [['street', '1'], ['city', '25'], ['region', '200'], ['country', '750'], ['continent', '2500']];
  process.stdout.write(`${trained.cells} S2 cells, ${trained.steps} steps in ${trained.seconds.toFixed(0)} s; held-out photos located within (model / most populous cell):\n`);
  for (const [name, km] of scales) process.stdout.write(`  ${`${name} ${km} km`.padEnd(20)} ${pct(trained.withinKm?.[km]).padStart(6)} / ${pct(trained.baseline?.withinKm[km]).padStart(6)}\n`);
  process.stdout.write(
    `  median error ${trained.medianKm?.toFixed(0) ?? '-'} km / ${trained.baseline?.medianKm.toFixed(0) ?? '-'} km (one minute from scratch: the README's geolocation section has the 30-minute run)\n` +
      `maps: ${out}/partition-map.png, ${out}/predictions-map.png\nnext: npx mobilenet-geo eval --model ${out}   ·   npx mobilenet-geo predict --model ${out} <photo>\n`,
  );
}

async function all(): Promise<void> {
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const json = process.argv.includes('--json');
  const out = path.join(os.tmpdir(), `mobilenets-demo-${process.pid}`);
  await main();
  await classificationRun(json, path.join(out, 'classify'));
  await detectionRun(json, path.join(out, 'detect'));
  await geolocationRun(json, path.join(out, 'geo'));
}

all().catch((error) => {
  process.exitCode = require('@mobilenets/cli-kit').reportError(error);
});
