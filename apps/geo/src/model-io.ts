/**
 * Saving and loading geolocation models: a model folder holds the MobileNet classifier (model.json +
 * weights.bin), its partition (partition.json: the S2 cells, class = index) and geo.json (architecture,
 * input size and how a cell becomes a point).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError, buildMobileNet, describeModelLoadError, resolveModelFolder, type ModelFolderKind } from '@mobilenets/cli-kit';
import { S2Partition } from '@mobilenets/geo';
import { fileSystem } from '@mobilenets/runtime';
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
}

export interface GeoModel {
  model: tfl.LayersModel;
  partition: S2Partition;
  description: GeoModelDescription;
  modelDir: string;
  runDir: string | null;
}

/** A MobileNet classifier over the partition's cells; `seed` fixes its initial weights. */
export function buildGeoClassifier(d: Pick<GeoModelDescription, 'arch' | 'alpha' | 'inputSize'>, cells: number, seed: number): tfl.LayersModel {
  return buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6' }, { classes: cells, seed });
}

/** Writes JSON atomically (a temporary file renamed into place). */
export function writeJsonFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 1)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** Reads a partition file (one S2PartitionJson); errors name the option and the file. */
export function readPartitionFile(file: string, option: string): S2Partition {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${option} ${file}: no such file. Expected a partition written by 'mobilenet-geo partition --out FILE'.`);
    throw new Error(`${option} ${file}: cannot read it (${(error as Error).message}).`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} ${file}: not valid JSON (${(error as Error).message}). Expected a partition written by 'mobilenet-geo partition'.`);
  }
  try {
    return S2Partition.fromJson(json, file);
  } catch (error) {
    throw new Error(`${option} ${(error as Error).message}`);
  }
}

export async function saveGeoModel(dir: string, model: tfl.LayersModel, partition: S2Partition, description: GeoModelDescription): Promise<void> {
  await model.save(fileSystem(dir));
  writeJsonFile(path.join(dir, PARTITION_JSON), partition.toJson());
  writeJsonFile(path.join(dir, GEO_JSON), description);
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
  const partition = readPartitionFile(path.join(modelDir, PARTITION_JSON), option);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw damaged(`cannot load the model in ${modelDir}: ${describeModelLoadError(error)}`);
  }
  const output = model.outputs[0].shape;
  const input = model.inputs[0].shape;
  if (model.outputs.length !== 1 || output.length !== 2 || output[1] !== partition.cells.length || input[1] !== description.inputSize) {
    model.dispose();
    throw damaged(`the model (input [${input}], output [${output}]) does not match ${PARTITION_JSON} (${partition.cells.length} cells) and ${GEO_JSON} (input ${description.inputSize} px)`);
  }
  return { model, partition, description, modelDir, runDir };
}
