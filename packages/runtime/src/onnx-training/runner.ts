/**
 * The onnxruntime training engine: a step runner for training's `fit` that runs each optimizer step as
 * one compiled ONNX graph (../onnx-training/compile.ts) on onnxruntime-node's native kernels. Weights,
 * moving statistics and optimizer slots live here between steps (as the graph's last outputs, fed back
 * as its next inputs); `sync` hands them to fit's model and optimizer, in tfjs' own layout, so
 * validation, checkpoints and resume work as with the tfjs engine.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { hashSeed, mulberry32 } from '@mobilenets/random';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { RunnerBatchMoments, RunnerContext, RunnerInference, StepBatch, StepResult, StepRunner, StepRunnerFactory } from '@mobilenets/training';
import { batchNormLayers, checkStepBatch, movingStatistic, stepSeed } from '@mobilenets/training';
import { modelToOnnx } from '../onnx/export';
import { CompiledStep, compileTrainingStep } from './compile';
import type { LayerEmitter } from './emitter';
import type { StepLoss } from './losses';
import { nchwcBlockSize } from './nchwc';
import { StepOptimizer, stepOptimizer } from './optimizers';
import { splitBackwardLoss, splitForwardLoss, splitGradientInput } from './split';

/** onnxruntime's intra-op threads when the options name none: these machines' two cores. */
export const DEFAULT_TRAINING_THREADS = 2;

export interface OnnxTrainingOptions {
  /**
   * The task's loss in step-graph form (e.g. `classificationLoss()` for `classificationTask()`), or
   * 'split': the task's own tfjs loss between a compiled forward half and a compiled backward half
   * (./split.ts) — for a task whose loss has no step-graph form; it runs the forward pass twice.
   */
  loss: StepLoss | 'split';
  /** With loss 'split': the batch tensors the model's inputs take, in order. Default ['images']. */
  modelInputs?: readonly string[];
  /** Intra-op threads; default {@link DEFAULT_TRAINING_THREADS}. */
  threads?: number;
  /**
   * Let onnxruntime's threads spin while waiting for work: 10–20 % faster on an idle machine, about
   * 45 % slower when another process competes for the cores (reference/ort_training.md). Default false.
   */
  spin?: boolean;
  /** Extra or replacement layer emitters, by tfjs class name. */
  emitters?: Readonly<Record<string, LayerEmitter>>;
  /** Depthwise convolutions through onnxruntime's NCHWc kernels where the channels allow (./nchwc.ts). Default true. */
  nchwc?: boolean;
}

interface CompiledSession {
  compiled: CompiledStep;
  session: ort.InferenceSession;
}

/** The graphs of one batch shape: the whole step, or (split loss) the forward half and the backward half. */
type StepSessions = { kind: 'whole'; step: CompiledSession } | { kind: 'split'; forward: CompiledSession; backward: CompiledSession };

export class OnnxTrainingRunner implements StepRunner {
  private readonly sessions = new Map<string, Promise<StepSessions>>();
  /** Forward halves for batch statistics (batchMoments), by batch shape. */
  private readonly forwardSessions = new Map<string, Promise<CompiledSession>>();

  private constructor(
    private readonly context: RunnerContext,
    private readonly options: OnnxTrainingOptions,
    private readonly optimizer: StepOptimizer,
    private readonly state: RunnerState,
    private readonly nchwcBlock: number | null,
  ) {}

  static async create(context: RunnerContext, options: OnnxTrainingOptions): Promise<OnnxTrainingRunner> {
    const optimizer = stepOptimizer(context.optimizer);
    const state = await readRunnerState(context, optimizer);
    const nchwcBlock = options.nchwc === false ? null : await nchwcBlockSize();
    return new OnnxTrainingRunner(context, options, optimizer, state, nchwcBlock);
  }

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    return trainingSessionOptions(this.options);
  }

  private async compile(loss: StepLoss, shapes: Record<string, readonly number[]>): Promise<CompiledSession> {
    const compiled = compileTrainingStep(this.context.model, {
      loss, optimizer: this.optimizer, weightDecay: this.context.weightDecay, batchShapes: shapes, emitters: this.options.emitters, nchwcBlock: this.nchwcBlock,
    });
    const session = await ort.InferenceSession.create(compiled.bytes, this.sessionOptions());
    return { compiled, session };
  }

  /**
   * Batch-norm statistics on onnxruntime: the forward half of a split step (training mode, the batch's
   * statistics; compiled once per batch shape and kept) fed `model`'s current weights with every moving
   * statistic set to 0, so that each layer's new moving value, 0 − (0 − batch)·(1 − momentum), is its
   * batch statistic times (1 − momentum). Only for the model this runner trains (the same layers and weights
   * list; under EMA it holds the averaged weights); undefined for another model or one without batch norm.
   */
  batchMoments(model: tfl.LayersModel): RunnerBatchMoments | undefined {
    if (model !== this.context.model) return undefined;
    const layers = batchNormLayers(model);
    if (layers.length === 0) return undefined;
    const index = new Map(model.weights.map((w, i) => [w, i]));
    const statistics = layers.map((l) => ({
      momentum: (l as unknown as { momentum: number }).momentum,
      mean: index.get(movingStatistic(l, 'moving_mean')) as number,
      variance: index.get(movingStatistic(l, 'moving_variance')) as number,
    }));
    const weights = model.weights.map((w) => w.read().dataSync().slice() as Float32Array);
    for (const s of statistics) {
      weights[s.mean] = new Float32Array(weights[s.mean].length);
      weights[s.variance] = new Float32Array(weights[s.variance].length);
    }
    const modelInputs = this.options.modelInputs ?? ['images'];
    return {
      moments: async (batch) => {
        const inputs: StepBatch = { examples: batch.examples, tensors: Object.fromEntries(modelInputs.map((name) => [name, batch.tensors[name]])) };
        const { compiled, session } = await this.forwardSession(modelInputs, inputs);
        const results = await session.run(this.feeds(compiled, inputs, 0, 0, weights));
        const read = (i: number, momentum: number) => {
          const output = compiled.weightOutputs.get(i);
          if (output === undefined) throw new Error(`onnxruntime batch statistics: the forward graph does not update weight ${i} (${model.weights[i].name}).`);
          return (results[output].data as Float32Array).map((v) => v / (1 - momentum));
        };
        return statistics.map((s) => ({ mean: read(s.mean, s.momentum), variance: read(s.variance, s.momentum) }));
      },
      dispose: async () => {},
    };
  }

  /** The forward half of a split step for these model inputs' shapes (compiled at the first use, kept until dispose). */
  private forwardSession(modelInputs: readonly string[], batch: StepBatch): Promise<CompiledSession> {
    const { shapes, key } = batchShapes(batch);
    let entry = this.forwardSessions.get(key);
    if (entry === undefined) {
      entry = this.compile(splitForwardLoss(modelInputs), shapes);
      this.forwardSessions.set(key, entry);
    }
    return entry;
  }

  /**
   * Validation's forward pass on onnxruntime: `model` as it is now, exported for inference (../onnx/export.ts:
   * batch norm folded, dropout dropped), one session opened at the first batch. Where the exporter has no
   * converter for one of the model's layers (or the model takes more than one input), undefined: tfjs predicts.
   */
  inference(model: tfl.LayersModel): RunnerInference | undefined {
    if (model.inputs.length !== 1) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = modelToOnnx(model);
    } catch {
      return undefined;
    }
    let session: Promise<ort.InferenceSession> | null = null;
    const open = () => (session ??= ort.InferenceSession.create(bytes, this.sessionOptions()));
    return {
      predict: async (images, shape) => {
        const s = await open();
        const results = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', images, [...shape]) });
        return s.outputNames.map((name) => results[name].data as Float32Array);
      },
      dispose: async () => {
        if (session !== null) await (await session).release();
      },
    };
  }

  private sessionsFor(batch: StepBatch): Promise<StepSessions> {
    const { shapes, key } = batchShapes(batch);
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      const { loss } = this.options;
      if (loss !== 'split') {
        entry = this.compile(loss, shapes).then((step) => ({ kind: 'whole' as const, step }));
      } else {
        entry = (async () => {
          const modelInputs = this.options.modelInputs ?? ['images'];
          const forward = await this.compile(splitForwardLoss(modelInputs), shapes);
          const gradientShapes = Object.fromEntries(this.context.model.outputs.map((_o, k) => [splitGradientInput(k), this.shapeOfOutput(k, batch.examples)]));
          const backward = await this.compile(splitBackwardLoss(modelInputs, this.context.model.outputs.length), { ...shapes, ...gradientShapes });
          return { kind: 'split' as const, forward, backward };
        })();
      }
      this.sessions.set(key, entry);
    }
    return entry;
  }

  /** The feeds of a compiled step: weights (the runner's, or `weights`), slots, the optimizer's scalars, the batch's tensors and the dropout masks. */
  private feeds(compiled: CompiledStep, batch: StepBatch, lr: number, step: number, weights: Float32Array[] = this.state.weights): Record<string, ort.Tensor> {
    return stepFeeds(compiled, IDENTITY_MAP, this.state, this.optimizer, { batch, lr, step, seed: this.context.seed, weights });
  }

  async step(batch: StepBatch, { lr, step }: { lr: number; step: number }): Promise<StepResult> {
    checkStepBatch(batch, 'onnxruntime training');
    const sessions = await this.sessionsFor(batch);
    if (sessions.kind === 'whole') {
      const { compiled, session } = sessions.step;
      const read = this.apply(compiled, await session.run(this.feeds(compiled, batch, lr, step)));
      const losses = Object.fromEntries(Object.entries(compiled.lossOutputs).map(([name, output]) => [name, read(output)[0]]));
      const metrics = Object.fromEntries(Object.entries(compiled.metricOutputs).map(([name, output]) => [name, read(output)[0]]));
      return stepResult(losses, metrics, batch.examples);
    }
    // Split: the forward half's outputs → tfjs' loss and its gradient → the backward half.
    const { forward, backward } = sessions;
    const outputs = await forward.session.run(this.feeds(forward.compiled, batch, lr, step));
    const { model, task } = this.context;
    const host = tf.tidy(() => {
      const values = model.outputs.map((_o, k) => tf.variable(tf.tensor(outputs[forward.compiled.tensorOutputs[`output_${k}`]].data as Float32Array, this.shapeOfOutput(k, batch.examples))));
      const tensors: tf.NamedTensorMap = Object.fromEntries(Object.entries(batch.tensors).map(([name, t]) => [name, tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32')]));
      // The task's loss reads the model's outputs through `model.apply`: a stand-in that returns them.
      const standIn = { apply: () => (values.length === 1 ? values[0] : values) } as unknown as typeof model;
      let parts: Record<string, number> = {};
      let metrics: Record<string, number> = {};
      const { grads } = tf.variableGrads(() => {
        const taskLoss = task.loss(standIn, tensors);
        parts = Object.fromEntries(Object.entries(taskLoss.losses).map(([name, t]) => [name, t.dataSync()[0]]));
        metrics = Object.fromEntries(Object.entries(taskLoss.metrics ?? {}).map(([name, t]) => [name, t.dataSync()[0]]));
        return tf.addN(Object.values(taskLoss.losses)) as tf.Scalar;
      }, values);
      const gradients = values.map((v) => (grads[v.name]?.dataSync() as Float32Array | undefined) ?? new Float32Array(v.size));
      values.forEach((v) => v.dispose());
      return { parts, metrics, gradients };
    });
    const gradientTensors = Object.fromEntries(host.gradients.map((g, k) => [splitGradientInput(k), { data: g, shape: this.shapeOfOutput(k, batch.examples) }]));
    const withGradients: StepBatch = { ...batch, tensors: { ...batch.tensors, ...gradientTensors } };
    const read = this.apply(backward.compiled, await backward.session.run(this.feeds(backward.compiled, withGradients, lr, step)));
    const losses = { ...host.parts, ...Object.fromEntries(Object.entries(backward.compiled.lossOutputs).map(([name, output]) => [name, read(output)[0]])) };
    return stepResult(losses, host.metrics, batch.examples);
  }

  private shapeOfOutput(k: number, examples: number): number[] {
    return this.context.model.outputs[k].shape.map((d, i) => (i === 0 ? examples : (d as number)));
  }

  /** Takes the step's new weights, statistics and slots; returns a reader of its other outputs. */
  private apply(compiled: CompiledStep, results: ort.InferenceSession.OnnxValueMapType): (name: string) => Float32Array {
    const read = applyStepOutputs(compiled, IDENTITY_MAP, this.state, results);
    this.state.iterations += 1;
    return read;
  }

  async sync(options: { weights?: boolean; optimizer?: boolean } = {}): Promise<void> {
    await syncRunnerState(this.context, this.optimizer, this.state, options);
  }

  async dispose(): Promise<void> {
    const sessions = await Promise.all(this.sessions.values());
    this.sessions.clear();
    const forwards = await Promise.all(this.forwardSessions.values());
    this.forwardSessions.clear();
    await Promise.all(forwards.map((c) => c.session.release()));
    await Promise.all(sessions.flatMap((s) => (s.kind === 'whole' ? [s.step] : [s.forward, s.backward])).map((c) => c.session.release()));
  }
}

/** What an onnxruntime runner holds between steps: every model weight (model.weights order), the optimizer's slots and step count. */
export interface RunnerState {
  weights: Float32Array[];
  /** Optimizer slots: [slot][trainable index]. */
  slots: Float32Array[][];
  iterations: number;
  /**
   * The shapes of model.weights and of model.trainableWeights, read once: tfjs-layers builds both lists
   * anew from every layer at each access, and a step's feeds asked for them once per weight — 15 ms of
   * a 150 ms step at V1 0.25-128 b32.
   */
  weightShapes: number[][];
  trainableShapes: number[][];
}

/** The runner's state from fit's model and optimizer (weights and slots as loaded: fresh, or a checkpoint's). */
export async function readRunnerState(context: RunnerContext, optimizer: StepOptimizer): Promise<RunnerState> {
  const { model } = context;
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  const trainable = model.trainableWeights;
  const named = await context.optimizer.getWeights();
  const iterations = named.length > 0 ? (named[0].tensor.dataSync()[0] as number) : 0;
  const state = named.slice(1);
  let slots: Float32Array[][];
  if (state.length === 0) {
    slots = optimizer.slots.map(() => trainable.map((w) => new Float32Array((w.shape as number[]).reduce((a, b) => a * b, 1))));
  } else if (state.length === optimizer.slots.length * trainable.length) {
    slots = optimizer.slots.map((_, k) => trainable.map((_w, t) => state[k * trainable.length + t].tensor.dataSync().slice() as Float32Array));
  } else {
    throw new RangeError(`onnxruntime training: the ${optimizer.className} optimizer holds ${state.length} state tensors; expected ${optimizer.slots.length} per trainable weight (${trainable.length}).`);
  }
  tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  return { weights, slots, iterations, weightShapes: model.weights.map((w) => w.shape as number[]), trainableShapes: trainable.map((w) => w.shape as number[]) };
}

/** Hands the runner's state to fit's model (weights) and optimizer (`optimizer: true`), in tfjs' layout. */
export async function syncRunnerState(context: RunnerContext, optimizer: StepOptimizer, state: RunnerState, options: { weights?: boolean; optimizer?: boolean }): Promise<void> {
  const { model } = context;
  if (options.weights !== false) {
    const tensors = state.weights.map((w, i) => tf.tensor(w, state.weightShapes[i]));
    model.setWeights(tensors);
    tf.dispose(tensors);
  }
  if (options.optimizer) {
    const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const incoming = [
      { name: 'iter', tensor: tf.scalar(state.iterations, 'int32') },
      ...optimizer.slots.flatMap((slot, k) => state.slots[k].map((values, t) => ({ name: `${names[t]}/${slot}`, tensor: tf.tensor(values, state.trainableShapes[t]) }))),
    ];
    const previous = await context.optimizer.getWeights();
    await context.optimizer.setWeights(incoming);
    tf.dispose(incoming.map((s) => s.tensor));
    tf.dispose(previous.map((w) => w.tensor));
  }
}

/** onnxruntime's session options for training graphs. */
export function trainingSessionOptions(options: { threads?: number; spin?: boolean }): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: options.threads ?? DEFAULT_TRAINING_THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: options.spin === true ? '1' : '0' } } },
  };
}

/**
 * Where a compiled graph's weights live in the runner's state: the graph's model may be a part of the
 * runner's model (a Faster R-CNN's stage), whose weight k is the runner's weight `weights[k]` and whose
 * trainable weight t is the runner's trainable weight `trainable[t]`. Null: the runner's own model.
 */
export type WeightMap = { weights: readonly number[]; trainable: readonly number[] } | null;

const IDENTITY_MAP: WeightMap = null;

/** The feeds of a compiled step: weights, slots, the optimizer's scalars, the batch's tensors and the dropout masks. */
export function stepFeeds(
  compiled: CompiledStep, map: WeightMap, state: RunnerState, optimizer: StepOptimizer,
  { batch, lr, step, seed, weights = state.weights }: { batch: StepBatch; lr: number; step: number; seed: number; weights?: Float32Array[] },
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [j, input] of compiled.weightInputs) {
    const i = map === null ? j : map.weights[j];
    feeds[input] = new ort.Tensor('float32', weights[i], state.weightShapes[i]);
  }
  compiled.slotInputs.forEach((inputs, k) => {
    for (const [u, input] of inputs) {
      const t = map === null ? u : map.trainable[u];
      feeds[input] = new ort.Tensor('float32', state.slots[k][t], state.trainableShapes[t]);
    }
  });
  for (const [name, value] of Object.entries(optimizer.scalars(lr, state.iterations))) feeds[compiled.scalarInputs[name]] = new ort.Tensor('float32', Float32Array.of(value), []);
  for (const [name, input] of Object.entries(compiled.batchInputs)) {
    const t = batch.tensors[name];
    if (t === undefined) throw new RangeError(`onnxruntime training: the batch has no tensor '${name}' (it has ${Object.keys(batch.tensors).join(', ')}).`);
    feeds[input] = t.data instanceof Int32Array ? new ort.Tensor('int32', t.data, t.shape) : new ort.Tensor('float32', t.data, t.shape);
  }
  const maskSeed = stepSeed(seed, step);
  for (const m of compiled.masks) feeds[m.input] = new ort.Tensor('float32', dropoutMask(m.shape, m.rate, hashSeed(maskSeed, m.layerIndex)), m.shape);
  return feeds;
}

/** Takes a step's new weights, statistics and slots into the state (not the step count); returns a reader of its other outputs. */
export function applyStepOutputs(compiled: CompiledStep, map: WeightMap, state: RunnerState, results: ort.InferenceSession.OnnxValueMapType): (name: string) => Float32Array {
  // onnxruntime-node copies every output into its own new array: kept as they are, fed back next step.
  const read = (name: string) => results[name].data as Float32Array;
  for (const [j, output] of compiled.weightOutputs) state.weights[map === null ? j : map.weights[j]] = read(output);
  compiled.slotOutputs.forEach((outputs, k) => {
    for (const [u, output] of outputs) state.slots[k][map === null ? u : map.trainable[u]] = read(output);
  });
  return read;
}

/** The shapes of a batch's tensors, and the key of the graphs compiled for them (shapes are static in a graph). */
export function batchShapes(batch: StepBatch): { shapes: Record<string, readonly number[]>; key: string } {
  const shapes: Record<string, readonly number[]> = Object.fromEntries(Object.entries(batch.tensors).map(([name, t]) => [name, t.shape]));
  return { shapes, key: JSON.stringify(shapes) };
}

/** A step's result: its loss is the sum of the named parts. */
export function stepResult(losses: Record<string, number>, metrics: Record<string, number>, examples: number): StepResult {
  return { loss: Object.values(losses).reduce((a, b) => a + b, 0), losses, metrics, examples };
}

/** A dropout mask: each value kept with probability 1 − rate (and scaled by 1 / (1 − rate)) or 0, from a seeded stream. */
export function dropoutMask(shape: readonly number[], rate: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < mask.length; i++) mask[i] = random() < rate ? 0 : keep;
  return mask;
}

/** Trains on onnxruntime: one compiled graph per step (forward, the task's loss, backward, weight decay, optimizer update). */
export function onnxTrainingRunner(options: OnnxTrainingOptions): StepRunnerFactory {
  return (context) => OnnxTrainingRunner.create(context, options);
}
