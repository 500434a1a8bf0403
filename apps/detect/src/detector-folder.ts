/**
 * A saved detector: a folder with model.json + weights.bin (the tfjs SSD / SSDLite model) and
 * detector.json (what post-processing needs beside the network), or the run folder that holds it in
 * model/. Resolved as cli-kit's resolveModelFolder resolves a classifier's folder, with the detector's files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError, describeModelLoadError } from '@mobilenets/cli-kit';
import { SSD_OUTPUTS } from '@mobilenets/detection-ssd';
import { fileSystem } from '@mobilenets/runtime';

export const DETECTOR_JSON = 'detector.json';

const EXPECTED = `Expected a detector folder (model.json, weights.bin, ${DETECTOR_JSON}) or a run folder holding one in model/`;

export interface DetectorFolder {
  /** The folder holding model.json, weights.bin and detector.json. */
  modelDir: string;
  /** The run folder it belongs to (the folder given when it holds model/), else null. */
  runDir: string | null;
}

function kind(p: string): 'dir' | 'file' | 'missing' {
  try {
    return fs.statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Where the detector named by `given` (the value of `option`) is; a UsageError naming the option and the missing file when there is none. */
export function resolveDetectorFolder(given: string, option = '--model'): DetectorFolder {
  const what = kind(given);
  if (what === 'missing') throw new UsageError(`${option} ${given}: no such file or folder. ${EXPECTED}.`);
  if (what === 'file') {
    if (path.basename(given) === 'model.json') return resolveDetectorFolder(path.dirname(given) || '.', option);
    throw new UsageError(`${option} ${given}: this is a file, not a folder. ${EXPECTED}.`);
  }
  let folder: DetectorFolder;
  if (kind(path.join(given, 'model.json')) === 'file') folder = { modelDir: given, runDir: null };
  else if (kind(path.join(given, 'model', 'model.json')) === 'file') folder = { modelDir: path.join(given, 'model'), runDir: given };
  else throw new UsageError(`${option} ${given}: no model.json in this folder or in ${path.join(given, 'model')}. ${EXPECTED}.`);
  const detectorJson = path.join(folder.modelDir, DETECTOR_JSON);
  if (kind(detectorJson) !== 'file') {
    throw new UsageError(
      `${option} ${given}: ${detectorJson} is missing, so ${folder.modelDir} is not a saved detector (a classifier's folder has labels.json instead). ` +
        `Give the folder 'mobilenet-detect train' saved, or restore its ${DETECTOR_JSON}.`,
    );
  }
  return folder;
}

/** detector.json's text, checked to be a JSON object (its fields are post-processing's business). */
export function readDetectorJson(modelDir: string, given: string, option = '--model'): string {
  const file = path.join(modelDir, DETECTOR_JSON);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${option} ${given}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} ${given}: ${file} is not valid JSON (${(error as Error).message}). Restore the ${DETECTOR_JSON} saved with this detector.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${option} ${given}: ${file} must hold a JSON object; it holds ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}. Restore the ${DETECTOR_JSON} saved with this detector.`);
  }
  return text;
}

/**
 * Loads the detector network saved in `modelDir` and checks that it is one: a square RGB input
 * [batch, size, size, 3] and the outputs BoxEncodings [batch, anchors, 4] and ClassLogits
 * [batch, anchors, classes + 1]. Errors name the option and the file and say what to do.
 */
export async function loadDetectorModel(modelDir: string, given: string, option = '--model'): Promise<tfl.LayersModel> {
  const modelJson = path.join(modelDir, 'model.json');
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw new Error(`${option} ${given}: cannot load the model in ${modelDir}: ${describeModelLoadError(error)}. Save the detector again, or restore the folder from a copy.`);
  }
  const input = model.inputs[0].shape;
  const outputs = model.outputNames.map((name, i) => `${name} [${model.outputs[i].shape.map((d) => d ?? 'batch').join(', ')}]`).join(', ');
  const [boxes, logits] = [SSD_OUTPUTS.boxEncodings, SSD_OUTPUTS.classLogits].map((name) => model.outputs[model.outputNames.indexOf(name)]?.shape);
  const problem =
    model.inputs.length !== 1 || input.length !== 4 || input[1] === null || input[1] !== input[2] || input[3] !== 3
      ? `its input is [${input.map((d) => d ?? 'batch').join(', ')}]; a detector takes one square RGB image batch [batch, size, size, 3]`
      : boxes?.length !== 3 || boxes[2] !== 4 || logits?.length !== 3 || logits[1] !== boxes[1]
        ? `its outputs are ${outputs}; a detector's are ${SSD_OUTPUTS.boxEncodings} [batch, anchors, 4] and ${SSD_OUTPUTS.classLogits} [batch, anchors, classes + 1]`
        : null;
  if (problem !== null) {
    model.dispose();
    throw new Error(`${option} ${given}: ${modelJson} is not an SSD detector: ${problem}. Give the folder 'mobilenet-detect train' saved.`);
  }
  return model;
}
