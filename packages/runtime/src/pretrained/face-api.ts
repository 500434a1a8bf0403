/**
 * Pretrained weights shipped in the `@vladmandic/face-api` npm package (no download at run time): the
 * TF Object Detection API's SSD MobileNetV1 face detector, whose body is a fully trained MobileNetV1
 * (α = 1), stored as uint8-quantized tensors that tfjs' decodeWeights dequantizes.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

export const FACE_API_PACKAGE = '@vladmandic/face-api';

/** The folder of face-api's model files, or an Error saying how to install the package. */
export function faceApiModelDir(): string {
  try {
    return path.join(path.dirname(require.resolve(`${FACE_API_PACKAGE}/package.json`)), 'model');
  } catch (cause) {
    throw new Error(`${FACE_API_PACKAGE} is not installed; it ships the pretrained weights (npm install ${FACE_API_PACKAGE}).`, { cause });
  }
}

/** Reads and dequantizes one of face-api's models, e.g. 'ssd_mobilenetv1_model', into named tensors. */
export async function readFaceApiWeights(model: string, dir = faceApiModelDir()): Promise<tf.NamedTensorMap> {
  const manifestPath = path.join(dir, `${model}-weights_manifest.json`);
  let manifest: tf.io.WeightsManifestConfig;
  try {
    manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as tf.io.WeightsManifestConfig;
  } catch (cause) {
    throw new Error(`cannot read the face-api weights manifest ${manifestPath}`, { cause });
  }
  const specs = manifest.flatMap((group) => group.weights);
  const buffers = await Promise.all(
    manifest.flatMap((group) => group.paths).map(async (file) => {
      const bytes = await fs.readFile(path.join(dir, file)).catch((cause: unknown) => {
        throw new Error(`cannot read face-api weights file ${path.join(dir, file)}`, { cause });
      });
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    }),
  );
  return tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), specs);
}
