/**
 * Looks inside a classifier trained by `mobilenet-classify train` (issue 8 investigation):
 *
 * 1. top-1 on val/ as saved (BN with its moving averages), and in training mode (BN with each val
 *    batch's own statistics, no update) — the gap is what stale moving averages cost;
 * 2. top-1 after re-estimating every BN layer's statistics as exact averages over the training images
 *    (no augmentation), layer by layer — what the model scores with moving averages that do not lag;
 * 3. per activation layer: the share of channels that are dead (0 on every probe image and pixel) or
 *    stuck at 6 (ReLU6's upper bound everywhere): both have zero gradient.
 *
 *   MOBILENETS_BACKEND=wasm node -r ./tools/ts-register.js tools/quality/diagnose.ts --model <out>/model --data <folder>
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup, fileSystem } from '@mobilenets/runtime';
import '@mobilenets/backbone';
import * as datasets from '@mobilenets/datasets';

async function load(records: datasets.ImageRecord[], classes: string[], inputSize: number): Promise<{ x: tf.Tensor4D; y: Int32Array }> {
  const data = datasets.classificationData(records, classes, { inputSize, augment: false, onSkip: () => undefined });
  const xs: tf.Tensor4D[] = [];
  const ys: number[] = [];
  for await (const b of data.batches({ epoch: 0, batchSize: 64, seed: 0, skip: 0, shuffle: false })) {
    xs.push(tf.tensor4d(b.images, b.shape));
    ys.push(...b.labels);
  }
  const x = tf.concat(xs) as tf.Tensor4D;
  tf.dispose(xs);
  return { x, y: Int32Array.from(ys) };
}

function top1(model: tfl.LayersModel, x: tf.Tensor4D, y: Int32Array, training: boolean): number {
  let hits = 0;
  for (let i = 0; i < x.shape[0]; i += 64) {
    const n = Math.min(64, x.shape[0] - i);
    const pred = tf.tidy(() => tf.argMax(model.apply(tf.slice(x, [i, 0, 0, 0], [n, -1, -1, -1]), { training }) as tf.Tensor, -1));
    const p = pred.dataSync();
    pred.dispose();
    for (let k = 0; k < n; k++) if (p[k] === y[i + k]) hits++;
  }
  return hits / x.shape[0];
}

async function main(argv: string[]): Promise<void> {
  const get = (n: string) => argv[argv.indexOf(`--${n}`) + 1];
  await setup({ log: null });
  const model = await tfl.loadLayersModel(fileSystem(get('model')));
  const inputSize = model.inputs[0].shape[1] as number;
  const folder = await datasets.readImageFolder(get('data'), { valFraction: 0.2, seed: 0 });
  const val = await load(folder.val, folder.classes, inputSize);
  const train = await load(folder.train, folder.classes, inputSize);

  // Activation health on the training images.
  const acts = model.layers.filter((l) => /_relu$|^out_relu$/.test(l.name));
  const probe = tfl.model({ inputs: model.inputs, outputs: acts.map((l) => l.output as tfl.SymbolicTensor) });
  const sample = tf.slice(train.x, [0, 0, 0, 0], [Math.min(256, train.x.shape[0]), -1, -1, -1]);
  const outs = probe.predict(sample) as tf.Tensor[];
  const health = acts.map((l, i) => {
    const o = outs[i];
    const axes = [0, 1, 2];
    const max = tf.max(o, axes).dataSync();
    const min = tf.min(o, axes).dataSync();
    const dead = max.filter((v) => v <= 0).length / max.length;
    const stuck = min.filter((v) => v >= 6).length / min.length;
    return { layer: l.name, channels: max.length, dead: +dead.toFixed(3), stuckAt6: +stuck.toFixed(3), mean: +tf.mean(o).dataSync()[0].toFixed(3) };
  });
  tf.dispose([...outs, sample]);

  const saved = top1(model, val.x, val.y, false);
  const batchStats = top1(model, val.x, val.y, true);

  // Exact BN statistics, layer by layer (each with the earlier layers already re-estimated).
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  for (const bn of bns) {
    const inputModel = tfl.model({ inputs: model.inputs, outputs: bn.input as tfl.SymbolicTensor });
    let sum: tf.Tensor | null = null;
    let sq: tf.Tensor | null = null;
    let count = 0;
    for (let i = 0; i < train.x.shape[0]; i += 64) {
      const n = Math.min(64, train.x.shape[0] - i);
      const [s, q] = tf.tidy(() => {
        const a = inputModel.predict(tf.slice(train.x, [i, 0, 0, 0], [n, -1, -1, -1])) as tf.Tensor;
        return [tf.sum(a, [0, 1, 2]), tf.sum(tf.square(a), [0, 1, 2])];
      });
      count += n * ((bn.input as tfl.SymbolicTensor).shape[1] as number) * ((bn.input as tfl.SymbolicTensor).shape[2] as number);
      sum = sum === null ? s : tf.tidy(() => tf.add(sum!, s));
      sq = sq === null ? q : tf.tidy(() => tf.add(sq!, q));
    }
    const [gamma, beta] = bn.getWeights();
    const mean = tf.div(sum!, count);
    const variance = tf.tidy(() => tf.sub(tf.div(sq!, count), tf.square(mean)));
    bn.setWeights([gamma, beta, mean, variance]);
    tf.dispose([sum!, sq!, mean, variance]);
  }
  const reestimated = top1(model, val.x, val.y, false);
  process.stdout.write(`${JSON.stringify({ top1: { saved, batchStats, reestimatedBn: reestimated }, health })}\n`);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
