/** The report's plot: latency per image against Mult-Adds, both log, one series per engine, points labeled. */
import { type ScatterPlotOptions, scatterPlotPng } from '../../plot';
import type { BenchReport } from './types';

/**
 * The engines plotted (tfjs cpu times only a few models, at another scale). The models' names label
 * the first series' points: the other engines' points of a model lie on the same vertical.
 */
const PLOTTED = ['onnxruntime fp32', 'onnxruntime int8', 'tfjs wasm'];

export function latencyPlotOptions(r: BenchReport): ScatterPlotOptions {
  return {
    title: `Inference latency (batch 1) against Mult-Adds${r.quick ? ' — quick run' : ''}: ${r.machine.cpu}, ${r.machine.cores} cores`,
    xLabel: 'Mult-Adds (millions)',
    yLabel: 'ms per image',
    logX: true,
    logY: true,
    series: PLOTTED.map((engine, i) => ({
      name: engine,
      points: r.inference.models.flatMap((m) => m.latency.filter((l) => l.engine === engine).map((l) => ({ x: m.multAdds / 1e6, y: l.msPerImage, label: i === 0 ? m.model : undefined }))),
    })),
  };
}

export function latencyPlotPng(r: BenchReport): Promise<Buffer> {
  return scatterPlotPng(latencyPlotOptions(r));
}
