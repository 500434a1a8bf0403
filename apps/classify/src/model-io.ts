/** Building, saving and loading classifiers (model.json + weights.bin + labels.json), and --init / --freeze-backbone. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { HEAD_LAYER_NAMES, loadSlimMobileNetV1Weights } from '@mobilenets/backbone';
import { fileSystem, readFaceApiWeights } from '@mobilenets/runtime';
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

export interface InitReport {
  /** Layers with weights in the new model. */
  layers: number;
  /** Layers whose weights were copied. */
  copied: number;
  /** Layers left as initialised, with the reason. */
  skipped: { layer: string; reason: string }[];
}

/**
 * Copies weights into `model` from the saved model in `dir`, layer by layer by name, where every weight
 * of the layer has the same shape in both (the classifier head of a model with other classes is skipped).
 */
/** `--init face-api`: the MobileNetV1 body of face-api's SSD face detector (trained; α = 1, any input size). */
export const FACE_API_INIT = 'face-api';

async function initFromFaceApi(model: tfl.LayersModel): Promise<InitReport> {
  const weights = await readFaceApiWeights('ssd_mobilenetv1_model');
  try {
    const loaded = loadSlimMobileNetV1Weights(model, weights);
    const withWeights = model.layers.filter((l) => l.getWeights().length > 0).map((l) => l.name);
    const copied = new Set(loaded.loaded.flatMap((e) => [e, `${e}_BatchNorm`]));
    return {
      layers: withWeights.length,
      copied: withWeights.filter((n) => copied.has(n)).length,
      skipped: withWeights.filter((n) => !copied.has(n)).map((layer) => ({ layer, reason: 'not in the face detector (the classifier is new)' })),
    };
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`--init face-api: ${error.message}. The face detector's body is MobileNetV1 with α = 1: use --arch v1 --alpha 1.`);
    throw error;
  } finally {
    tf.dispose(Object.values(weights));
  }
}

export async function initFromModel(model: tfl.LayersModel, dir: string): Promise<InitReport> {
  if (dir === FACE_API_INIT) return initFromFaceApi(model);
  if (!fs.existsSync(dir)) throw new UsageError(`--init ${dir}: no such directory. Expected a model directory written by 'mobilenet-classify train' (<out>/model), or 'face-api'.`);
  if (!fs.existsSync(path.join(dir, 'model.json'))) {
    throw new UsageError(`--init ${dir}: unsupported init source (no model.json). Expected a directory with model.json and weights.bin written by 'mobilenet-classify train' or 'model.save(fileSystem(dir))', or 'face-api' for the pretrained MobileNetV1 body in @vladmandic/face-api.`);
  }
  const source = await tfl.loadLayersModel(fileSystem(dir));
  try {
    const byName = new Map(source.layers.map((l) => [l.name, l]));
    const report: InitReport = { layers: 0, copied: 0, skipped: [] };
    for (const layer of model.layers) {
      const target = layer.getWeights();
      if (target.length === 0) continue;
      report.layers += 1;
      const from = byName.get(layer.name);
      if (from === undefined) {
        report.skipped.push({ layer: layer.name, reason: 'not in the source model' });
        continue;
      }
      const weights = from.getWeights();
      const same = weights.length === target.length && weights.every((w, i) => w.shape.join() === target[i].shape.join());
      if (!same) {
        report.skipped.push({ layer: layer.name, reason: `shapes differ: [${target.map((t) => `[${t.shape}]`)}] here, [${weights.map((w) => `[${w.shape}]`)}] in the source` });
        continue;
      }
      layer.setWeights(weights);
      report.copied += 1;
    }
    return report;
  } finally {
    source.dispose();
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
