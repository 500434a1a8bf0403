/** Building, saving and loading classifiers (model.json + weights.bin + labels.json), and --init / --freeze-backbone. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { HEAD_LAYER_NAMES } from '@mobilenets/backbone';
import { type InitReport, fileSystem, initFromModel as runtimeInitFromModel } from '@mobilenets/runtime';
import { ArchitectureOptions, UsageError, buildMobileNet, describeModelLoadError, resolveModelFolder } from '@mobilenets/cli-kit';

export const LABELS_JSON = 'labels.json';

/** A MobileNet classifier of `classes` outputs, as the architecture flags describe it; `seed` fixes its initial weights. */
export function buildClassifier(o: Partial<ArchitectureOptions> & Pick<ArchitectureOptions, 'arch' | 'alpha' | 'inputSize'>, classes: number, seed: number | null = null): tfl.LayersModel {
  return buildMobileNet({ variant: 'standard', activation: 'relu6', ...o }, { classes, seed });
}

/** Writes `dir/model.json`, `dir/weights.bin` and `dir/labels.json` (a JSON array of class names, label = index). */
export async function saveClassifier(dir: string, model: tfl.LayersModel, labels: readonly string[]): Promise<void> {
  await model.save(fileSystem(dir));
  fs.writeFileSync(path.join(dir, LABELS_JSON), `${JSON.stringify(labels, null, 1)}\n`);
}

export interface Classifier {
  model: tfl.LayersModel;
  labels: string[];
  inputSize: number;
  /** The folder the model was loaded from (`<run>/model` when a run folder was given). */
  modelDir: string;
  /** The run folder the model belongs to, if any (see resolveModelFolder). */
  runDir: string | null;
}

/**
 * Loads a model saved by `mobilenet-classify train`: `given` is its model folder (<out>/model), that
 * folder's model.json, or the run folder (<out>). Errors name `option` and the file at fault and say
 * what to do: a UsageError when there is no model there, an Error when the files are damaged.
 */
export async function loadClassifier(given: string, option = '--model'): Promise<Classifier> {
  const { modelDir, runDir } = resolveModelFolder(given, option);
  const modelJson = path.join(modelDir, 'model.json');
  const labelsFile = path.join(modelDir, LABELS_JSON);
  const damaged = (problem: string) => new Error(`${option} ${given}: ${problem}. Train or save the model again, or restore the folder from a copy.`);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(modelDir));
  } catch (error) {
    throw damaged(`cannot load the model in ${modelDir}: ${describeModelLoadError(error)}`);
  }
  try {
    const output = model.outputs[0].shape;
    const outputs = output.length === 2 ? output[1] : null;
    const inputShape = model.inputs[0].shape;
    const inputSize = inputShape[1];
    if (outputs === null || model.outputs.length !== 1) {
      throw damaged(`${modelJson} is not a classifier: expected one output of class probabilities [batch, classes]; the model's output is [${output}]`);
    }
    if (inputShape.length !== 4 || inputSize === null || inputShape[2] !== inputSize || inputShape[3] !== 3) {
      throw damaged(`${modelJson}: expected a square RGB input [batch, size, size, 3]; the model's input is [${inputShape}]`);
    }
    let text: string;
    try {
      text = fs.readFileSync(labelsFile, 'utf8');
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        `${option} ${given}: ${missing ? `${labelsFile} is missing` : `cannot read ${labelsFile} (${(error as Error).message})`}. ` +
          `It lists the class names, one per model output (${outputs}), and is saved with the model; restore it, or write a JSON array of ${outputs} names.`,
      );
    }
    let labels: unknown;
    try {
      labels = JSON.parse(text);
    } catch (error) {
      throw new Error(`${option} ${given}: ${labelsFile} is not valid JSON (${(error as Error).message}). Expected a JSON array of ${outputs} class names, one per model output.`);
    }
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
      throw new Error(`${option} ${given}: ${labelsFile} must be a JSON array of class names (strings). Received ${text.trim().slice(0, 80)}.`);
    }
    if (labels.length !== outputs) {
      throw new Error(
        `${option} ${given}: ${labelsFile} lists ${labels.length} class name(s) but the model has ${outputs} outputs. ` +
          `It belongs to another model or was edited: restore the labels.json saved with this model (a JSON array of ${outputs} names, one per output).`,
      );
    }
    return { model, labels: labels as string[], inputSize, modelDir, runDir };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

export type { InitReport } from '@mobilenets/runtime';

/** `--init`: runtime's initFromModel, its errors as usage errors (the user named a wrong source). */
export async function initFromModel(model: tfl.LayersModel, dir: string): Promise<InitReport> {
  try {
    return await runtimeInitFromModel(model, dir);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

/** Makes every layer but the classifier ('Logits') non-trainable; returns how many layers stay trainable. */
export function freezeBackbone(model: tfl.LayersModel): number {
  let trainable = 0;
  for (const layer of model.layers) {
    layer.trainable = layer.name === HEAD_LAYER_NAMES.logits;
    if (layer.trainable) trainable += 1;
  }
  if (trainable === 0) throw new Error(`--freeze-backbone: the model has no '${HEAD_LAYER_NAMES.logits}' layer to train.`);
  return trainable;
}
