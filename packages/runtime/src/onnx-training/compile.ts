/**
 * Compiles one training step of a tfjs model and its task into a single ONNX graph: the forward pass in
 * training mode, the task's loss, the backward pass (layer emitters in reverse order, gradients of a
 * tensor read by several layers summed), L2 weight decay as training's step adds it, and the optimizer
 * update. Weights, moving statistics and optimizer slots are graph inputs in their tfjs shapes; their
 * new values are graph outputs, which the runner feeds back at the next step.
 *
 * Shapes are static: a graph is compiled for one batch size (the runner keeps one per size it meets).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { decayedWeights, WEIGHT_DECAY_LOSS } from '@mobilenets/training';
import type { Layer } from '../onnx/converter';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import type { AffineGradient, LayerEmitter, LayerStep, StepContext } from './emitter';
import { TRAINING_EMITTERS, unscaledAffineGradient } from './layers';
import type { StepLoss } from './losses';
import { StepOps, Value } from './ops';
import type { StepOptimizer } from './optimizers';

type LayerVariable = tfl.LayersModel['weights'][number];

export interface CompileStepOptions {
  loss: StepLoss;
  optimizer: StepOptimizer;
  /** L2 coefficient on conv and dense kernels (training's `decayedWeights`). */
  weightDecay: number;
  /** Full shapes (batch first) of the batch tensors the loss names. */
  batchShapes: Readonly<Record<string, readonly number[]>>;
  /** Emitters by tfjs class name; default {@link TRAINING_EMITTERS}. */
  emitters?: Readonly<Record<string, LayerEmitter>>;
  /** The machine's NCHWc channel block (`nchwcBlockSize()`), for depthwise convolutions; default null (plain Conv). */
  nchwcBlock?: number | null;
  /**
   * Also return d loss / d (each model input), in tfjs' layout, as outputs (CompiledStep.inputGradientOutputs):
   * for a model fed what another graph or the host computed (a Faster R-CNN's second stage, fed crops of the
   * first stage's features). Default false.
   */
  inputGradients?: boolean;
}

/** A dropout mask the runner feeds: its graph input, the layer's rate and the mask's shape. */
export interface MaskInput {
  input: string;
  layerIndex: number;
  rate: number;
  shape: number[];
}

export interface CompiledStep {
  bytes: Uint8Array;
  examples: number;
  /** Graph inputs of the model's weights: weight index (model.weights order) → input name. Only weights the step reads. */
  weightInputs: Map<number, string>;
  /** Graph outputs of new weight values: weight index → output name (trainable weights the loss reaches, and moving statistics). */
  weightOutputs: Map<number, string>;
  /** Optimizer slots: [slot k][trainable index] → input and output names (only for trainable weights that are updated). */
  slotInputs: Map<number, string>[];
  slotOutputs: Map<number, string>[];
  /** Per-step scalars of the optimizer: name → graph input. */
  scalarInputs: Record<string, string>;
  /** Batch tensors: name → graph input. */
  batchInputs: Record<string, string>;
  masks: MaskInput[];
  /** Loss part and metric outputs, by their names. */
  lossOutputs: Record<string, string>;
  metricOutputs: Record<string, string>;
  /** Whole-tensor outputs the loss asked for (StepLossGraph.tensors), by their names. */
  tensorOutputs: Record<string, string>;
  /** With `inputGradients`: d loss / d (model input), in tfjs' layout, by the batch tensor the input takes. */
  inputGradientOutputs: Record<string, string>;
}

type LayerNode = Layer['inboundNodes'][number];

class StepCompiler implements StepContext {
  readonly ops: StepOps;
  /** Opset 15: BatchNormalization's training mode (batch statistics in the operator itself) needs 14+. */
  private readonly graph = new OnnxGraphBuilder(15);
  private readonly index = new Map<LayerVariable, number>();
  private readonly trainableIndex = new Map<number, number>();
  private readonly weightInputs = new Map<number, string>();
  private readonly gradients = new Map<number, string>();
  private readonly updates = new Map<number, string>();
  private readonly masks: MaskInput[] = [];
  private readonly noGradient = new Set<string>();
  private readonly layerIndex = new Map<Layer, number>();
  /** Deferred gradients (deferAffine): name → parts, and the tensor once computed. */
  private readonly deferred = new Map<string, { parts: AffineGradient; value?: string }>();
  private readonly blockedTwins = new Map<string, string>();
  readonly nchwcBlock: number | null;

  constructor(
    private readonly model: tfl.LayersModel,
    private readonly options: CompileStepOptions,
  ) {
    this.ops = new StepOps(this.graph);
    this.nchwcBlock = options.nchwcBlock ?? null;
    model.weights.forEach((w, i) => this.index.set(w, i));
    model.trainableWeights.forEach((w, i) => this.trainableIndex.set(this.index.get(w) as number, i));
    model.layers.forEach((l, i) => this.layerIndex.set(l as Layer, i));
  }

  private variable(layer: Layer, name: string): LayerVariable | undefined {
    return layer.weights.find((w) => w.originalName.split('/').pop() === name);
  }

  hasWeight(layer: Layer, name: string): boolean {
    return this.variable(layer, name) !== undefined;
  }

  weight(layer: Layer, name: string): string {
    const v = this.variable(layer, name);
    if (v === undefined) throw new TypeError(`training step: layer '${layer.name}' has no weight '${name}'.`);
    const i = this.index.get(v) as number;
    let input = this.weightInputs.get(i);
    if (input === undefined) {
      input = this.graph.addInput(`w${i}`, v.shape as number[]);
      this.weightInputs.set(i, input);
    }
    return input;
  }

  gradient(layer: Layer, name: string, gradient: string): void {
    const v = this.variable(layer, name) as LayerVariable;
    const i = this.index.get(v) as number;
    if (!this.trainableIndex.has(i)) return; // frozen: no update
    const previous = this.gradients.get(i);
    this.gradients.set(i, previous === undefined ? gradient : this.ops.add(previous, gradient, `${layer.name}_${name}_gradsum`));
  }

  update(layer: Layer, name: string, value: string): void {
    const v = this.variable(layer, name) as LayerVariable;
    this.updates.set(this.index.get(v) as number, value);
  }

  mask(layer: Layer, shape: readonly number[]): string {
    const rate = (layer.getConfig() as { rate: number }).rate;
    const input = this.graph.addInput(`mask_${this.layerIndex.get(layer)}`, shape);
    this.masks.push({ input, layerIndex: this.layerIndex.get(layer) as number, rate, shape: [...shape] });
    return input;
  }

  deferAffine(parts: AffineGradient): string {
    const name = this.graph.unique(`${parts.name}_dx_deferred`);
    this.deferred.set(name, { parts });
    return name;
  }

  affine(gradient: string): AffineGradient | undefined {
    return this.deferred.get(gradient)?.parts;
  }

  materialize(gradient: string): string {
    const entry = this.deferred.get(gradient);
    if (entry === undefined) return gradient;
    if (entry.value === undefined) {
      const { parts } = entry;
      const scale = this.ops.perChannel(parts.a, parts.x.shape[1], `${parts.name}_A4`);
      entry.value = this.ops.mul(unscaledAffineGradient(this.ops, parts), scale, `${parts.name}_dx`);
    }
    return entry.value;
  }

  setBlockedTwin(name: string, blocked: string): void {
    this.blockedTwins.set(name, blocked);
  }

  blockedTwin(name: string): string | undefined {
    return this.blockedTwins.get(name);
  }

  needsGradient(value: Value): boolean {
    return !this.noGradient.has(value.name);
  }

  compile(): CompiledStep {
    const { model, options, ops, graph } = this;
    const { loss, batchShapes } = options;
    const emitters = options.emitters ?? TRAINING_EMITTERS;
    if (loss.modelInputs.length !== model.inputs.length) throw new RangeError(`training step: the loss feeds ${loss.modelInputs.length} model input(s) (${loss.modelInputs.join(', ')}) but model '${model.name}' has ${model.inputs.length}.`);
    const shapeOf = (name: string) => {
      const shape = batchShapes[name];
      if (shape === undefined) throw new RangeError(`training step: the batch has no tensor '${name}' (it has ${Object.keys(batchShapes).join(', ')}).`);
      return [...shape];
    };
    const examples = shapeOf(loss.modelInputs[0])[0];
    const values = new Map<number, Value>();
    const batchInputs: Record<string, string> = {};
    model.inputs.forEach((input, k) => {
      const name = loss.modelInputs[k];
      const shape = shapeOf(name);
      batchInputs[name] = graph.addInput(name, shape);
      const value: Value = shape.length === 4 ? { name: ops.transpose(name, [0, 3, 1, 2], `${name}_nchw`), shape: [shape[0], shape[3], shape[1], shape[2]] } : { name, shape };
      if (options.inputGradients !== true) this.noGradient.add(value.name);
      values.set(input.id, value);
    });
    const targets: Record<string, Value> = {};
    for (const [name, type] of Object.entries(loss.targets)) {
      const shape = shapeOf(name);
      batchInputs[name] = graph.addInput(name, shape, type);
      targets[name] = { name, shape };
    }

    // Forward, in the model's (topological) layer order.
    const nodeOf = new Map<Layer, LayerNode>();
    for (const node of Object.values(model.nodesByDepth).flat()) {
      const layer = node.outboundLayer as Layer;
      if (nodeOf.has(layer)) throw new TypeError(`training step: layer '${layer.name}' is applied more than once in model '${model.name}'; shared layers are not supported.`);
      nodeOf.set(layer, node);
    }
    const steps: { layer: Layer; node: LayerNode; step: LayerStep }[] = [];
    for (const layer of model.layers as Layer[]) {
      if (layer.getClassName() === 'InputLayer') continue;
      const node = nodeOf.get(layer);
      if (node === undefined) continue; // not connected to the outputs
      const emit = Object.prototype.hasOwnProperty.call(emitters, layer.getClassName()) ? emitters[layer.getClassName()] : undefined;
      if (emit === undefined) throw new TypeError(`training step: layer '${layer.name}' of class ${layer.getClassName()} has no training emitter (there are emitters for ${Object.keys(emitters).join(', ')}); train this model with the tfjs engine.`);
      const inputs = node.inputTensors.map((t) => {
        const v = values.get(t.id);
        if (v === undefined) throw new Error(`training step: tensor '${t.name}' is used before it is computed.`);
        return v;
      });
      const step = emit(layer, inputs, this);
      if (step.outputs.length !== node.outputTensors.length) throw new TypeError(`training step: the emitter for ${layer.getClassName()} returned ${step.outputs.length} outputs for layer '${layer.name}'; expected ${node.outputTensors.length}.`);
      node.outputTensors.forEach((t, k) => values.set(t.id, step.outputs[k]));
      steps.push({ layer, node, step });
    }

    // Loss, then backward in reverse order.
    const outputs = model.outputs.map((o) => values.get(o.id) as Value);
    const lossGraph = loss.emit(ops, outputs, targets, examples);
    const pending = new Map<number, string[]>();
    const push = (id: number, g: string | null) => {
      if (g !== null) pending.set(id, [...(pending.get(id) ?? []), g]);
    };
    model.outputs.forEach((o, k) => push(o.id, lossGraph.outputGradients[k] ?? null));
    for (const { layer, node, step } of [...steps].reverse()) {
      const dOutputs = node.outputTensors.map((t) => {
        const parts = pending.get(t.id);
        if (parts === undefined) return null;
        return parts.length === 1 ? parts[0] : ops.node('Sum', parts.map((p) => this.materialize(p)), `${layer.name}_dsum`);
      });
      if (dOutputs.every((d) => d === null)) continue;
      const dInputs = step.backward(step.acceptsAffine === true ? dOutputs : dOutputs.map((d) => (d === null ? null : this.materialize(d))));
      node.inputTensors.forEach((t, k) => push(t.id, dInputs[k] ?? null));
    }

    const inputGradientOutputs: Record<string, string> = {};
    if (options.inputGradients === true) {
      model.inputs.forEach((input, k) => {
        const name = loss.modelInputs[k];
        const parts = (pending.get(input.id) ?? []).map((p) => this.materialize(p));
        const shape = shapeOf(name);
        const value = values.get(input.id) as Value;
        let d = parts.length === 0 ? ops.node('ConstantOfShape', [ops.int64s(value.shape)], `d_${name}_zeros`) : parts.length === 1 ? parts[0] : ops.node('Sum', parts, `d_${name}_sum`);
        if (shape.length === 4) d = ops.transpose(d, [0, 2, 3, 1], `d_${name}_tfjs`);
        inputGradientOutputs[name] = graph.addOutput(d, `d_input_${name}`, shape);
      });
    }

    // Weight decay (training's rule: Conv2D and Dense kernels).
    const lossOutputs: Record<string, string> = {};
    const partNames = Object.keys(lossGraph.losses);
    if (partNames.includes(WEIGHT_DECAY_LOSS)) throw new RangeError(`training step: the loss has a part named '${WEIGHT_DECAY_LOSS}', which is reserved for the weight-decay penalty.`);
    for (const name of partNames) lossOutputs[name] = graph.addOutput(lossGraph.losses[name], `loss_${name}`, []);
    if (options.weightDecay > 0) {
      const penalties: string[] = [];
      for (const v of decayedWeights(model)) {
        const i = this.index.get(v) as number;
        const w = this.weightInputs.get(i);
        const g = this.gradients.get(i);
        if (w === undefined || g === undefined) continue;
        penalties.push(ops.node('ReduceSumSquare', [w], `decay_sq_w${i}`, { keepdims: { int: 0 } }));
        this.gradients.set(i, ops.add(g, ops.scale(w, options.weightDecay, `decay_grad_w${i}`), `grad_w${i}`));
      }
      const total = penalties.length === 0 ? ops.float(0) : penalties.length === 1 ? penalties[0] : ops.node('Sum', penalties, 'decay_sum');
      lossOutputs[WEIGHT_DECAY_LOSS] = graph.addOutput(ops.scale(total, options.weightDecay / 2, 'decay_penalty'), `loss_${WEIGHT_DECAY_LOSS}`, []);
    }
    const metricOutputs: Record<string, string> = {};
    for (const [name, t] of Object.entries(lossGraph.metrics)) metricOutputs[name] = graph.addOutput(t, `metric_${name}`, []);
    const tensorOutputs: Record<string, string> = {};
    for (const [name, t] of Object.entries(lossGraph.tensors ?? {})) tensorOutputs[name] = graph.addOutput(t.name, `tensor_${name}`, t.shape);

    // Optimizer update.
    const { optimizer } = options;
    const scalarInputs: Record<string, string> = {};
    for (const name of Object.keys(optimizer.scalars(0.1, 0))) scalarInputs[name] = graph.addInput(`opt_${name}`, []);
    const slotInputs = optimizer.slots.map(() => new Map<number, string>());
    const slotOutputs = optimizer.slots.map(() => new Map<number, string>());
    const weightOutputs = new Map<number, string>();
    const modelWeights = model.weights; // tfjs-layers builds the list anew from every layer at each access
    for (const [i, g] of [...this.gradients].sort((a, b) => a[0] - b[0])) {
      const t = this.trainableIndex.get(i) as number;
      const shape = modelWeights[i].shape as number[];
      const slots = optimizer.slots.map((_slot, k) => {
        const input = graph.addInput(`s${k}_${t}`, shape);
        slotInputs[k].set(t, input);
        return input;
      });
      const next = optimizer.emit(ops, this.weightInputs.get(i) as string, g, slots, scalarInputs, `opt_w${i}`);
      // Renamed rather than copied through an Identity (the new momentum is read by the weight update too: 7 ms a step at 1.0-224).
      weightOutputs.set(i, graph.addOutputRenamed(next.weight, `new_w${i}`, shape));
      next.slots.forEach((s, k) => slotOutputs[k].set(t, graph.addOutputRenamed(s, `new_s${k}_${t}`, shape)));
    }
    for (const [i, value] of this.updates) weightOutputs.set(i, graph.addOutput(value, `new_w${i}`, modelWeights[i].shape as number[]));

    // Layers may write a tensor in two forms (plain and blocked) or one a later layer computes another
    // way (a batch norm's output that a ReLU6 fuses): what no output needs goes.
    graph.prune();
    return {
      bytes: graph.toBytes(`${model.name}_training_step`, {}),
      examples,
      weightInputs: this.weightInputs,
      weightOutputs,
      slotInputs,
      slotOutputs,
      scalarInputs,
      batchInputs,
      masks: this.masks,
      lossOutputs,
      metricOutputs,
      tensorOutputs,
      inputGradientOutputs,
    };
  }
}

/** Compiles the training step of `model` for batches of the given shapes. */
export function compileTrainingStep(model: tfl.LayersModel, options: CompileStepOptions): CompiledStep {
  return new StepCompiler(model, options).compile();
}
