/**
 * Saving and loading geolocation models: a model folder holds the MobileNet classifier (model.json +
 * weights.bin), its partition (partition.json: the S2 cells, class = index — or, for a model with one
 * head per partition, the hierarchy `{ partitions: [...] }`, coarse → fine) and geo.json (architecture,
 * input size, how a cell becomes a point, and `heads` for a hierarchy).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { MOBILENET_V1_DEFAULTS, MOBILENET_V2_DEFAULTS, layerSeed } from '@mobilenets/backbone';
import { UsageError, buildMobileNet, describeModelLoadError, resolveModelFolder, type ModelFolderKind } from '@mobilenets/cli-kit';
import { S2Hierarchy, S2Partition, checkHierarchyOutputs } from '@mobilenets/geo';
import { fileSystem } from '@mobilenets/runtime';
import { type GeoCells, cellsJson, readCellsFile } from './cells';
import type { LocateMode } from './run-settings';

export const PARTITION_JSON = 'partition.json';
export const GEO_JSON = 'geo.json';
export const GEO_FOLDER: ModelFolderKind = { files: `model.json, weights.bin, ${PARTITION_JSON}, ${GEO_JSON}`, app: 'mobilenet-geo' };

/** What geo.json records. */
export interface GeoModelDescription {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** Where a predicted cell puts the photo: the mean of the cell's training photos, or its S2 centre. */
  locate: LocateMode;
  /** Cells whose locations are averaged (weighted by probability) into the prediction; 1 = the most probable cell. */
  topK: number;
  /** Only for a hierarchy: the model's heads, one per partition of partition.json, coarse → fine. */
  heads?: number;
}

export interface GeoModel {
  model: tfl.LayersModel;
  /** The classes: the finest partition of a hierarchy. */
  partition: S2Partition;
  /** The hierarchy of a model with one head per partition, else null. */
  hierarchy: S2Hierarchy | null;
  description: GeoModelDescription;
  modelDir: string;
  runDir: string | null;
}

/** A MobileNet classifier over the partition's cells; `seed` fixes its initial weights. */
export function buildGeoClassifier(d: Pick<GeoModelDescription, 'arch' | 'alpha' | 'inputSize'>, cells: number, seed: number): tfl.LayersModel {
  return buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6' }, { classes: cells, seed });
}

/**
 * A MobileNet with one classifier head per partition of a hierarchy (GeoEstimation): the backbone's
 * features → AvgPool → Dropout (the architecture's rate) → for each partition i, coarse → fine, a Dense
 * 'Logits_p<i>' over its cells and a softmax 'Predictions_p<i>'. The heads are initialised as the
 * backbone's classifier head is: normal(0, 0.01) kernels seeded from `seed` and the layer's name, zero bias.
 */
export function buildGeoHierarchyClassifier(d: Pick<GeoModelDescription, 'arch' | 'alpha' | 'inputSize'>, cellsPerPartition: readonly number[], seed: number): tfl.LayersModel {
  const body = buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6', top: false }, { seed });
  const rate = d.arch === 'v2' ? MOBILENET_V2_DEFAULTS.dropout : MOBILENET_V1_DEFAULTS.dropout;
  let x = tfl.layers.globalAveragePooling2d({ name: 'AvgPool' }).apply(body.outputs[0]) as tfl.SymbolicTensor;
  if (rate > 0) x = tfl.layers.dropout({ rate, name: 'Dropout' }).apply(x) as tfl.SymbolicTensor;
  const outputs = cellsPerPartition.map((cells, i) => {
    const name = `Logits_p${i}`;
    const kernelInitializer = tfl.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: layerSeed({ seed }, name) });
    const logits = tfl.layers.dense({ units: cells, name, kernelInitializer }).apply(x) as tfl.SymbolicTensor;
    return tfl.layers.activation({ activation: 'softmax', name: `Predictions_p${i}` }).apply(logits) as tfl.SymbolicTensor;
  });
  return tfl.model({ inputs: body.inputs, outputs, name: `${body.name}_hierarchy` });
}

/** The classifier for `cells`: one head over the partition's cells, or one per partition of a hierarchy. */
export function buildGeoModel(d: Pick<GeoModelDescription, 'arch' | 'alpha' | 'inputSize'>, cells: GeoCells, seed: number): tfl.LayersModel {
  return cells.hierarchy === null ? buildGeoClassifier(d, cells.partition.cells.length, seed) : buildGeoHierarchyClassifier(d, cells.hierarchy.partitions.map((p) => p.cells.length), seed);
}

/** Writes JSON atomically (a temporary file renamed into place). */
export function writeJsonFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 1)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

export async function saveGeoModel(dir: string, model: tfl.LayersModel, cells: GeoCells, description: GeoModelDescription): Promise<void> {
  await model.save(fileSystem(dir));
  writeJsonFile(path.join(dir, PARTITION_JSON), cellsJson(cells));
  writeJsonFile(path.join(dir, GEO_JSON), cells.hierarchy === null ? description : { ...description, heads: cells.hierarchy.partitions.length });
}

function checkDescription(json: unknown, file: string): GeoModelDescription {
  const d = json as Partial<GeoModelDescription> | null;
  const bad = (field: string, expected: string) => new Error(`${file}: ${field} must be ${expected}. Received ${JSON.stringify((d as Record<string, unknown> | null)?.[field])}.`);
  if (d === null || typeof d !== 'object') throw new Error(`${file}: expected an object { arch, alpha, inputSize, locate, topK }.`);
  if (d.arch !== 'v1' && d.arch !== 'v2') throw bad('arch', "'v1' or 'v2'");
  if (typeof d.alpha !== 'number' || !(d.alpha > 0)) throw bad('alpha', 'a positive number');
  if (!Number.isInteger(d.inputSize) || d.inputSize! < 32) throw bad('inputSize', 'an integer ≥ 32');
  if (d.locate !== 'mean' && d.locate !== 'center') throw bad('locate', "'mean' or 'center'");
  if (!Number.isInteger(d.topK) || d.topK! < 1) throw bad('topK', 'an integer ≥ 1');
  if (d.heads !== undefined && (!Number.isInteger(d.heads) || d.heads < 2)) throw bad('heads', 'an integer ≥ 2 (one head per partition of a hierarchy), or absent for one partition');
  return d as GeoModelDescription;
}

/** Loads a model saved by `mobilenet-geo train` (a model folder, its model.json or the run folder); errors name `option`. */
export async function loadGeoModel(given: string, option = '--model'): Promise<GeoModel> {
  const { modelDir, runDir } = resolveModelFolder(given, option, GEO_FOLDER);
  const damaged = (problem: string) => new Error(`${option} ${given}: ${problem}. Train the model again, or restore the folder from a copy.`);
  const descriptionFile = path.join(modelDir, GEO_JSON);
  if (!fs.existsSync(descriptionFile)) throw new UsageError(`${option} ${given}: ${modelDir} has no ${GEO_JSON}; it is not a geolocation model (expected ${GEO_FOLDER.files}, as 'mobilenet-geo train' writes).`);
  let description: GeoModelDescription;
  try {
    description = checkDescription(JSON.parse(fs.readFileSync(descriptionFile, 'utf8')), descriptionFile);
  } catch (error) {
    throw damaged((error as Error).message);
  }
  const { partition, hierarchy } = readCellsFile(path.join(modelDir, PARTITION_JSON), option);
  const heads = hierarchy?.partitions.length ?? 1;
  if ((description.heads ?? 1) !== heads) {
    throw damaged(`${GEO_JSON} says the model has ${description.heads ?? 1} head(s) but ${PARTITION_JSON} holds ${heads} partition(s)`);
  }
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw damaged(`cannot load the model in ${modelDir}: ${describeModelLoadError(error)}`);
  }
  const output = model.outputs[0].shape;
  const input = model.inputs[0].shape;
  if (hierarchy !== null) {
    try {
      if (input[1] !== description.inputSize) throw new RangeError(`its input [${input}] does not match ${GEO_JSON} (input ${description.inputSize} px)`);
      checkHierarchyOutputs(model, hierarchy, `the model in ${modelDir}`);
    } catch (error) {
      model.dispose();
      throw damaged(`${(error as Error).message} (${PARTITION_JSON} holds the hierarchy)`);
    }
  } else if (model.outputs.length !== 1 || output.length !== 2 || output[1] !== partition.cells.length || input[1] !== description.inputSize) {
    model.dispose();
    throw damaged(`the model (input [${input}], output [${output}]) does not match ${PARTITION_JSON} (${partition.cells.length} cells) and ${GEO_JSON} (input ${description.inputSize} px)`);
  }
  return { model, partition, hierarchy, description, modelDir, runDir };
}
