/**
 * Training checkpoints: a model's weights, its optimizer's state and the caller's own JSON state
 * (step, epoch, RNG seed…), enough to resume training exactly.
 *
 * Layout, with a manifest written last:
 *
 *     dir/checkpoint.json        which generation is current, the optimizer's class, config and
 *                                weight specs, and the caller's state
 *     dir/ckpt-<n>/model.json    the model, as written by fileSystem()
 *     dir/ckpt-<n>/weights.bin
 *     dir/ckpt-<n>/optimizer.bin the optimizer's weights (iteration count first)
 *
 * A save writes a new generation directory ckpt-<n+1> beside the current one, fsyncs it, and then
 * atomically replaces checkpoint.json to point at it; only after that are older generations deleted.
 * Until the rename, checkpoint.json names the previous generation, which is untouched; a crash at any
 * point leaves the previous checkpoint or the new one, and the next save removes any leftover
 * generation directories.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as path from 'node:path';
import { type FileOps, fsyncDir, ioError, nodeFileOps, readText, removeTemporaries, writeFileAtomic } from './atomic';
import { MODEL_JSON, fileSystem, weightBytes } from './file-system';

export const CHECKPOINT_JSON = 'checkpoint.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const FORMAT = 'mobilenets-checkpoint';
const GENERATION = /^ckpt-(\d+)$/;

export interface Checkpoint<S = unknown> {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  /** The caller's JSON-serialisable state: step, epoch, RNG seed… */
  state: S;
}

export interface CheckpointOptions {
  /** File operations to use; default node:fs/promises. Tests pass one that fails on purpose. */
  fileOps?: FileOps;
}

/** The contents of checkpoint.json. */
interface CheckpointManifest {
  format: typeof FORMAT;
  version: 1;
  /** The generation directory holding model.json, weights.bin and optimizer.bin. */
  directory: string;
  optimizer: { className: string; config: tf.serialization.ConfigDict; weightSpecs: tf.io.WeightsManifestEntry[] };
  state: unknown;
}

/** Saves a checkpoint into `dir`, replacing the one there (which stays loadable until the new one is complete). */
export async function saveCheckpoint<S>(dir: string, checkpoint: Checkpoint<S>, options: CheckpointOptions = {}): Promise<void> {
  const ops = options.fileOps ?? nodeFileOps;
  const { model, optimizer, state } = checkpoint;
  const stateJSON = JSON.stringify(state);
  if (stateJSON === undefined) throw new Error(`saveCheckpoint(${dir}): state must be JSON-serialisable, received ${typeof state}.`);

  let existing: string[];
  try {
    await ops.mkdir(dir, { recursive: true });
    existing = (await ops.readdir(dir)).filter((name) => GENERATION.test(name));
  } catch (error) {
    throw ioError(`saveCheckpoint: could not prepare directory ${dir}`, error);
  }
  const next = Math.max(0, ...existing.map((name) => Number(GENERATION.exec(name)![1]))) + 1;
  const directory = `ckpt-${next}`;
  const generationDir = path.join(dir, directory);
  try {
    await ops.mkdir(generationDir);
  } catch (error) {
    throw ioError(`saveCheckpoint: could not create ${generationDir}`, error);
  }

  await model.save(fileSystem(generationDir, { fileOps: ops }));
  const named = await optimizer.getWeights();
  let weightSpecs: tf.io.WeightsManifestEntry[];
  try {
    const encoded = await tf.io.encodeWeights(named);
    weightSpecs = encoded.specs;
    await writeFileAtomic(path.join(generationDir, OPTIMIZER_BIN), new Uint8Array(encoded.data), ops);
  } finally {
    tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable))); // the iteration count is a fresh tensor
  }
  await fsyncDir(dir, ops); // the new generation's directory entry

  const manifest: CheckpointManifest = {
    format: FORMAT,
    version: 1,
    directory,
    optimizer: { className: optimizer.getClassName(), config: optimizer.getConfig(), weightSpecs },
    state: JSON.parse(stateJSON),
  };
  await writeFileAtomic(path.join(dir, CHECKPOINT_JSON), JSON.stringify(manifest, null, 1), ops);
  for (const name of existing) await ops.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  await removeTemporaries(dir, ops);
}

/**
 * Loads the checkpoint in `dir`. With `model`, its weights are overwritten (matched by name, or by
 * position when the names differ, as in a freshly built copy of the architecture); without, the model
 * is rebuilt from model.json. The optimizer is rebuilt from its saved class and config with its state
 * restored: compile the model with it (`model.compile({optimizer, loss})`) to continue training.
 */
export async function loadCheckpoint<S = unknown>(dir: string, model?: tfl.LayersModel, options: CheckpointOptions = {}): Promise<Checkpoint<S>> {
  const ops = options.fileOps ?? nodeFileOps;
  const manifestPath = path.join(dir, CHECKPOINT_JSON);
  const manifest = parseManifest(await readText(manifestPath, ops, 'loadCheckpoint', 'no checkpoint saved there'), manifestPath);
  const generationDir = path.join(dir, manifest.directory);

  // The optimizer first: it fails cheaply on an unknown class, before any tensors exist.
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[manifest.optimizer.className];
  if (registered === undefined) throw new Error(`${manifestPath}: optimizer class '${manifest.optimizer.className}' is not registered with tfjs.`);
  const optimizerPath = path.join(generationDir, OPTIMIZER_BIN);
  let optimizerData: Uint8Array;
  try {
    optimizerData = await ops.readFile(optimizerPath);
  } catch (error) {
    throw ioError(`loadCheckpoint: cannot read ${optimizerPath}`, error);
  }
  const specs = manifest.optimizer.weightSpecs;
  const expected = weightBytes(specs, manifestPath);
  if (expected !== undefined && expected !== optimizerData.byteLength) {
    throw new Error(`loadCheckpoint: ${optimizerPath} holds ${optimizerData.byteLength} bytes, but the ${specs.length} optimizer weights listed in ${manifestPath} need ${expected}.`);
  }

  const artifacts = await fileSystem(generationDir, { fileOps: ops }).load!();
  const modelPath = path.join(generationDir, MODEL_JSON);
  if (model === undefined) {
    try {
      model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    } catch (error) {
      throw ioError(`loadCheckpoint: tfjs could not build the model in ${modelPath}`, error);
    }
  } else {
    setModelWeights(model, artifacts, modelPath);
  }

  const optimizer = registered[1](registered[0], manifest.optimizer.config) as tf.Optimizer;
  const decoded = tf.io.decodeWeights(copy(optimizerData), specs);
  try {
    await optimizer.setWeights(specs.map((spec) => ({ name: spec.name, tensor: decoded[spec.name] })));
  } finally {
    tf.dispose(Object.values(decoded)); // setWeights keeps its own references
  }
  return { model, optimizer, state: manifest.state as S };
}

/** The caller's state saved with the checkpoint in `dir`, without loading the model or the optimizer. */
export async function readCheckpointState<S = unknown>(dir: string, options: CheckpointOptions = {}): Promise<S> {
  const ops = options.fileOps ?? nodeFileOps;
  const manifestPath = path.join(dir, CHECKPOINT_JSON);
  return parseManifest(await readText(manifestPath, ops, 'readCheckpointState', 'no checkpoint saved there'), manifestPath).state as S;
}

function setModelWeights(model: tfl.LayersModel, artifacts: tf.io.ModelArtifacts, file: string): void {
  const specs = artifacts.weightSpecs ?? [];
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const targets = model.weights;
  const sameNames = targets.every((w) => byName.has(w.originalName));
  if (!sameNames && targets.length !== specs.length) {
    throw new Error(`loadCheckpoint: the model has ${targets.length} weights but ${file} holds ${specs.length}.`);
  }
  const chosen = targets.map((w, i) => (sameNames ? byName.get(w.originalName)! : specs[i]));
  targets.forEach((w, i) => {
    if (!tf.util.arraysEqual(w.shape as number[], chosen[i].shape)) {
      throw new Error(`loadCheckpoint: weight ${w.originalName} of the model has shape [${w.shape}], but ${file} holds "${chosen[i].name}" with shape [${chosen[i].shape}].`);
    }
  });
  const decoded = tf.io.decodeWeights(artifacts.weightData!, specs);
  try {
    model.setWeights(chosen.map((spec) => decoded[spec.name]));
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

function parseManifest(text: string, file: string): CheckpointManifest {
  let json: Partial<CheckpointManifest>;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw ioError(`${file} is not valid JSON`, error);
  }
  const fail = (what: string): never => {
    throw new Error(`${file}: expected ${what}.`);
  };
  if (typeof json !== 'object' || json === null) fail(`a JSON object with format '${FORMAT}'`);
  if (json.format !== FORMAT || json.version !== 1) fail(`format '${FORMAT}' version 1, found ${JSON.stringify(json.format)} version ${JSON.stringify(json.version)}`);
  if (typeof json.directory !== 'string' || !GENERATION.test(json.directory)) fail('"directory" to name a ckpt-<n> directory');
  const o = json.optimizer;
  if (typeof o !== 'object' || o === null || typeof o.className !== 'string' || typeof o.config !== 'object' || !Array.isArray(o.weightSpecs)) {
    fail('"optimizer" with "className", "config" and "weightSpecs"');
  }
  if (!('state' in json)) fail('a "state" field');
  return json as CheckpointManifest;
}

/** A Buffer from readFile may share a pooled ArrayBuffer; tfjs needs one of its own. */
function copy(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
