/** Latency of an exported model on onnxruntime: the median of timed runs at batch 1 after warm-up runs. */
import { createSession } from './session';

export interface OnnxTimingOptions {
  /** Intra-op threads; default 2. */
  threads?: number;
  /** Untimed runs first; default 10. */
  warmup?: number;
  /** Timed runs; the median is reported. Default 50. */
  runs?: number;
  /** Stop timing after this many milliseconds even if fewer runs were done (at least 3 are). Default Infinity. */
  budgetMs?: number;
}

export interface OnnxTiming {
  /** Median of the timed runs, one image each. */
  msPerImage: number;
  minMs: number;
  /** Timed runs done (fewer than asked when the budget ran out). */
  runs: number;
}

/**
 * Times `file` at batch 1 (named dims are set to 1) on a fixed input: a sine pattern, so that no
 * activation is all zeros. The session is released afterwards.
 */
export async function timeOnnx(file: string, options: OnnxTimingOptions = {}): Promise<OnnxTiming> {
  const { threads = 2, warmup = 10, runs = 50, budgetMs = Infinity } = options;
  const session = await createSession(file, { threads });
  try {
    const [input] = session.inputs;
    const dims = input.dims.map((d) => (typeof d === 'number' ? d : 1)); // batch 1
    const feeds = { [input.name]: { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)), dims } };
    for (let i = 0; i < warmup; i++) await session.run(feeds);
    const times: number[] = [];
    const began = performance.now();
    while (times.length < runs && (times.length < 3 || performance.now() - began < budgetMs)) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    return { msPerImage: times.length % 2 === 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2, minMs: times[0], runs: times.length };
  } finally {
    await session.dispose();
  }
}
