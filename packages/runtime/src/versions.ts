/** The versions of the engines runtime runs models on, for reports of measurements. */
import * as tf from '@tensorflow/tfjs-core';

export interface EngineVersions {
  onnxruntime: string;
  /** @tensorflow/tfjs-core (the backends share its version). */
  tfjs: string;
}

export function engineVersions(): EngineVersions {
  return { onnxruntime: (require('onnxruntime-node/package.json') as { version: string }).version, tfjs: tf.version_core };
}
