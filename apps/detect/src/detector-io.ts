/** Building the detector a run describes, and saving / loading it (model.json + weights.bin + detector.json). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { ssdAnchorsCxcywh } from '@mobilenets/box-math';
import { UsageError, buildMobileNet, describeModelLoadError, resolveModelFolder } from '@mobilenets/cli-kit';
import { type SsdModel, createSsd } from '@mobilenets/detection-ssd';
import { fileSystem } from '@mobilenets/runtime';

export const DETECTOR_JSON = 'detector.json';

/** What a detector is, enough to rebuild its anchors and read its outputs. */
export interface DetectorDescription {
  model: 'ssd' | 'ssdlite';
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** Class names, label = index, no background. */
  classes: string[];
  scoreFunction: 'softmax' | 'sigmoid';
}

/** The SSD / SSDLite the description names, with fresh weights (seeded). A bad --alpha / --input-size is a usage error naming the flag. */
export function buildDetector(d: DetectorDescription, seed: number | null): SsdModel {
  const backbone = buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6', top: false }, { seed });
  return createSsd({ backbone, classes: d.classes.length, head: d.model, seed: seed === null ? null : seed + 1 });
}

/** The detector's anchors, normalised cxcywh in output order (TF's SSD anchor generator on its feature maps). */
export function anchorsOf(ssd: Pick<SsdModel, 'featureMapSizes'>): Float64Array {
  return ssdAnchorsCxcywh(ssd.featureMapSizes);
}

/** Writes `dir/model.json`, `dir/weights.bin` and `dir/detector.json`. */
export async function saveDetector(dir: string, ssd: SsdModel, d: DetectorDescription): Promise<void> {
  await ssd.model.save(fileSystem(dir));
  const json = { format: 'mobilenets-ssd', version: 1, ...d, featureMapSizes: ssd.featureMapSizes, anchorsPerLocation: ssd.anchorsPerLocation, anchors: ssd.anchors };
  fs.writeFileSync(path.join(dir, DETECTOR_JSON), `${JSON.stringify(json, null, 1)}\n`);
}

export interface SavedDetector {
  model: tfl.LayersModel;
  description: DetectorDescription;
  anchorsCxcywh: Float64Array;
  modelDir: string;
  runDir: string | null;
}

/** Loads a detector `mobilenet-detect train` saved: its model folder, or the run folder. Errors name the option and the file. */
export async function loadSavedDetector(given: string, option = '--model'): Promise<SavedDetector> {
  const { modelDir, runDir } = resolveModelFolder(given, option);
  const specFile = path.join(modelDir, DETECTOR_JSON);
  const damaged = (problem: string) => new Error(`${option} ${given}: ${problem}. Train the detector again, or restore the folder from a copy.`);
  if (!fs.existsSync(specFile)) throw new UsageError(`${option} ${given}: ${specFile} is missing: this is not a detector saved by 'mobilenet-detect train' (expected model.json, weights.bin and detector.json).`);
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  } catch (error) {
    throw damaged(`${specFile} is not valid JSON (${(error as Error).message})`);
  }
  const field = (name: string, ok: (v: unknown) => boolean, expected: string) => {
    if (!ok(spec[name])) throw damaged(`${specFile}: field '${name}' must be ${expected}; found ${JSON.stringify(spec[name])}`);
    return spec[name];
  };
  const description: DetectorDescription = {
    model: field('model', (v) => v === 'ssd' || v === 'ssdlite', "'ssd' or 'ssdlite'") as DetectorDescription['model'],
    arch: field('arch', (v) => v === 'v1' || v === 'v2', "'v1' or 'v2'") as DetectorDescription['arch'],
    alpha: field('alpha', (v) => typeof v === 'number' && v > 0, 'a positive number') as number,
    inputSize: field('inputSize', (v) => Number.isInteger(v) && (v as number) >= 32, 'an integer ≥ 32') as number,
    classes: field('classes', (v) => Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string'), 'a non-empty array of class names') as string[],
    scoreFunction: field('scoreFunction', (v) => v === 'softmax' || v === 'sigmoid', "'softmax' or 'sigmoid'") as DetectorDescription['scoreFunction'],
  };
  const featureMapSizes = field('featureMapSizes', (v) => Array.isArray(v) && v.every((s) => Array.isArray(s) && s.length === 2 && s.every((n) => Number.isInteger(n) && n > 0)), 'a list of [height, width] pairs') as [number, number][];
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw damaged(`cannot load the model in ${modelDir}: ${describeModelLoadError(error)}`);
  }
  const anchorsCxcywh = ssdAnchorsCxcywh(featureMapSizes);
  const shapes = model.outputs.map((o) => o.shape);
  const anchors = anchorsCxcywh.length / 4;
  if (shapes.length !== 2 || shapes[0][1] !== anchors || shapes[1][2] !== description.classes.length + 1 || model.inputs[0].shape[1] !== description.inputSize) {
    model.dispose();
    throw damaged(`${specFile} does not describe the model next to it (${anchors} anchors, ${description.classes.length} classes + background, input ${description.inputSize}; the model's outputs are ${JSON.stringify(shapes)}, input ${JSON.stringify(model.inputs[0].shape)})`);
  }
  return { model, description, anchorsCxcywh, modelDir, runDir };
}
