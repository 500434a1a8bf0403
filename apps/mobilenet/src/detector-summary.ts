/**
 * `mobilenet summary --model ssd | ssdlite`: a detector's Mult-Adds and parameters, counted as the
 * papers count them (backbone's profile: conv multiply-adds, conv weights and biases, batch norm apart),
 * split into its parts — backbone, extra feature layers, box predictors — next to the paper's row.
 */
import { type ModelProfile, type ProfileRow, profile } from '@mobilenets/backbone';
import { type ArchitectureOptions, UsageError, buildMobileNet, formatInteger, formatMillions, formatTable } from '@mobilenets/cli-kit';
import { type SsdHead, createSsd } from '@mobilenets/detection-ssd';

export type DetectorKind = SsdHead;

/** What the paper counted for one (arch, head). */
export interface PaperDetectorRow {
  source: string;
  inputSize: number;
  alpha: number;
  classes: number;
  /** 'model' (the whole detector) or 'heads' (extra layers + box predictors only). */
  counts: 'model' | 'heads';
  multAdds: number;
  parameters: number;
}

export const PAPER_DETECTORS: Readonly<Record<`${'v1' | 'v2'}/${DetectorKind}`, PaperDetectorRow>> = {
  'v1/ssd': { source: 'MobileNetV1 paper, Table 13 (SSD 300, MobileNet, COCO)', inputSize: 300, alpha: 1, classes: 90, counts: 'model', multAdds: 1.2e9, parameters: 6.8e6 },
  'v1/ssdlite': { source: 'MobileNetV2 paper, Table 6 (MNet V1 + SSDLite, COCO)', inputSize: 320, alpha: 1, classes: 80, counts: 'model', multAdds: 1.3e9, parameters: 5.1e6 },
  'v2/ssdlite': { source: 'MobileNetV2 paper, Table 6 (MNet V2 + SSDLite, COCO)', inputSize: 320, alpha: 1, classes: 80, counts: 'model', multAdds: 0.8e9, parameters: 4.3e6 },
  'v2/ssd': { source: 'MobileNetV2 paper, Table 5 (SSD prediction layers on MobileNetV2, 80 classes)', inputSize: 320, alpha: 1, classes: 80, counts: 'heads', multAdds: 1.25e9, parameters: 14.8e6 },
};

export type DetectorPart = 'backbone' | 'extra layers' | 'box predictors';

export interface DetectorPartTotals {
  part: DetectorPart;
  layers: number;
  multAdds: number;
  parameters: number;
}

export interface DetectorSummary {
  model: DetectorKind;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** Object classes, without the background. */
  classes: number;
  multAdds: number;
  parameters: number;
  batchNormParameters: number;
  parts: DetectorPartTotals[];
  featureMapSizes: [number, number][];
  anchors: number;
  paper: PaperDetectorRow & { note: string };
}

/**
 * The detector the options describe, profiled. `inputSize` and `classes` are the options' values, or
 * undefined when the user left them to the detector's defaults: the paper row's (see PAPER_DETECTORS).
 */
export function summarizeDetector(kind: DetectorKind, o: ArchitectureOptions, given: { inputSize?: number; classes?: number }): DetectorSummary {
  if (o.variant !== 'standard') throw new UsageError(`--variant ${o.variant} is for the classifier (the V1 paper's Tables 4 and 5); --model ${kind} uses the standard backbone.`);
  if (o.top === false) throw new UsageError(`--no-top is for the classifier; --model ${kind} always uses the backbone without its top.`);
  const paper = PAPER_DETECTORS[`${o.arch}/${kind}`];
  // Defaults: the paper's row — COCO as the TF Object Detection API counts it for V1 (90 classes), as the V2 paper does (80).
  const inputSize = given.inputSize ?? paper.inputSize;
  const classes = given.classes ?? paper.classes;
  const backbone = buildMobileNet({ ...o, inputSize, top: false });
  try {
    // TF's SSD feature extractors apply the backbone's depth multiplier to the extra layers too (min depth 16).
    const ssd = createSsd({ backbone, classes, head: kind, depthMultiplier: o.alpha });
    try {
      const p = profile(ssd.model);
      const backboneLayers = new Set(backbone.layers.map((l) => l.name));
      const partOf = (row: ProfileRow): DetectorPart => (backboneLayers.has(row.name) ? 'backbone' : row.name.startsWith('BoxPredictor_') ? 'box predictors' : 'extra layers');
      const parts = (['backbone', 'extra layers', 'box predictors'] as const).map((part) => {
        const rows = p.layers.filter((r) => partOf(r) === part);
        return { part, layers: rows.length, multAdds: sum(rows.map((r) => r.multAdds)), parameters: sum(rows.map((r) => r.params)) };
      });
      const summary = { model: kind, arch: o.arch, alpha: o.alpha, inputSize, classes, multAdds: p.multAdds, parameters: p.params, batchNormParameters: p.bnParams, parts, featureMapSizes: ssd.featureMapSizes, anchors: ssd.anchors };
      return { ...summary, paper: { ...paper, note: paperNote(summary, paper, p) } };
    } finally {
      ssd.model.dispose();
    }
  } catch (error) {
    backbone.dispose();
    throw error;
  }
}

/** One line on how this count relates to the paper's row. */
function paperNote(s: Omit<DetectorSummary, 'paper'>, paper: PaperDetectorRow, p: ModelProfile): string {
  const differences = [
    s.alpha !== paper.alpha && `α ${paper.alpha} (here ${s.alpha})`,
    s.inputSize !== paper.inputSize && `${paper.inputSize} px (here ${s.inputSize})`,
    s.classes !== paper.classes && `${paper.classes} classes (here ${s.classes})`,
  ].filter((d): d is string => d !== false);
  const counted = 'as this count does: conv multiply-adds, conv weights + biases, batch norm apart';
  if (paper.counts === 'heads') {
    // Table 5's SSD predicts with 3×3 convolutions (the original SSD's); TF's ssd_mobilenet, built here, with 1×1.
    const predictors = p.layers.filter((r) => r.name.startsWith('BoxPredictor_') && r.type === 'pointwise');
    const extra = s.parts.find((x) => x.part === 'extra layers') as DetectorPartTotals;
    const heads = s.parts.filter((x) => x.part !== 'backbone');
    const with3x3 = {
      multAdds: extra.multAdds + sum(predictors.map((r) => 9 * r.multAdds)),
      parameters: extra.parameters + sum(predictors.map((r) => 9 * r.params - 8 * channelsOut(r))), // 9·cin·cout weights + cout biases
    };
    return (
      `the paper counts only the prediction layers (extra layers + box predictors: here ${formatMillions(sum(heads.map((x) => x.multAdds)))} Mult-Adds, ${formatMillions(sum(heads.map((x) => x.parameters)), 2)} params) ` +
      `with the original SSD's 3×3 box predictors; these are 1×1 as in TF's ssd_mobilenet — with 3×3 they would be ${formatMillions(with3x3.multAdds)}, ${formatMillions(with3x3.parameters, 2)}` +
      (differences.length > 0 ? `; the paper's row is ${differences.join(', ')}` : '')
    );
  }
  const rounded = `${printed(roundTo(s.multAdds, 1e8), 1e9)} Mult-Adds and ${printed(roundTo(s.parameters, 1e5), 1e6)} params`;
  if (differences.length > 0) return `the paper's row is ${differences.join(', ')}; rounded as the paper prints, this model has ${rounded}`;
  return `none beyond rounding: the paper prints 0.1B and 0.1M steps (this model: ${rounded}) and counts ${counted}`;
}

/** A 1×1 convolution's output channels (its bias count). */
function channelsOut(row: ProfileRow): number {
  return row.outputShape[row.outputShape.length - 1];
}

const roundTo = (v: number, step: number) => Math.round(v / step) * step;

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

const billions = (v: number) => `${(v / 1e9).toFixed(3)}B`;
const millions = (v: number) => `${(v / 1e6).toFixed(3)}M`;
/** 1.2e9 → '1.2B', 1.25e9 → '1.25B', 6.8e6 → '6.8M': as the papers print them. */
const printed = (v: number, unit: 1e9 | 1e6) => `${Number((v / unit).toFixed(2))}${unit === 1e9 ? 'B' : 'M'}`;

export function formatDetectorSummary(s: DetectorSummary): string {
  const head = s.model === 'ssd' ? 'SSD' : 'SSDLite';
  const rows = [...s.parts.map((x) => ({ ...x, label: x.part as string })), { label: 'total', layers: sum(s.parts.map((x) => x.layers)), multAdds: s.multAdds, parameters: s.parameters }];
  const table = formatTable(rows, [
    { header: 'part', value: (r) => r.label },
    { header: 'layers', value: (r) => r.layers },
    { header: 'Mult-Adds', value: (r) => `${formatInteger(r.multAdds)} (${billions(r.multAdds)})`, align: 'right' },
    { header: 'params', value: (r) => `${formatInteger(r.parameters)} (${millions(r.parameters)})`, align: 'right' },
  ]);
  return [
    `${head} ${s.inputSize} on MobileNet${s.arch.toUpperCase()} α ${s.alpha}, ${s.classes} classes + background — ${s.featureMapSizes.length} feature maps (${s.featureMapSizes.map(([h, w]) => `${h}×${w}`).join(', ')}), ${formatInteger(s.anchors)} anchors`,
    '',
    table,
    '',
    `Batch norm apart: ${formatInteger(s.batchNormParameters)} parameters (γ, β, moving mean and variance), not in the totals.`,
    `Paper: ${printed(s.paper.multAdds, 1e9)} Mult-Adds, ${printed(s.paper.parameters, 1e6)} params (${s.paper.counts === 'heads' ? 'extra layers + box predictors' : 'whole model'}) — ${s.paper.source}.`,
    `Difference: ${s.paper.note}.`,
  ].join('\n');
}
