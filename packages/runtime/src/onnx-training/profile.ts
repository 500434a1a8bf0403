/**
 * Where a compiled training step spends its time: runs it with onnxruntime's profiler on and sums the
 * node times by operator and by role (forward, each kind of gradient, batch norm, activation masks,
 * optimizer), read from the names the emitters give their nodes. tools/bench/ort-train-profile.ts prints it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { uniformArray } from '@mobilenets/random';
import { paperOptimizer } from '@mobilenets/training';
import { compileTrainingStep } from './compile';
import { classificationLoss } from './losses';
import { nchwcBlockSize } from './nchwc';
import { stepOptimizer } from './optimizers';
import { DEFAULT_TRAINING_THREADS } from './runner';

export interface StepProfilePart {
  name: string;
  msPerStep: number;
  percent: number;
}

export interface StepProfile {
  msPerStep: number;
  imagesPerSecond: number;
  byRole: StepProfilePart[];
  byOperator: StepProfilePart[];
  /** The 100 slowest nodes, slowest first, each named `node (Operator, role)`. */
  byNode: StepProfilePart[];
}

const ROLES: [RegExp, string][] = [
  [/^opt_/, 'optimizer update'],
  [/_dWconv|_dWim2col|_dWcols|_dWmm|_dWsum|_dWt|_dWpairs|_dWcrop|_dWr|_dWA|_dW$|_xF|_dzF|_dzT|_xT|_dzR|_xR|_dyT/, 'filter gradients'],
  [/_dx(_|$)|_Wflip|_Wt$/, 'input gradients'],
  [/_mask|_grad|_pos|_below|_inside/, 'activation backward'],
  [/_sumdy|_dyx|_sumdyx|_sumdyxc|_dy_nchwc|_Qc|_dyF|_xK|_dxaffine|_dxv|_[PQ]$|_Pneg|_Qdy|_Pmean|_Ady4|_A4|_dgamma|_centred|_invstd|_std|_vareps|_Ady|_Bmean|_Bneg|_Ainv|_[ABC]$|_Cdy/, 'batch norm backward'],
  [/_sum_hw|_sum_n|_sum$|_sumsq|_mean|_negmean|_xc_nchwc|_var|_moving/, 'batch norm statistics'],
  [/^decay_|^grad_w/, 'weight decay'],
];

function roleOf(node: string, op: string): string {
  const role = ROLES.find(([re]) => re.test(node))?.[1] ?? 'forward';
  const convolution = ['Conv', 'ConvTranspose', 'FusedMatMul', 'MatMul'].includes(op);
  const kind = /depthwise/.test(node) ? ' (depthwise)' : /pointwise/.test(node) ? ' (pointwise)' : '';
  return convolution ? `${role}${kind}` : role;
}

/** Profiles `steps` classification training steps (RMSprop, weight decay 4e-5) of `model` at `batch` on random data. */
export async function profileTrainingStep(model: tfl.LayersModel, options: { batch: number; steps: number; nchwc?: boolean }): Promise<StepProfile> {
  const { batch, steps } = options;
  const [, ...imageShape] = model.inputs[0].shape as number[];
  const classes = (model.outputs[0].shape as number[])[1];
  const compiled = compileTrainingStep(model, {
    loss: classificationLoss(), optimizer: stepOptimizer(paperOptimizer()), weightDecay: 4e-5,
    batchShapes: { images: [batch, ...imageShape], labels: [batch] }, nchwcBlock: options.nchwc === false ? null : await nchwcBlockSize(),
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-step-profile-'));
  try {
    const session = await ort.InferenceSession.create(compiled.bytes, {
      intraOpNumThreads: DEFAULT_TRAINING_THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: path.join(dir, 'step'),
    });
    const zeros = (shape: number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1));
    const feeds: Record<string, ort.Tensor> = {};
    const variables = model.weights; // tfjs-layers builds these lists anew at each access: read once
    const trainable = model.trainableWeights;
    for (const [i, input] of compiled.weightInputs) feeds[input] = new ort.Tensor('float32', variables[i].read().dataSync() as Float32Array, variables[i].shape as number[]);
    compiled.slotInputs.forEach((inputs) => {
      for (const [t, input] of inputs) feeds[input] = new ort.Tensor('float32', zeros(trainable[t].shape as number[]), trainable[t].shape as number[]);
    });
    for (const input of Object.values(compiled.scalarInputs)) feeds[input] = new ort.Tensor('float32', Float32Array.of(0.01), []);
    feeds[compiled.batchInputs.images] = new ort.Tensor('float32', uniformArray(batch * imageShape.reduce((a, b) => a * b, 1), 1, -1, 1), [batch, ...imageShape]);
    feeds[compiled.batchInputs.labels] = new ort.Tensor('int32', Int32Array.from({ length: batch }, (_, i) => i % classes), [batch]);
    for (const m of compiled.masks) feeds[m.input] = new ort.Tensor('float32', zeros(m.shape).fill(1), m.shape);
    await session.run(feeds);
    const started = performance.now();
    for (let s = 0; s < steps; s++) await session.run(feeds);
    const msPerStep = (performance.now() - started) / steps;
    session.endProfiling();
    await session.release();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (file === undefined) throw new Error(`profileTrainingStep: onnxruntime wrote no profile into ${dir}`);
    const all = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; ts: number; args?: { op_name?: string } }[];
    // Without the warm-up run: its first touches of the step's memory land on the forward's nodes (a
    // pointwise filter's Transpose read 9.6 ms a step with it, 0.3 ms without).
    const runs = all.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
    const timed = runs.length === steps + 1 ? runs[1].ts : -Infinity;
    const events = all.filter((e) => e.ts >= timed);
    const profiledRuns = timed === -Infinity ? steps + 1 : steps;
    const byRole = new Map<string, number>();
    const byOperator = new Map<string, number>();
    const byNode = new Map<string, number>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      const role = roleOf(e.name.slice(0, -'_kernel_time'.length), op);
      byRole.set(role, (byRole.get(role) ?? 0) + e.dur);
      byOperator.set(op, (byOperator.get(op) ?? 0) + e.dur);
      const node = `${e.name.slice(0, -'_kernel_time'.length)} (${op}, ${role})`;
      byNode.set(node, (byNode.get(node) ?? 0) + e.dur);
      total += e.dur;
    }
    const parts = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, msPerStep: us / 1000 / profiledRuns, percent: (100 * us) / total }));
    return { msPerStep, imagesPerSecond: (1000 * batch) / msPerStep, byRole: parts(byRole), byOperator: parts(byOperator), byNode: parts(byNode).slice(0, 100) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
