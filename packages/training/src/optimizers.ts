/**
 * Optimizers as training describes them: the papers' RMSprop, and any tfjs optimizer by class name
 * and config — the form checkpoints store and data-parallel workers rebuild from.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The papers' RMSprop: decay 0.9, momentum 0.9, ε = 1.0 (TF's RMSPropOptimizer; ε inside the square root). */
export const PAPER_RMSPROP = { decay: 0.9, momentum: 0.9, epsilon: 1.0 } as const;

/** The papers' RMSprop at `learningRate` (default 0.045, the papers' initial rate). */
export function paperOptimizer(learningRate = 0.045): tf.Optimizer {
  return tf.train.rmsprop(learningRate, PAPER_RMSPROP.decay, PAPER_RMSPROP.momentum, PAPER_RMSPROP.epsilon);
}

/** An optimizer's class and config: enough to rebuild it (without its state). */
export interface OptimizerSpec {
  className: string;
  config: tf.serialization.ConfigDict;
}

export function optimizerSpec(optimizer: tf.Optimizer): OptimizerSpec {
  return { className: optimizer.getClassName(), config: optimizer.getConfig() };
}

/** Builds an optimizer from its class name and config; the class must be registered with tfjs (all of tf.train's are). */
export function optimizerFromSpec(spec: OptimizerSpec, where = 'optimizerFromSpec'): tf.Optimizer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (entry === undefined) throw new RangeError(`${where}: optimizer class '${spec.className}' is not registered with tfjs (tf.serialization.registerClass).`);
  return entry[1](entry[0], spec.config) as tf.Optimizer;
}
