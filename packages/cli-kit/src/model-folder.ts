/**
 * Where a saved model is, from what the user typed after --model: a model folder (model.json,
 * weights.bin, labels.json), that folder's model.json, or the run folder that a training app's --out
 * wrote (<run>/model). File system only: loading is the app's (tfjs) business.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors';

export interface ModelFolder {
  /** The folder holding model.json. */
  modelDir: string;
  /** The run folder the model belongs to (the folder given, or the model folder's parent with a run.json), else null. */
  runDir: string | null;
}

/** Which app's models a folder holds: the files its model folder has and the app that trains them. */
export interface ModelFolderKind {
  files: string;
  app: string;
}

export const CLASSIFIER_FOLDER: ModelFolderKind = { files: 'model.json, weights.bin, labels.json', app: 'mobilenet-classify' };

function kind(p: string): 'dir' | 'file' | 'missing' {
  try {
    return fs.statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Resolves `given` (the value of `option`) to a model folder; a UsageError names the option when there is none. */
export function resolveModelFolder(given: string, option = '--model', folderKind: ModelFolderKind = CLASSIFIER_FOLDER): ModelFolder {
  const EXPECTED = `Expected a model folder (${folderKind.files}) or the run folder that '${folderKind.app} train --out' wrote`;
  const what = kind(given);
  if (what === 'missing') throw new UsageError(`${option} ${given}: no such file or folder. ${EXPECTED}.`);
  if (what === 'file') {
    if (path.basename(given) === 'model.json') return resolveModelFolder(path.dirname(given) || '.', option, folderKind);
    throw new UsageError(`${option} ${given}: this is a file, not a folder. ${EXPECTED}.`);
  }
  if (kind(path.join(given, 'model.json')) === 'file') {
    const parent = path.dirname(path.resolve(given));
    return { modelDir: given, runDir: kind(path.join(parent, 'run.json')) === 'file' ? parent : null };
  }
  if (kind(path.join(given, 'model', 'model.json')) === 'file') return { modelDir: path.join(given, 'model'), runDir: given };
  if (kind(path.join(given, 'checkpoints')) === 'dir' || kind(path.join(given, 'run.json')) === 'file') {
    throw new UsageError(
      `${option} ${given}: this run folder has no model yet (no model/model.json: training writes it when it ends). ` +
        `Finish the run with '${folderKind.app} train --resume ${given}', or give another model.`,
    );
  }
  throw new UsageError(`${option} ${given}: no model.json in this folder or in ${path.join(given, 'model')}. ${EXPECTED}.`);
}

/**
 * Why a model folder did not load, in words for the user: the file system handler's own messages
 * already name the file; tfjs's deserialization errors are rephrased.
 */
export function describeModelLoadError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknownLayer = /Unknown layer: ([\w-]+)/.exec(message);
  if (unknownLayer) return `model.json uses a layer type this project does not know ('${unknownLayer[1]}'): the model was not saved by MobileNets.ts, or model.json was edited or damaged`;
  if (message.trim() === '') return 'model.json does not describe a model that can be built (its layers or connections are missing or damaged)';
  const text = message.replace(/^fileSystem(\([^)]*\))?: /, '').replace(/\.$/, '');
  const missing = /^cannot read (.+), listed in (.+?): ENOENT\b/.exec(text);
  if (missing) return `${missing[1]} is missing (${missing[2]} lists it)`;
  return text;
}
