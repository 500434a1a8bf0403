/**
 * The split step, for a task whose loss has no step-graph form: two compiled graphs around tfjs.
 *
 *   forward half    the model's forward pass in training mode, returning its outputs (no loss, no
 *                   backward, no update);
 *   tfjs            the task's own `loss` on those outputs, and its gradient with respect to them;
 *   backward half   the forward pass again (the same batch statistics and dropout masks), then the
 *                   backward pass from those gradients — fed in as batch tensors — weight decay and the
 *                   optimizer update.
 *
 * The forward pass runs twice, which is what the split costs over a compiled loss besides tfjs' loss.
 */
import type { StepLoss } from './losses';
import type { StepOps, Value } from './ops';

/** The batch tensor that carries d loss / d (model output k) into the backward half, in tfjs' layout. */
export const splitGradientInput = (k: number): string => `d_output_${k}`;

/** A tensor of the graph (4-D maps NCHW) in tfjs' layout (NHWC), or back. */
function relayout(ops: StepOps, v: Value, toTfjs: boolean, name: string): string {
  if (v.shape.length !== 4) return v.name;
  return ops.transpose(v.name, toTfjs ? [0, 2, 3, 1] : [0, 3, 1, 2], name);
}

/** The forward half: returns the model's outputs as tensors `output_0`, `output_1`, … in tfjs' layout. */
export function splitForwardLoss(modelInputs: readonly string[]): StepLoss {
  return {
    modelInputs,
    targets: {},
    emit(ops, outputs) {
      const tensors: Record<string, Value> = {};
      outputs.forEach((o, k) => {
        const shape = o.shape.length === 4 ? [o.shape[0], o.shape[2], o.shape[3], o.shape[1]] : [...o.shape];
        tensors[`output_${k}`] = { name: relayout(ops, o, true, `output_${k}_tfjs`), shape };
      });
      return { losses: {}, metrics: {}, outputGradients: outputs.map(() => null), tensors };
    },
  };
}

/** The backward half: the gradients of the task's loss with respect to the model's outputs are batch tensors. */
export function splitBackwardLoss(modelInputs: readonly string[], outputCount: number): StepLoss {
  return {
    modelInputs,
    targets: Object.fromEntries(Array.from({ length: outputCount }, (_, k) => [splitGradientInput(k), 'float32' as const])),
    emit(ops, outputs, targets) {
      const outputGradients = outputs.map((o, k) => {
        const d = targets[splitGradientInput(k)];
        return relayout(ops, { name: d.name, shape: o.shape.length === 4 ? [o.shape[0], o.shape[2], o.shape[3], o.shape[1]] : o.shape }, false, `d_output_${k}_nchw`);
      });
      return { losses: {}, metrics: {}, outputGradients };
    },
  };
}
