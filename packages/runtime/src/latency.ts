/** Forward-pass latency of a model on the current backend: the median of timed runs after warm-up. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface LatencyOptions {
  /** Images per forward pass. Default 1. */
  batch?: number;
  /** Untimed runs first (kernel compilation, allocation). Default 2. */
  warmup?: number;
  /** Timed runs; the median is reported. Default 10. */
  runs?: number;
  /** Stop timing after this many milliseconds even if fewer runs were done (at least 3 are). Default Infinity. */
  budgetMs?: number;
}

export interface LatencyResult {
  backend: string;
  batch: number;
  runs: number;
  medianMs: number;
  minMs: number;
  /** medianMs / batch. */
  msPerImage: number;
}

export async function measureLatency(model: tfl.LayersModel, options: LatencyOptions = {}): Promise<LatencyResult> {
  const { batch = 1, warmup = 2, runs = 10, budgetMs = Infinity } = options;
  const [, h, w, c] = model.inputs[0].shape as number[];
  const input = tf.randomUniform([batch, h, w, c], -1, 1);
  const once = async () => {
    const start = process.hrtime.bigint();
    const output = model.predict(input) as tf.Tensor | tf.Tensor[];
    const outputs = Array.isArray(output) ? output : [output];
    await Promise.all(outputs.map((t) => t.data()));
    tf.dispose(outputs);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  try {
    for (let i = 0; i < warmup; i++) await once();
    const times: number[] = [];
    const began = Date.now();
    while (times.length < runs && (times.length < 3 || Date.now() - began < budgetMs)) times.push(await once());
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    const medianMs = times.length % 2 === 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
    return { backend: tf.getBackend(), batch, runs: times.length, medianMs, minMs: times[0], msPerImage: medianMs / batch };
  } finally {
    input.dispose();
  }
}
