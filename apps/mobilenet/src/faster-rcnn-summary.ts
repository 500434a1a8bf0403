/**
 * `mobilenet summary --model faster-rcnn`: the V1 paper's Table 13 Faster R-CNN counted as the paper
 * counts (conv and FC multiply-adds, weights + biases, batch norm apart): the first stage once an image
 * (backbone to Conv2d_11, RPN head), the second stage once a proposal (300: first_stage_max_proposals).
 * TF's design (detection.md 1.3–1.6): RPN 3×3 conv of depth 512, 14×14 crops, 2×2 max-pool, Conv2d_12–13.
 */
import { type ModelProfile, type ProfileRow, profile } from '@mobilenets/backbone';
import { type ArchitectureOptions, UsageError, buildMobileNet, formatInteger, formatTable } from '@mobilenets/cli-kit';
import { createFasterRcnn } from '@mobilenets/detection-faster-rcnn';

/** The V1 paper's Table 13 rows (COCO: 90 classes as the TF Object Detection API counts them; 300 proposals). */
export const PAPER_FASTER_RCNN: Readonly<Record<300 | 600, { multAdds: number; parameters: number }>> = {
  300: { multAdds: 25.2e9, parameters: 6.1e6 },
  600: { multAdds: 30.5e9, parameters: 6.1e6 },
};
const PAPER_SOURCE = 'MobileNetV1 paper, Table 13 (Faster-RCNN, MobileNet, COCO, 300 RPN proposals)';
export const FASTER_RCNN_SUMMARY_DEFAULTS = { inputSize: 300, classes: 90, proposals: 300 } as const;

export type FasterRcnnPart = 'backbone' | 'RPN' | 'box classifier' | 'box predictor';

export interface FasterRcnnPartTotals {
  part: FasterRcnnPart;
  /** 'image': counted once; 'proposal': once a proposal (the totals multiply by `proposals`). */
  per: 'image' | 'proposal';
  layers: number;
  /** For all proposals when per 'proposal'. */
  multAdds: number;
  multAddsPerProposal: number | null;
  parameters: number;
}

export interface FasterRcnnSummary {
  model: 'faster-rcnn';
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  classes: number;
  proposals: number;
  featureMapSize: [number, number];
  anchors: number;
  cropSize: number;
  multAdds: number;
  parameters: number;
  batchNormParameters: number;
  parts: FasterRcnnPartTotals[];
  /** The same model with its second stage on the 14×14 crops themselves (no 2×2 max-pool): what the paper's count matches. */
  withoutCropPool: { multAdds: number; boxClassifierMultAddsPerProposal: number };
  paper: { source: string; inputSize: number; multAdds: number; parameters: number; note: string } | null;
}

interface Counted {
  first: ModelProfile;
  second: ModelProfile;
  featureMapSize: [number, number];
  anchors: number;
  cropSize: number;
  firstStageLayers: Set<string>;
  backboneLayers: Set<string>;
}

function count(o: ArchitectureOptions, inputSize: number, classes: number, cropPool: number): Counted {
  const backbone = buildMobileNet({ ...o, inputSize, top: false });
  const backboneLayers = new Set(backbone.layers.map((l) => l.name));
  const f = createFasterRcnn({ backbone, classes, rpnHead: 'conv', rpnDepth: 512, cropPool });
  try {
    return { first: profile(f.firstStage), second: profile(f.secondStage), featureMapSize: f.featureMapSize, anchors: f.anchors, cropSize: f.cropSize, firstStageLayers: new Set(f.firstStage.layers.map((l) => l.name)), backboneLayers };
  } finally {
    f.model.dispose();
  }
}

/** The Faster R-CNN the options describe, counted; `given` holds what the user typed (else the paper's 300 px, 90 classes, 300 proposals). */
export function summarizeFasterRcnn(o: ArchitectureOptions, given: { inputSize?: number; classes?: number; proposals?: number }): FasterRcnnSummary {
  if (o.variant !== 'standard') throw new UsageError(`--variant ${o.variant} is for the classifier (the V1 paper's Tables 4 and 5); --model faster-rcnn uses the standard backbone.`);
  if (o.top === false) throw new UsageError('--no-top is for the classifier; --model faster-rcnn always uses the backbone without its top.');
  const { inputSize, classes, proposals } = { ...FASTER_RCNN_SUMMARY_DEFAULTS, ...definedOf(given) };
  const c = count(o, inputSize, classes, 2);
  const perProposal = (rows: ProfileRow[]) => sum(rows.map((r) => r.multAdds));
  const firstRows = c.first.layers;
  const secondRows = c.second.layers;
  const classifierRows = secondRows.filter((r) => r.type !== 'fc');
  const predictorRows = secondRows.filter((r) => r.type === 'fc');
  const parts: FasterRcnnPartTotals[] = [
    imagePart('backbone', firstRows.filter((r) => c.backboneLayers.has(r.name))),
    imagePart('RPN', firstRows.filter((r) => !c.backboneLayers.has(r.name))),
    { part: 'box classifier', per: 'proposal', layers: classifierRows.length, multAdds: proposals * perProposal(classifierRows), multAddsPerProposal: perProposal(classifierRows), parameters: sum(classifierRows.map((r) => r.params)) },
    { part: 'box predictor', per: 'proposal', layers: predictorRows.length, multAdds: proposals * perProposal(predictorRows), multAddsPerProposal: perProposal(predictorRows), parameters: sum(predictorRows.map((r) => r.params)) },
  ];
  const multAdds = sum(parts.map((p) => p.multAdds));
  const unpooled = count(o, inputSize, classes, 1);
  const unpooledClassifier = perProposal(unpooled.second.layers.filter((r) => r.type !== 'fc'));
  const withoutCropPool = { multAdds: c.first.multAdds + proposals * (unpooledClassifier + perProposal(predictorRows)), boxClassifierMultAddsPerProposal: unpooledClassifier };
  const summary = {
    model: 'faster-rcnn' as const, arch: o.arch, alpha: o.alpha, inputSize, classes, proposals, featureMapSize: c.featureMapSize, anchors: c.anchors, cropSize: c.cropSize,
    multAdds, parameters: c.first.params + c.second.params, batchNormParameters: c.first.bnParams + c.second.bnParams, parts, withoutCropPool,
  };
  return { ...summary, paper: paperRow(summary) };
}

function imagePart(part: FasterRcnnPart, rows: ProfileRow[]): FasterRcnnPartTotals {
  return { part, per: 'image', layers: rows.length, multAdds: sum(rows.map((r) => r.multAdds)), multAddsPerProposal: null, parameters: sum(rows.map((r) => r.params)) };
}

function paperRow(s: Omit<FasterRcnnSummary, 'paper'>): FasterRcnnSummary['paper'] {
  if (s.arch !== 'v1') return null; // the V2 paper has no Faster R-CNN row
  const size = s.inputSize <= 450 ? 300 : 600;
  const row = PAPER_FASTER_RCNN[size];
  const differences = [
    s.alpha !== 1 && `α 1 (here ${s.alpha})`,
    s.inputSize !== size && `${size} px (here ${s.inputSize})`,
    s.classes !== 90 && `90 classes (here ${s.classes})`,
    s.proposals !== 300 && `300 proposals (here ${s.proposals})`,
  ].filter((d): d is string => d !== false);
  const note =
    `with TF's 2×2 max-pool of the 14×14 crops the box classifier runs on 7×7 (${billions(s.parts[2].multAddsPerProposal! * 1)} a proposal → ${billions(s.multAdds)} in all); ` +
    `on the 14×14 crops themselves (no max-pool) it is ${billions(s.withoutCropPool.boxClassifierMultAddsPerProposal)} a proposal → ${billions(s.withoutCropPool.multAdds)} in all, which is the paper's count` +
    (differences.length > 0 ? `; the paper's row is ${differences.join(', ')}` : '');
  return { source: PAPER_SOURCE, inputSize: size, ...row, note };
}

export function formatFasterRcnnSummary(s: FasterRcnnSummary): string {
  const rows = [...s.parts.map((p) => ({ ...p, label: p.per === 'proposal' ? `${p.part} (×${s.proposals})` : p.part })), { label: 'total', layers: sum(s.parts.map((p) => p.layers)), multAdds: s.multAdds, multAddsPerProposal: null, parameters: s.parameters }];
  const table = formatTable(rows, [
    { header: 'part', value: (r) => r.label },
    { header: 'layers', value: (r) => r.layers },
    { header: 'Mult-Adds', value: (r) => `${formatInteger(r.multAdds)} (${billions(r.multAdds)})`, align: 'right' },
    { header: 'a proposal', value: (r) => (r.multAddsPerProposal === null ? '' : `${formatInteger(r.multAddsPerProposal)}`), align: 'right' },
    { header: 'params', value: (r) => `${formatInteger(r.parameters)} (${(r.parameters / 1e6).toFixed(3)}M)`, align: 'right' },
  ]);
  const [fh, fw] = s.featureMapSize;
  return [
    `Faster R-CNN ${s.inputSize} on MobileNet${s.arch.toUpperCase()} α ${s.alpha}, ${s.classes} classes + background — stride-16 map ${fh}×${fw}, ${formatInteger(s.anchors)} anchors, ${s.proposals} proposals, ${s.cropSize}×${s.cropSize} crops`,
    '',
    table,
    '',
    `Batch norm apart: ${formatInteger(s.batchNormParameters)} parameters (γ, β, moving mean and variance), not in the totals.`,
    s.paper === null
      ? 'Paper: no row (the V2 paper reports no Faster R-CNN).'
      : `Paper: ${s.paper.multAdds / 1e9}B Mult-Adds, ${s.paper.parameters / 1e6}M params at ${s.paper.inputSize} px — ${s.paper.source}.\nDifference: ${s.paper.note}.`,
  ].join('\n');
}

function definedOf<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

const billions = (v: number) => `${(v / 1e9).toFixed(3)}B`;
