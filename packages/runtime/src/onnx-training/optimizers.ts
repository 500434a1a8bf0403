/**
 * Optimizer updates written into the step graph, with tfjs' arithmetic and tfjs' state layout (so a
 * run can move between engines and checkpoints stay the same): RMSprop (plain and centered), momentum
 * SGD (plain and Nesterov), plain SGD and Adam.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { StepOps } from './ops';

export interface StepOptimizer {
  /** tfjs' class name. */
  readonly className: string;
  /** The state slots each variable has, in tfjs' getWeights order (all variables' first slot, then the second, …), with tfjs' name suffixes. */
  readonly slots: readonly string[];
  /** Per-step scalars (graph inputs) from the learning rate and the count of steps taken before this one. */
  scalars(lr: number, iterations: number): Record<string, number>;
  /** Writes one variable's update: its new value and new slots. */
  emit(ops: StepOps, weight: string, gradient: string, slots: readonly string[], scalars: Readonly<Record<string, string>>, name: string): { weight: string; slots: string[] };
}

type Config = Record<string, unknown>;
const num = (config: Config, key: string, fallback?: number): number => {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number') throw new TypeError(`onnxruntime training: the optimizer's config has no number '${key}'.`);
  return v;
};

function rmsprop(config: Config): StepOptimizer {
  const decay = num(config, 'decay', 0.9);
  const momentum = num(config, 'momentum', 0);
  const epsilon = num(config, 'epsilon', 1e-7);
  const centered = config.centered === true;
  return {
    className: 'RMSProp',
    slots: centered ? ['rms', 'momentum', 'mg'] : ['rms', 'momentum'],
    scalars: (lr) => ({ lr }),
    emit(ops, w, g, [ms, mom, mg], { lr }, name) {
      const newMs = ops.add(ops.scale(ms, decay, `${name}_ms_decay`), ops.scale(ops.mul(g, g, `${name}_g2`), 1 - decay, `${name}_g2s`), `${name}_ms`);
      let denominator: string;
      let newMg: string | undefined;
      if (centered) {
        newMg = ops.add(ops.scale(mg, decay, `${name}_mg_decay`), ops.scale(g, 1 - decay, `${name}_gs`), `${name}_mg`);
        // tfjs: sqrt(ms − (mg² + ε))
        denominator = ops.node('Sqrt', [ops.sub(newMs, ops.add(ops.mul(newMg, newMg, `${name}_mg2`), ops.float(epsilon), `${name}_mg2e`), `${name}_var`)], `${name}_den`);
      } else {
        denominator = ops.node('Sqrt', [ops.add(newMs, ops.float(epsilon), `${name}_mse`)], `${name}_den`);
      }
      const newMom = ops.add(ops.scale(mom, momentum, `${name}_mom_decay`), ops.div(ops.mul(g, lr, `${name}_glr`), denominator, `${name}_step`), `${name}_mom`);
      return { weight: ops.sub(w, newMom, `${name}_new`), slots: newMg === undefined ? [newMs, newMom] : [newMs, newMom, newMg] };
    },
  };
}

function momentumSgd(config: Config): StepOptimizer {
  const momentum = num(config, 'momentum');
  const nesterov = config.useNesterov === true;
  return {
    className: 'Momentum',
    slots: ['momentum'],
    scalars: (lr) => ({ lr }),
    emit(ops, w, g, [acc], { lr }, name) {
      const newAcc = ops.add(ops.scale(acc, momentum, `${name}_acc_decay`), g, `${name}_acc`);
      const direction = nesterov ? ops.add(g, ops.scale(newAcc, momentum, `${name}_nag`), `${name}_dir`) : newAcc;
      return { weight: ops.sub(w, ops.mul(direction, lr, `${name}_step`), `${name}_new`), slots: [newAcc] };
    },
  };
}

function sgd(): StepOptimizer {
  return {
    className: 'SGD',
    slots: [],
    scalars: (lr) => ({ lr }),
    emit: (ops, w, g, _slots, { lr }, name) => ({ weight: ops.sub(w, ops.mul(g, lr, `${name}_step`), `${name}_new`), slots: [] }),
  };
}

function adam(config: Config): StepOptimizer {
  const beta1 = num(config, 'beta1', 0.9);
  const beta2 = num(config, 'beta2', 0.999);
  const epsilon = num(config, 'epsilon', 1e-7);
  return {
    className: 'Adam',
    slots: ['m', 'v'],
    // tfjs' accumulated β powers at a step after `iterations` steps: β^(iterations + 1).
    scalars: (lr, iterations) => ({ lr, correction1: 1 / (1 - beta1 ** (iterations + 1)), correction2: 1 / (1 - beta2 ** (iterations + 1)) }),
    emit(ops, w, g, [m, v], { lr, correction1, correction2 }, name) {
      const newM = ops.add(ops.scale(m, beta1, `${name}_m_decay`), ops.scale(g, 1 - beta1, `${name}_gs`), `${name}_m`);
      const newV = ops.add(ops.scale(v, beta2, `${name}_v_decay`), ops.scale(ops.mul(g, g, `${name}_g2`), 1 - beta2, `${name}_g2s`), `${name}_v`);
      const mHat = ops.mul(newM, correction1, `${name}_mhat`);
      const vHat = ops.mul(newV, correction2, `${name}_vhat`);
      const step = ops.div(mHat, ops.add(ops.node('Sqrt', [vHat], `${name}_sqrtv`), ops.float(epsilon), `${name}_den`), `${name}_ratio`);
      return { weight: ops.sub(w, ops.mul(step, lr, `${name}_step`), `${name}_new`), slots: [newM, newV] };
    },
  };
}

/** The step-graph form of a tfjs optimizer (RMSProp, Momentum, SGD or Adam), from its class and config. */
export function stepOptimizer(optimizer: tf.Optimizer): StepOptimizer {
  const className = optimizer.getClassName();
  const config = optimizer.getConfig() as Config;
  switch (className) {
    case 'RMSProp':
      return rmsprop(config);
    case 'Momentum':
      return momentumSgd(config);
    case 'SGD':
      return sgd();
    case 'Adam':
      return adam(config);
    default:
      throw new TypeError(`onnxruntime training: optimizer ${className} is not supported (RMSProp, Momentum, SGD and Adam are); train with the tfjs engine.`);
  }
}
