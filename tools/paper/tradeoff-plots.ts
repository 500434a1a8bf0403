/** The trade-off plots of paper:tradeoff (the shapes of Figures 4 and 5 of the MobileNetV1 paper, for our data), drawn with tools/plot.ts. */
import type { PlotSeries, ScatterPlotOptions } from '../plot';

export interface TradeoffPoint {
  alpha: number;
  inputSize: number;
  multAdds: number;
  params: number;
  /** Held-out top-1, 0–1. */
  top1: number;
}

/** One joined series per value of `key`, largest first, each point labeled α-size. */
function seriesBy(points: TradeoffPoint[], key: (p: TradeoffPoint) => number, name: (k: number) => string, x: (p: TradeoffPoint) => number): PlotSeries[] {
  const keys = [...new Set(points.map(key))].sort((a, b) => b - a);
  return keys.map((k) => ({
    name: name(k),
    line: true,
    points: points.filter((p) => key(p) === k).map((p) => ({ x: x(p), y: 100 * p.top1, label: `${p.alpha}-${p.inputSize}` })),
  }));
}

/** Figure 4's shape: top-1 against Mult-Adds (log), one line per width multiplier through its resolutions. */
export function accuracyVsMultAdds(points: TradeoffPoint[], title: string): ScatterPlotOptions {
  return { title, xLabel: 'Mult-Adds (millions)', yLabel: 'held-out top-1 (%)', logX: true, series: seriesBy(points, (p) => p.alpha, (a) => `α ${a}`, (p) => p.multAdds / 1e6) };
}

/** Figure 5's shape: top-1 against parameters (log; they do not depend on resolution), one line per input size. */
export function accuracyVsParams(points: TradeoffPoint[], title: string): ScatterPlotOptions {
  return { title, xLabel: 'parameters (millions)', yLabel: 'held-out top-1 (%)', logX: true, series: seriesBy(points, (p) => p.inputSize, (s) => `${s} px`, (p) => p.params / 1e6) };
}
