/**
 * One training run of ours with the knobs the issue-8 investigation turns one at a time — the same
 * pipeline as `mobilenet-classify train` (readImageFolder, classificationData, mobilenetV1, fit), with
 * every default of the classify app unless a flag changes it. A measurement tool, not a second CLI:
 * the final comparison runs the real CLI (tools/quality/compare.ts).
 *
 *   MOBILENETS_BACKEND=wasm node -r ./tools/ts-register.js tools/quality/train-variant.ts \
 *       --data /tmp/q/f6 --seed 0 [knobs] [--steps-log steps.jsonl] [--bn-log bn.jsonl]
 *
 * Knobs (each defaults to what the app does):
 *   --bn-momentum <m>         Keras convention (moving = m · moving + (1 − m) · batch)
 *   --init <scheme>           ours (the backbone's) | torchvision (He-normal fan-out convs, normal(0, 0.01) FC,
 *                             zero bias) | fc-small (ours, but the FC normal(0, 0.01))
 *   --eps-placement <p>       inside (tfjs: √(ms + ε)) | outside (PyTorch: √ms + ε, lr outside the momentum)
 *   --lr <x> --warmup-steps <n> --epochs <n> --dropout <rate> --weight-decay <x>
 *   --augment <a>             app (the app's default) | none | crop-flip (crops and flips, no colour jitter)
 *   --min-area <f>            the crop's smallest area fraction (with crops)
 *   --weights-seed <n>        seed of the initial weights (default: --seed)
 *   --save <dir>              save the trained model there (for tools/quality/diagnose.ts)
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem, setup } from '@mobilenets/runtime';
import { mobilenetV1 } from '@mobilenets/backbone';
import * as datasets from '@mobilenets/datasets';
import { FitCallback, fit, linearWarmup, paperSchedule, paperOptimizer, type TrainingData } from '@mobilenets/training';

/** PyTorch's RMSprop (ε outside the root, lr outside the momentum buffer), for the ε-placement test. */
class TorchRmsprop extends tf.Optimizer {
  static className = 'TorchRmsprop';
  private readonly slots = new Map<string, { v: tf.Variable; buf: tf.Variable }>();
  constructor(public learningRate: number, private readonly alpha = 0.9, private readonly momentum = 0.9, private readonly epsilon = 1) {
    super();
  }
  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const entries = Array.isArray(variableGradients) ? variableGradients.map((g) => [g.name, g.tensor] as const) : Object.entries(variableGradients);
    for (const [name, gradient] of entries) {
      const value = tf.engine().registeredVariables[name];
      let slot = this.slots.get(name);
      if (slot === undefined) {
        slot = { v: tf.variable(tf.zerosLike(value), false), buf: tf.variable(tf.zerosLike(value), false) };
        this.slots.set(name, slot);
      }
      const { v, buf } = slot;
      tf.tidy(() => {
        const newV = tf.add(tf.mul(v, this.alpha), tf.mul(tf.square(gradient), 1 - this.alpha));
        const newBuf = tf.add(tf.mul(buf, this.momentum), tf.div(gradient, tf.add(tf.sqrt(newV), this.epsilon)));
        v.assign(newV);
        buf.assign(newBuf);
        value.assign(tf.sub(value, tf.mul(newBuf, this.learningRate)));
      });
    }
    this.incrementIterations();
  }
  override dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.v, s.buf]);
  }
  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate };
  }
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

/** He-normal fan-out convs and normal(0, 0.01) FC with zero bias (torchvision's MobileNet init), seeded. */
function reinitialise(model: tfl.LayersModel, scheme: string, seed: number): void {
  if (scheme === 'ours') return;
  let k = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    k += 1;
    const s = seed * 1000 + k;
    if (cls === 'Dense') {
      const [kernel, bias] = ws;
      layer.setWeights([tf.randomNormal(kernel.shape, 0, 0.01, 'float32', s), tf.zerosLike(bias)]);
    } else if (scheme === 'torchvision' && (cls === 'Conv2D' || cls === 'DepthwiseConv2D')) {
      const [kh, kw, , out] = ws[0].shape;
      const fanOut = kh * kw * (cls === 'Conv2D' ? out : 1);
      layer.setWeights([tf.randomNormal(ws[0].shape, 0, Math.sqrt(2 / fanOut), 'float32', s)]);
    }
  }
}

/** Per-epoch statistics of every BN layer: |moving − batch| of mean and variance on the first training batch. */
function bnLogCallback(model: tfl.LayersModel, file: string, probe: tf.Tensor): FitCallback {
  const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  return {
    onEpochEnd(info) {
      // Batch statistics of each BN input for a fixed probe batch, against the moving averages.
      const inputs = bnLayers.map((l) => l.input as tfl.SymbolicTensor);
      const probeModel = tfl.model({ inputs: model.inputs, outputs: inputs });
      const outs = probeModel.predict(probe) as tf.Tensor[];
      const rows = bnLayers.map((l, i) => {
        const [, , movingMean, movingVar] = l.getWeights();
        const { mean, variance } = tf.moments(outs[i], [0, 1, 2]);
        const rel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.add(tf.norm(b), 1e-8)).dataSync()[0]);
        const row = { layer: l.name, meanError: rel(movingMean, mean), varError: rel(movingVar, variance), batchVar: tf.mean(variance).dataSync()[0] };
        tf.dispose([mean, variance]);
        return row;
      });
      tf.dispose(outs);
      fs.appendFileSync(file, `${JSON.stringify({ epoch: info.epoch, top1: info.val?.top1, rows })}\n`);
    },
  };
}

async function main(argv: string[]): Promise<void> {
  const data = arg(argv, 'data');
  if (data === undefined) throw new Error('--data <folder with train/ and val/> is required');
  const seed = Number(arg(argv, 'seed') ?? 0);
  const weightsSeed = Number(arg(argv, 'weights-seed') ?? seed);
  const epochs = Number(arg(argv, 'epochs') ?? 15);
  const lr = Number(arg(argv, 'lr') ?? 0.045);
  const warmup = Number(arg(argv, 'warmup-steps') ?? 0);
  const bnMomentum = arg(argv, 'bn-momentum') === undefined ? undefined : Number(arg(argv, 'bn-momentum')); // undefined: the backbone's default
  const dropout = arg(argv, 'dropout') === undefined ? undefined : Number(arg(argv, 'dropout'));
  const weightDecay = Number(arg(argv, 'weight-decay') ?? 4e-5);
  const init = arg(argv, 'init') ?? 'ours';
  const eps = arg(argv, 'eps-placement') ?? 'inside';
  const augment = arg(argv, 'augment') ?? 'app';
  const minArea = arg(argv, 'min-area');
  const inputSize = Number(arg(argv, 'input-size') ?? 64);
  const alpha = Number(arg(argv, 'alpha') ?? 0.25);
  const stepsLog = arg(argv, 'steps-log');
  const bnLog = arg(argv, 'bn-log');

  await setup({ log: null });
  const folder = await datasets.readImageFolder(data, { valFraction: 0.2, seed });
  let skipped = 0;
  const onSkip = () => (skipped += 1);
  const augmentOptions: datasets.AugmentOptions | false =
    augment === 'none' ? false : { ...(augment === 'crop-flip' ? { brightness: 0, contrast: [1, 1] as [number, number], saturation: [1, 1] as [number, number] } : {}), ...(minArea === undefined ? {} : { minArea: Number(minArea) }) };
  const train: TrainingData = datasets.classificationData(folder.train, folder.classes, { inputSize, augment: augmentOptions, onSkip });
  const val: TrainingData = datasets.classificationData(folder.val, folder.classes, { inputSize, augment: false, onSkip });
  const model = mobilenetV1({ widthMultiplier: alpha, inputSize, classes: folder.classes.length, dropout, batchNormMomentum: bnMomentum, seed: weightsSeed });
  reinitialise(model, init, weightsSeed);

  const callbacks: FitCallback[] = [];
  if (stepsLog !== undefined) {
    fs.writeFileSync(stepsLog, '');
    callbacks.push({ onStepEnd: (s) => fs.appendFileSync(stepsLog, `${JSON.stringify({ step: s.step, epoch: s.epoch, loss: s.loss, accuracy: s.metrics.accuracy, lr: s.lr })}\n`) });
  }
  let probe: tf.Tensor | null = null;
  if (bnLog !== undefined) {
    fs.writeFileSync(bnLog, '');
    const plain = datasets.classificationData(folder.train, folder.classes, { inputSize, augment: false, onSkip });
    for await (const b of plain.batches({ epoch: 0, batchSize: 64, seed: 1234, skip: 0 })) {
      probe = tf.tensor4d(b.images, b.shape);
      break;
    }
    callbacks.push(bnLogCallback(model, bnLog, probe!));
  }
  const base = paperSchedule(lr);
  const result = await fit(model, train, {
    epochs,
    seed,
    batchSize: 32,
    weightDecay,
    schedule: warmup > 0 ? linearWarmup(base, { steps: warmup }) : base,
    optimizer: eps === 'outside' ? () => new TorchRmsprop(lr) : () => paperOptimizer(lr),
    validation: val,
    callbacks,
  });
  probe?.dispose();
  const save = arg(argv, 'save');
  if (save !== undefined) await model.save(fileSystem(save));
  model.dispose();
  process.stdout.write(`${JSON.stringify({
    top1: result.val?.metrics.top1 ?? null,
    valLoss: result.val?.metrics.loss ?? null,
    trainLoss: result.history.at(-1)?.train.loss ?? null,
    seconds: result.seconds,
    skippedImages: skipped,
    history: result.history.map((h) => ({ epoch: h.epoch, train: h.train, val: h.val })),
    config: { data, seed, weightsSeed, epochs, lr, warmup, bnMomentum, dropout, weightDecay, init, eps, augment, minArea: minArea ?? null, inputSize, alpha },
  })}\n`);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
