/**
 * A tfjs IOHandler that saves and loads the standard layers-model format in a directory:
 * `model.json` (topology, metadata and weights manifest) and `weights.bin` (all weights concatenated).
 * It stands in for tfjs-node's `file://` handler, which cannot be installed everywhere.
 *
 * Saving is crash-safe. Both files are written under temporary names and fsynced first; then
 * weights.bin and model.json are renamed into place, weights first. If the directory already holds a
 * model whose model.json points at weights.bin, that model is first re-pointed at a hard link
 * `weights.prev.bin` of its weights, so that at every instant model.json names a complete weights file
 * that matches it: a crash leaves either the previous model or the new one, both loadable.
 * weights.prev.bin is removed once the new model.json is in place.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { type FileOps, commit, fsyncDir, ioError, nodeFileOps, readText, removeTemporaries, writeFileAtomic, writeTemp } from './atomic';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** Holds the previous model's weights while a save replaces it. */
const PREVIOUS_WEIGHTS_BIN = 'weights.prev.bin';

export interface FileSystemOptions {
  /** File operations to use; default node:fs/promises. Tests pass one that fails on purpose. */
  fileOps?: FileOps;
}

/** An IOHandler for `model.save(fileSystem(dir))` and `tf.loadLayersModel(fileSystem(dir))`. */
export function fileSystem(dir: string, options: FileSystemOptions = {}): tf.io.IOHandler {
  const ops = options.fileOps ?? nodeFileOps;
  return {
    save: (artifacts) => saveModel(dir, artifacts, ops),
    load: () => loadModel(dir, ops),
  };
}

async function saveModel(dir: string, artifacts: tf.io.ModelArtifacts, ops: FileOps): Promise<tf.io.SaveResult> {
  const topology = artifacts.modelTopology;
  if (topology == null || topology instanceof ArrayBuffer) {
    throw new Error(`fileSystem(${dir}): can only save a JSON model topology (a layers model), received ${topology == null ? 'none' : 'a binary GraphDef'}.`);
  }
  const specs = artifacts.weightSpecs ?? [];
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
  const expected = weightBytes(specs, 'the weight specs');
  if (expected !== undefined && expected !== weights.byteLength) {
    throw new Error(`fileSystem(${dir}): the weight specs describe ${expected} bytes but weightData holds ${weights.byteLength}.`);
  }
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: topology,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }],
    trainingConfig: artifacts.trainingConfig,
    signature: artifacts.signature,
    userDefinedMetadata: artifacts.userDefinedMetadata,
    modelInitializer: artifacts.modelInitializer,
    initializerSignature: artifacts.initializerSignature,
  }; // JSON.stringify drops the fields that are undefined

  const modelPath = path.join(dir, MODEL_JSON);
  const weightsPath = path.join(dir, WEIGHTS_BIN);
  try {
    await ops.mkdir(dir, { recursive: true });
  } catch (error) {
    throw ioError(`fileSystem: could not create directory ${dir}`, error);
  }
  const weightsTemp = await writeTemp(weightsPath, weights, ops);
  const modelTemp = await writeTemp(modelPath, JSON.stringify(modelJSON), ops);
  await protectPreviousModel(dir, ops);
  await commit(weightsTemp, weightsPath, ops);
  await commit(modelTemp, modelPath, ops);
  await ops.rm(path.join(dir, PREVIOUS_WEIGHTS_BIN), { force: true }).catch(() => undefined);
  await removeTemporaries(dir, ops);
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

/** If dir/model.json is a model reading weights.bin, re-points it at a hard link weights.prev.bin. */
async function protectPreviousModel(dir: string, ops: FileOps): Promise<void> {
  const modelPath = path.join(dir, MODEL_JSON);
  let previous: tf.io.ModelJSON;
  try {
    previous = parseModelJSON(await ops.readFile(modelPath, 'utf8'), modelPath);
  } catch {
    return; // no model there, or not a loadable one: nothing to protect
  }
  if (!previous.weightsManifest.some((group) => group.paths.includes(WEIGHTS_BIN))) return;
  const from = path.join(dir, WEIGHTS_BIN);
  const to = path.join(dir, PREVIOUS_WEIGHTS_BIN);
  try {
    await ops.rm(to, { force: true });
    await ops.link(from, to).catch(() => ops.copyFile(from, to)); // copy where hard links are not supported
  } catch (error) {
    throw ioError(`fileSystem: could not keep the previous weights as ${to}`, error);
  }
  await fsyncDir(dir, ops);
  for (const group of previous.weightsManifest) {
    group.paths = group.paths.map((p) => (p === WEIGHTS_BIN ? PREVIOUS_WEIGHTS_BIN : p));
  }
  await writeFileAtomic(modelPath, JSON.stringify(previous), ops);
}

async function loadModel(dir: string, ops: FileOps): Promise<tf.io.ModelArtifacts> {
  const modelPath = path.join(dir, MODEL_JSON);
  const modelJSON = parseModelJSON(await readText(modelPath, ops, 'fileSystem', 'no model saved there'), modelPath);
  const specs = modelJSON.weightsManifest.flatMap((group) => group.weights);
  const files = modelJSON.weightsManifest.flatMap((group) => group.paths.map((p) => path.join(dir, p)));
  const buffers: Uint8Array[] = [];
  for (const file of files) {
    try {
      buffers.push(await ops.readFile(file));
    } catch (error) {
      throw ioError(`fileSystem: cannot read ${file}, listed in ${modelPath}`, error);
    }
  }
  const data = concat(buffers);
  const expected = weightBytes(specs, modelPath);
  if (expected !== undefined && expected !== data.byteLength) {
    throw new Error(`fileSystem: ${files.join(' + ')} holds ${data.byteLength} bytes, but the ${specs.length} weights listed in ${modelPath} need ${expected}.`);
  }
  return tf.io.getModelArtifactsForJSONSync(modelJSON, specs, data);
}

/** Parses and checks model.json, so that a damaged file fails here with its name rather than deep inside tfjs. */
export function parseModelJSON(text: string, file: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw ioError(`${file} is not valid JSON`, error);
  }
  const fail = (what: string): never => {
    throw new Error(`${file}: expected ${what}.`);
  };
  if (!isObject(json)) return fail('a JSON object with "modelTopology" and "weightsManifest"');
  const topology = json.modelTopology;
  if (!isObject(topology)) return fail('"modelTopology" to be an object (the model\'s layers and connections)');
  if ((json.format ?? 'layers-model') === 'layers-model') {
    const config = isObject(topology.model_config) ? topology.model_config : topology;
    if (typeof config.class_name !== 'string') fail('"modelTopology" to have a "class_name" (e.g. "Sequential" or "Model")');
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) return fail('"weightsManifest" to be an array of {paths, weights} groups');
  manifest.forEach((group: unknown, g) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) fail(`weightsManifest[${g}] to have "paths" and "weights" arrays`);
    const { paths, weights } = group as { paths: unknown[]; weights: unknown[] };
    paths.forEach((p, i) => {
      if (typeof p !== 'string' || p === '' || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
        fail(`weightsManifest[${g}].paths[${i}] to be a file name inside the model's directory`);
      }
    });
    weights.forEach((w, i) => {
      const ok = isObject(w) && typeof w.name === 'string' && typeof w.dtype === 'string' &&
        Array.isArray(w.shape) && w.shape.every((d) => Number.isInteger(d) && d >= 0);
      if (!ok) fail(`weightsManifest[${g}].weights[${i}] to have a string "name", a string "dtype" and a "shape" of non-negative integers`);
    });
  });
  return json as unknown as tf.io.ModelJSON;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Bytes the weights take in a weights file, or undefined when that depends on their values (strings). */
export function weightBytes(specs: tf.io.WeightsManifestEntry[], file: string): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    if (dtype === 'string') return undefined;
    const size = BYTES_PER_ELEMENT[dtype];
    if (size === undefined) throw new Error(`${file}: weight "${spec.name}" has unsupported dtype '${dtype}'.`);
    total += size * spec.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Concatenates into a fresh ArrayBuffer (a Buffer from readFile may be a view into a shared pool). */
function concat(parts: Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(new ArrayBuffer(parts.reduce((n, p) => n + p.byteLength, 0)));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out.buffer;
}
