/**
 * What tools/paper/tables.ts measures for each published row: the model the row describes, built with
 * the project's own builders and counted by the backbone's profiler (conv and FC multiply-adds; conv
 * and FC weights and biases; batch norm apart). Every model built here is disposed before returning.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { type LayerType, type MobileNetV1Config, type MobileNetV2Config, type ModelProfile, type ProfileRow, mobilenetV1, mobilenetV2, profile } from '@mobilenets/backbone';
import { type SsdHead, createSsd } from '@mobilenets/detection-ssd';
import { createFasterRcnn } from '@mobilenets/detection-faster-rcnn';

/** One row's counts: Mult-Adds and parameters as integers, or (V1 Table 2) shares in percent. */
export interface Measured {
  multAdds: number;
  params: number;
  /** How the count relates to what the paper counted, when that needs saying. */
  note?: string;
}

export type Quantity = 'multAdds' | 'params';

/** The papers' column names for the two quantities. */
const QUANTITY_OF_COLUMN: Readonly<Record<string, Quantity>> = {
  'Mult-Adds': 'multAdds',
  MAdds: 'multAdds',
  MAdd: 'multAdds',
  MACs: 'multAdds',
  Parameters: 'params',
  Params: 'params',
};

export function quantityOfColumn(column: string): Quantity {
  const quantity = QUANTITY_OF_COLUMN[column];
  if (quantity === undefined) throw new Error(`published.json: unknown column '${column}' (known: ${Object.keys(QUANTITY_OF_COLUMN).join(', ')})`);
  return quantity;
}

/** Builds, profiles and disposes. */
function profiled(build: () => tfl.LayersModel): ModelProfile {
  const model = build();
  try {
    return profile(model);
  } finally {
    model.dispose();
  }
}

const v1Profiles = new Map<string, ModelProfile>();
/** V1 profiles by config: several tables share a model (1.0-224 is in Tables 4, 6, 7 and 8). */
function profileV1(config: MobileNetV1Config): ModelProfile {
  const key = JSON.stringify(config);
  let p = v1Profiles.get(key);
  if (p === undefined) {
    p = profiled(() => mobilenetV1(config));
    v1Profiles.set(key, p);
  }
  return p;
}

const totals = (p: ModelProfile, note?: string): Measured => ({ multAdds: p.multAdds, params: p.params, ...(note === undefined ? {} : { note }) });

/** 'α MobileNet-R' (the V1 paper's row labels) → α and R. */
function parseV1Label(row: string): { widthMultiplier: number; inputSize: number } {
  const m = /^(\d(?:\.\d+)?) MobileNet-(\d+)\b/.exec(row);
  if (m === null) throw new Error(`published.json: cannot read α and resolution from the row '${row}'`);
  return { widthMultiplier: Number(m[1]), inputSize: Number(m[2]) };
}

/** 'α_R' (the checkpoint table's names) → α and R. */
function parseCheckpoint(row: string): { widthMultiplier: number; inputSize: number } {
  const m = /^(\d\.\d+)_(\d+)$/.exec(row);
  if (m === null) throw new Error(`published.json: cannot read α and resolution from the checkpoint '${row}'`);
  return { widthMultiplier: Number(m[1]), inputSize: Number(m[2]) };
}

const TABLE_2_TYPES: Readonly<Record<string, LayerType>> = {
  'Conv 1 × 1': 'pointwise',
  'Conv DW 3 × 3': 'depthwise',
  'Conv 3 × 3': 'conv',
  'Fully Connected': 'fc',
};

/**
 * V1 Table 2: each layer type's share of 1.0-224's Mult-Adds and parameters. The paper's parameter
 * shares leave the FC bias out (with it they move by 0.02), so these do too.
 */
function table2(row: string): Measured {
  const type = TABLE_2_TYPES[row];
  if (type === undefined) throw new Error(`published.json: V1 Table 2 has no layer type '${row}'`);
  const p = profileV1({});
  const fcBiases = sum(p.layers.filter((r) => r.type === 'fc').map(outputChannels));
  const typeParams = p.byType[type].params - (type === 'fc' ? fcBiases : 0);
  return {
    multAdds: p.byType[type].multAddsPercent,
    params: (100 * typeParams) / (p.params - fcBiases),
    note: 'shares of 1.0-224; parameter shares without the FC bias, as the paper\'s imply',
  };
}

/** V1 Table 3: the 14×14×512 → 512 layer as a full 3×3 convolution, or depthwise separable. */
function table3(row: string): Measured {
  const layers: Readonly<Record<string, { separable: boolean; channels: number; size: number }>> = {
    Convolution: { separable: false, channels: 512, size: 14 },
    'Depthwise Separable Conv': { separable: true, channels: 512, size: 14 },
    'α = 0.75': { separable: true, channels: 384, size: 14 },
    'ρ = 0.714': { separable: true, channels: 384, size: 10 },
  };
  const layer = layers[row];
  if (layer === undefined) throw new Error(`published.json: V1 Table 3 has no row '${row}'`);
  return totals(profiled(() => singleLayer(layer.separable, layer.channels, layer.size)), 'one layer, no bias, no batch norm');
}

function singleLayer(separable: boolean, channels: number, size: number): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, channels] });
  const conv = (kernelSize: number) => tfl.layers.conv2d({ filters: channels, kernelSize, padding: 'same', useBias: false });
  const output = separable
    ? conv(1).apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(input))
    : conv(3).apply(input);
  return tfl.model({ inputs: input, outputs: output as tfl.SymbolicTensor });
}

function table4(row: string): Measured {
  if (row === 'Conv MobileNet') return totals(profileV1({ variant: 'full-conv' }), 'every separable layer a full 3×3 conv; 4,866.3M without the FC');
  if (row === 'MobileNet') return totals(profileV1({}));
  throw new Error(`published.json: V1 Table 4 has no row '${row}'`);
}

function table5(row: string): Measured {
  if (row === '0.75 MobileNet') return totals(profileV1({ widthMultiplier: 0.75 }));
  if (row === 'Shallow MobileNet') return totals(profileV1({ variant: 'shallow' }), 'the five 14×14×512 separable layers removed');
  throw new Error(`published.json: V1 Table 5 has no row '${row}'`);
}

const v1Classifier = (row: string) => totals(profileV1(parseV1Label(row)));

/** Tables 12 and 14 put MobileNet bodies under heads the paper does not describe: the body alone is counted. */
const v1Body = (row: string) =>
  totals(profileV1({ ...parseV1Label(row), includeTop: false }), 'body only (no FC): the paper does not state its head');

interface DetectorCounts {
  model: Measured;
  /** The extra feature layers and box predictors only. */
  heads: Measured;
  /** The heads with every box predictor a 3×3 convolution (the original SSD's) instead of 1×1. */
  heads3x3: Measured;
}

/** An SSD or SSDLite detector as TF's Object Detection API builds it on MobileNet α 1, profiled whole and split. */
function detector(arch: 'v1' | 'v2', head: SsdHead, inputSize: number, classes: number): DetectorCounts {
  const backbone = arch === 'v1' ? mobilenetV1({ inputSize, includeTop: false }) : mobilenetV2({ inputSize, includeTop: false });
  const backboneLayers = new Set(backbone.layers.map((l) => l.name));
  let ssd: tfl.LayersModel;
  try {
    ssd = createSsd({ backbone, classes, head }).model;
  } catch (error) {
    backbone.dispose();
    throw error;
  }
  // The detector shares the backbone's layers: disposing it disposes them (as `mobilenet summary` does).
  const p = profiled(() => ssd);
  const heads = p.layers.filter((r) => !backboneLayers.has(r.name));
  const predictors = heads.filter((r) => r.name.startsWith('BoxPredictor_') && r.type === 'pointwise');
  const others = heads.filter((r) => !predictors.includes(r));
  return {
    model: { multAdds: p.multAdds, params: p.params },
    heads: { multAdds: sum(heads.map((r) => r.multAdds)), params: sum(heads.map((r) => r.params)) },
    heads3x3: {
      multAdds: sum(others.map((r) => r.multAdds)) + sum(predictors.map((r) => 9 * r.multAdds)),
      params: sum(others.map((r) => r.params)) + sum(predictors.map((r) => 9 * (r.params - outputChannels(r)) + outputChannels(r))),
    },
  };
}

/**
 * Faster R-CNN on V1 at `inputSize` (TF's design: RPN 3×3 conv of depth 512, 14×14 crops of the stride-16
 * map, Conv2d_12–13 as box classifier), its second stage counted for 300 proposals. `cropPool` 1 runs the
 * box classifier on the 14×14 crops themselves, 2 on TF's 2×2 max-pool of them.
 */
function fasterRcnn(inputSize: number, cropPool: 1 | 2): { multAdds: number; params: number } {
  const backbone = mobilenetV1({ inputSize, includeTop: false });
  const f = createFasterRcnn({ backbone, classes: 90, rpnHead: 'conv', rpnDepth: 512, cropPool });
  try {
    const first = profile(f.firstStage);
    const second = profile(f.secondStage);
    return { multAdds: first.multAdds + 300 * second.multAdds, params: first.params + second.params };
  } finally {
    f.model.dispose();
  }
}

function v1Table13(row: string): Measured {
  if (row === 'SSD 300 MobileNet') return { ...detector('v1', 'ssd', 300, 90).model, note: 'whole detector (TF ssd_mobilenet_v1), 90 classes + background' };
  const size = { 'Faster-RCNN 300 MobileNet': 300, 'Faster-RCNN 600 Mobilenet': 600 }[row];
  if (size === undefined) throw new Error(`published.json: V1 Table 13 row '${row}' is not built here`);
  const pooled = fasterRcnn(size, 2);
  return {
    ...fasterRcnn(size, 1),
    note: `300 proposals, 90 classes + background; the box classifier on the 14×14 crops (the paper's count): with TF's 2×2 max-pool of them, ${(pooled.multAdds / 1e9).toFixed(2)}B`,
  };
}

function v2Table4(row: string): Measured {
  if (row === 'MobileNetV1') return totals(profileV1({}));
  if (row === 'MobileNetV2') return totals(profiled(() => mobilenetV2({})));
  if (row === 'MobileNetV2 (1.4)') return totals(profiled(() => mobilenetV2({ widthMultiplier: 1.4 })));
  throw new Error(`published.json: V2 Table 4 has no row '${row}'`);
}

function v2Table5(row: string): Measured {
  const counts = detector('v2', row === 'SSD' ? 'ssd' : 'ssdlite', 320, 80);
  if (row === 'SSDLite') return { ...counts.heads, note: 'prediction layers only (extra layers + box predictors), 320 px' };
  if (row !== 'SSD') throw new Error(`published.json: V2 Table 5 has no row '${row}'`);
  const with3x3 = `${(counts.heads3x3.multAdds / 1e9).toFixed(3)}B, ${(counts.heads3x3.params / 1e6).toFixed(2)}M`;
  return { ...counts.heads, note: `prediction layers only, 1×1 box predictors as TF's ssd_mobilenet; with the original SSD's 3×3 ones: ${with3x3}` };
}

function v2Table6(row: string): Measured {
  const archs: Readonly<Record<string, 'v1' | 'v2'>> = { 'MNet V1 + SSDLite': 'v1', 'MNet V2 + SSDLite': 'v2' };
  const arch = archs[row];
  if (arch === undefined) throw new Error(`published.json: V2 Table 6 has no row '${row}'`);
  return { ...detector(arch, 'ssdlite', 320, 80).model, note: 'whole detector, 80 classes + background' };
}

function checkpoint(row: string): Measured {
  const config: MobileNetV2Config = parseCheckpoint(row);
  return totals(profiled(() => mobilenetV2(config)));
}

const MEASURES: Readonly<Record<string, (row: string) => Measured>> = {
  'V1 Table 2': table2,
  'V1 Table 3': table3,
  'V1 Table 4': table4,
  'V1 Table 5': table5,
  'V1 Table 6': v1Classifier,
  'V1 Table 7': v1Classifier,
  'V1 Table 8': v1Classifier,
  'V1 Table 9': v1Classifier,
  'V1 Table 10': (row) => totals(profileV1({ ...parseV1Label(row), classes: 120 }), 'a 120-class FC (Stanford Dogs)'),
  'V1 Table 12': v1Body,
  'V1 Table 13': v1Table13,
  'V1 Table 14': v1Body,
  'V2 Table 4': v2Table4,
  'V2 Table 5': v2Table5,
  'V2 Table 6': v2Table6,
  'C6 checkpoints': checkpoint,
};

/** Our counts for one published row. */
export function measureRow(table: string, row: string): Measured {
  const measure = MEASURES[table];
  if (measure === undefined) throw new Error(`published.json: no model is defined for '${table}'`);
  return measure(row);
}

/** A layer's output channels: its bias count. */
function outputChannels(row: ProfileRow): number {
  return row.outputShape[row.outputShape.length - 1];
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
