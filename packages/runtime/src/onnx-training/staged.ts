/**
 * The onnxruntime engine for a model trained in stages with host work between them (a Faster R-CNN: the
 * first stage's outputs choose proposals, the host crops them, the second stage learns from the crops,
 * the crops' gradient flows back into the first stage). Each stage is a sub-model of fit's model — its
 * layers and weights are the model's — compiled as its own graphs:
 *
 *   'split' stage   a forward half (outputs in tfjs' layout) and a backward half that runs the forward
 *                   pass again and the backward pass from gradients the host computed (./split.ts);
 *   loss stage      one whole step: forward, a compiled loss, backward, and (`inputGradients`) the
 *                   gradient of the loss with respect to the stage's inputs, handed back to the host.
 *
 * Every graph updates the weights it reaches with the same optimizer, learning rate and step count, as
 * one optimizer over the whole model would (the optimizers' updates are per weight). The caller's `step`
 * composes the stages and the host work; weights, moving statistics and slots live here between steps,
 * and `sync` hands them to fit's model and optimizer as the single-graph runner does.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import type { RunnerContext, StepBatch, StepResult, StepRunner, StepRunnerFactory } from '@mobilenets/training';
import { checkStepBatch } from '@mobilenets/training';
import { CompiledStep, compileTrainingStep } from './compile';
import type { LayerEmitter } from './emitter';
import { TRAINING_EMITTERS } from './layers';
import type { StepLoss } from './losses';
import { nchwcBlockSize } from './nchwc';
import { StepOptimizer, stepOptimizer } from './optimizers';
import { applyStepOutputs, batchShapes, readRunnerState, RunnerState, stepFeeds, syncRunnerState, trainingSessionOptions, WeightMap } from './runner';
import { splitBackwardLoss, splitForwardLoss, splitGradientInput } from './split';

/** One stage: a sub-model of the runner's model and how it learns. */
export interface StageSpec {
  /** A model built from the runner's model's layers (e.g. `tfl.model({inputs, outputs})` over some of its tensors). */
  model: tfl.LayersModel;
  /** Its compiled loss (the stage runs as one whole step), or 'split': forward and backward halves around the host. */
  loss: StepLoss | 'split';
  /** With 'split': the batch tensors its inputs take, in order. Default ['images']. */
  modelInputs?: readonly string[];
  /** With a compiled loss: also return the loss's gradient with respect to the stage's inputs. Default false. */
  inputGradients?: boolean;
  /** Emitters that replace the default ones, by tfjs class name (e.g. a layer whose work the host does). */
  emitters?: Readonly<Record<string, LayerEmitter>>;
}

/** A tensor handed between the host and a stage: values in tfjs' layout (NHWC) and shape. */
export interface HostTensor {
  data: Float32Array;
  shape: number[];
}

/** A stage as the caller's step sees it, bound to the step's learning rate and number. */
export interface TrainingStage {
  /** 'split' stage: its outputs in training mode (batch statistics), model.outputs order. */
  forward(batch: StepBatch): Promise<HostTensor[]>;
  /**
   * 'split' stage: the backward pass from d loss / d (each output) — zeros where null — and the update of
   * the weights it reaches; returns the loss parts the graph computes itself (the weight-decay penalty).
   */
  backward(batch: StepBatch, outputGradients: readonly (Float32Array | null)[]): Promise<{ losses: Record<string, number> }>;
  /** Loss stage: forward, loss, backward and update; the loss parts and metrics, and the input gradients (by batch tensor name) when asked. */
  step(batch: StepBatch): Promise<{ losses: Record<string, number>; metrics: Record<string, number>; inputGradients: Record<string, HostTensor> }>;
}

export interface OnnxStagedTrainingOptions {
  /** The stages of fit's model, built once when the runner starts. */
  stages(model: tfl.LayersModel): StageSpec[];
  /** One optimizer step: the stages in the order `stages` gave them, and the host work between them. */
  step(stages: TrainingStage[], batch: StepBatch): Promise<StepResult>;
  /** Intra-op threads; default 2 (DEFAULT_TRAINING_THREADS). */
  threads?: number;
  /** Spinning threads (see OnnxTrainingOptions.spin). Default false. */
  spin?: boolean;
  /** Depthwise convolutions through onnxruntime's NCHWc kernels where the channels allow. Default true. */
  nchwc?: boolean;
}

interface CompiledSession {
  compiled: CompiledStep;
  session: ort.InferenceSession;
}

interface Stage {
  spec: StageSpec;
  map: WeightMap;
  /** Compiled graphs by kind and batch shape. */
  sessions: Map<string, Promise<CompiledSession>>;
}

/** A graph's scalar outputs (loss parts, metrics) by name. */
function scalars(read: (output: string) => Float32Array, outputs: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, read(output)[0]]));
}

/** The stage's weights as positions in the runner's model's lists (they must all be the model's). */
function weightMap(model: tfl.LayersModel, stage: tfl.LayersModel, k: number): WeightMap {
  const index = new Map(model.weights.map((w, i) => [w, i]));
  const trainableIndex = new Map(model.trainableWeights.map((w, t) => [w, t]));
  const find = <T>(table: Map<unknown, T>, w: unknown, name: string): T => {
    const i = table.get(w);
    if (i === undefined) throw new RangeError(`onnxruntime staged training: stage ${k} ('${stage.name}') has weight '${name}', which is not one of model '${model.name}''s.`);
    return i;
  };
  return {
    weights: stage.weights.map((w) => find(index, w, w.name)),
    trainable: stage.trainableWeights.map((w) => find(trainableIndex, w, w.name)),
  };
}

export class OnnxStagedTrainingRunner implements StepRunner {
  private constructor(
    private readonly context: RunnerContext,
    private readonly options: OnnxStagedTrainingOptions,
    private readonly optimizer: StepOptimizer,
    private readonly state: RunnerState,
    private readonly stages: Stage[],
    private readonly nchwcBlock: number | null,
  ) {}

  static async create(context: RunnerContext, options: OnnxStagedTrainingOptions): Promise<OnnxStagedTrainingRunner> {
    const optimizer = stepOptimizer(context.optimizer);
    const state = await readRunnerState(context, optimizer);
    const stages = options.stages(context.model).map((spec, k) => {
      if (spec.loss === 'split' && spec.inputGradients === true) throw new RangeError(`onnxruntime staged training: stage ${k} ('${spec.model.name}') is split; input gradients come from a stage with a compiled loss.`);
      return { spec, map: weightMap(context.model, spec.model, k), sessions: new Map<string, Promise<CompiledSession>>() };
    });
    const nchwcBlock = options.nchwc === false ? null : await nchwcBlockSize();
    return new OnnxStagedTrainingRunner(context, options, optimizer, state, stages, nchwcBlock);
  }

  private session(stage: Stage, kind: 'forward' | 'backward' | 'step', batch: StepBatch): Promise<CompiledSession> {
    // Keyed by the tensors the graph reads only: a batch's other tensors (ground truth padded to its most objects) vary.
    const { spec } = stage;
    const reads = new Set(spec.loss === 'split' ? [...(spec.modelInputs ?? ['images']), ...(kind === 'backward' ? spec.model.outputs.map((_o, j) => splitGradientInput(j)) : [])] : [...spec.loss.modelInputs, ...Object.keys(spec.loss.targets)]);
    const { shapes, key } = batchShapes({ examples: batch.examples, tensors: Object.fromEntries(Object.entries(batch.tensors).filter(([name]) => reads.has(name))) });
    const cacheKey = `${kind}:${key}`;
    let entry = stage.sessions.get(cacheKey);
    if (entry === undefined) {
      const modelInputs = spec.modelInputs ?? ['images'];
      const loss = spec.loss === 'split' ? (kind === 'forward' ? splitForwardLoss(modelInputs) : splitBackwardLoss(modelInputs, spec.model.outputs.length)) : spec.loss;
      entry = (async () => {
        const compiled = compileTrainingStep(spec.model, {
          loss, optimizer: this.optimizer, weightDecay: this.context.weightDecay, batchShapes: shapes, nchwcBlock: this.nchwcBlock,
          emitters: spec.emitters === undefined ? undefined : { ...TRAINING_EMITTERS, ...spec.emitters },
          inputGradients: spec.inputGradients === true && kind === 'step',
        });
        const session = await ort.InferenceSession.create(compiled.bytes, trainingSessionOptions(this.options));
        return { compiled, session };
      })();
      stage.sessions.set(cacheKey, entry);
    }
    return entry;
  }

  private outputShape(stage: Stage, k: number, examples: number): number[] {
    return stage.spec.model.outputs[k].shape.map((d, i) => (i === 0 ? examples : (d as number)));
  }

  private bind(stage: Stage, k: number, lr: number, step: number): TrainingStage {
    const name = `stage ${k} ('${stage.spec.model.name}')`;
    const feeds = (compiled: CompiledStep, batch: StepBatch) => stepFeeds(compiled, stage.map, this.state, this.optimizer, { batch, lr, step, seed: this.context.seed });
    const split = (what: string) => {
      if (stage.spec.loss !== 'split') throw new Error(`onnxruntime staged training: ${what} of ${name}, which has a compiled loss (use step).`);
    };
    return {
      forward: async (batch) => {
        split('forward');
        const { compiled, session } = await this.session(stage, 'forward', batch);
        const results = await session.run(feeds(compiled, batch));
        return stage.spec.model.outputs.map((_o, j) => ({ data: results[compiled.tensorOutputs[`output_${j}`]].data as Float32Array, shape: this.outputShape(stage, j, batch.examples) }));
      },
      backward: async (batch, outputGradients) => {
        split('backward');
        const tensors = { ...batch.tensors };
        stage.spec.model.outputs.forEach((_o, j) => {
          const shape = this.outputShape(stage, j, batch.examples);
          const size = shape.reduce((a, b) => a * b, 1);
          const g = outputGradients[j] ?? new Float32Array(size);
          if (g.length !== size) throw new RangeError(`onnxruntime staged training: the gradient of ${name}'s output ${j} has ${g.length} values; expected ${size} ([${shape}]).`);
          tensors[splitGradientInput(j)] = { data: g, shape };
        });
        const withGradients: StepBatch = { ...batch, tensors };
        const { compiled, session } = await this.session(stage, 'backward', withGradients);
        const read = applyStepOutputs(compiled, stage.map, this.state, await session.run(feeds(compiled, withGradients)));
        return { losses: scalars(read, compiled.lossOutputs) };
      },
      step: async (batch) => {
        if (stage.spec.loss === 'split') throw new Error(`onnxruntime staged training: step of ${name}, which is split (use forward and backward).`);
        const { compiled, session } = await this.session(stage, 'step', batch);
        const read = applyStepOutputs(compiled, stage.map, this.state, await session.run(feeds(compiled, batch)));
        const inputGradients = Object.fromEntries(Object.entries(compiled.inputGradientOutputs).map(([n, output]) => [n, { data: read(output), shape: [...batch.tensors[n].shape] }]));
        return { losses: scalars(read, compiled.lossOutputs), metrics: scalars(read, compiled.metricOutputs), inputGradients };
      },
    };
  }

  async step(batch: StepBatch, { lr, step }: { lr: number; step: number }): Promise<StepResult> {
    checkStepBatch(batch, 'onnxruntime staged training');
    const result = await this.options.step(this.stages.map((s, k) => this.bind(s, k, lr, step)), batch);
    this.state.iterations += 1;
    return result;
  }

  async sync(options: { weights?: boolean; optimizer?: boolean } = {}): Promise<void> {
    await syncRunnerState(this.context, this.optimizer, this.state, options);
  }

  async dispose(): Promise<void> {
    for (const stage of this.stages) {
      const sessions = await Promise.all(stage.sessions.values());
      stage.sessions.clear();
      await Promise.all(sessions.map((c) => c.session.release()));
    }
  }
}

/** Trains on onnxruntime in stages, with the caller's host work between them. */
export function onnxStagedTrainingRunner(options: OnnxStagedTrainingOptions): StepRunnerFactory {
  return (context) => OnnxStagedTrainingRunner.create(context, options);
}
