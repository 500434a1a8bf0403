/** Test helpers for the ONNX exporter: seeded weights, and tfjs against onnxruntime on the same inputs. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import { uniformArray } from '@mobilenets/random';
import { type OnnxExportOptions, exportOnnx } from './export';
import { createSession, float32Output } from './session';

/** Seeded weights in [-scale, scale) for every layer (moving variances in [0.5, 0.5 + scale)), so biases and batch norms matter. */
export function randomizeWeights(model: tfl.LayersModel, seed: number, scale = 0.5): void {
  let s = seed;
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      const data = uniformArray(shape.reduce((a, b) => a * b, 1), s++, -scale, scale);
      if (w.originalName.endsWith('moving_variance')) for (let i = 0; i < data.length; i++) data[i] = Math.abs(data[i]) + 0.5;
      return tf.tensor(data, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

export interface OutputParity {
  /** Largest |tfjs − onnxruntime|. */
  maxAbs: number;
  /** maxAbs / max |tfjs| (Infinity when tfjs gives only zeros: a comparison that says nothing). */
  maxRelative: number;
  dims: number[];
}

export interface ParityResult {
  /** By output name. */
  outputs: Record<string, OutputParity>;
  /** The largest maxRelative over the outputs. */
  worstRelative: number;
  /** Op types of the exported graph's nodes, in order. */
  ops: string[];
  graph: onnx.IGraphProto;
}

/**
 * Exports `model` to `file`, runs tfjs and onnxruntime on the same seeded inputs (values in [-1, 1),
 * batch `batch`, one per model input) and compares every output.
 */
export async function compareWithOnnxRuntime(
  model: tfl.LayersModel,
  file: string,
  options: OnnxExportOptions & { batch?: number; seed?: number; /** Each input's shape without the batch, for inputs with free sizes. */ inputShapes?: number[][] } = {},
): Promise<ParityResult> {
  const { batch = 2, seed = 7, inputShapes, ...exportOptions } = options;
  await exportOnnx(model, file, exportOptions);
  const graph = onnx.ModelProto.decode(await fs.readFile(file)).graph as onnx.IGraphProto;
  const inputs = model.inputs.map((input, k) => {
    const dims = [batch, ...(inputShapes?.[k] ?? (input.shape.slice(1) as number[]))];
    return { name: input.sourceLayer.name, dims, data: uniformArray(dims.reduce((a, b) => a * b, 1), seed + k) };
  });
  const expected = tf.tidy(() => {
    const out = model.predict(inputs.map((i) => tf.tensor(i.data, i.dims)));
    return (Array.isArray(out) ? out : [out]).map((t) => ({ data: t.dataSync().slice() as Float32Array, dims: t.shape }));
  });
  const session = await createSession(file);
  try {
    const results = await session.run(Object.fromEntries(inputs.map((i) => [i.name, { data: i.data, dims: i.dims }])));
    const outputs: Record<string, OutputParity> = {};
    model.outputNames.forEach((name, k) => {
      const actual = float32Output(results, name);
      const { data, dims } = expected[k];
      if (results[name].dims.join() !== dims.join()) throw new RangeError(`${path.basename(file)}: output '${name}' has shape [${results[name].dims}] in onnxruntime, [${dims}] in tfjs.`);
      let maxAbs = 0;
      let scale = 0;
      for (let i = 0; i < actual.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(actual[i] - data[i]));
        scale = Math.max(scale, Math.abs(data[i]));
      }
      outputs[name] = { maxAbs, maxRelative: scale > 0 ? maxAbs / scale : Infinity, dims: results[name].dims };
    });
    return { outputs, worstRelative: Math.max(...Object.values(outputs).map((o) => o.maxRelative)), ops: (graph.node ?? []).map((n) => n.opType as string), graph };
  } finally {
    await session.dispose();
  }
}
