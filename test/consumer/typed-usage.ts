// Type-checked in the scratch project against the installed packages' .d.ts (strict, node16 resolution).
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1, profile, type ModelProfile } from '@mobilenets/backbone';
import { createSession, exportOnnx, setup, type OnnxModel, type RuntimeInfo } from '@mobilenets/runtime';
import { fit } from '@mobilenets/training';

export async function use(): Promise<[RuntimeInfo, ModelProfile, OnnxModel, typeof fit]> {
  const info = await setup({ backend: 'wasm' });
  const model = mobilenetV1({ widthMultiplier: 0.5, inputSize: 160 });
  tf.dispose(model.predict(tf.zeros([1, 160, 160, 3])));
  await exportOnnx(model, 'mobilenet.onnx');
  return [info, profile(model), await createSession('mobilenet.onnx'), fit];
}
