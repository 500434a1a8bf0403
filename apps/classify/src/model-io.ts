/** Building, saving and loading classifiers (model.json + weights.bin + labels.json), and --init / --freeze-backbone. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { HEAD_LAYER_NAMES, loadSlimMobileNetV1Weights, mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { fileSystem, readFaceApiWeights } from '@mobilenets/runtime';
import { UsageError } from '@mobilenets/cli-kit';

export const LABELS_JSON = 'labels.json';

export interface ArchOptions {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  dropout?: number;
  bnMomentum?: number;
  /** Seed of the initial weights (the run's --seed); omitted: unseeded. */
  seed?: number;
}

export function buildClassifier(o: ArchOptions, classes: number): tfl.LayersModel {
  const common = { widthMultiplier: o.alpha, inputSize: o.inputSize, classes, batchNormMomentum: o.bnMomentum, seed: o.seed, ...(o.dropout === undefined ? {} : { dropout: o.dropout }) };
  try {
    return o.arch === 'v2' ? mobilenetV2(common) : mobilenetV1(common);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message); // --alpha / --input-size out of range
    throw error;
  }
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
}

/** Loads a model saved by `mobilenet-classify train` (its <out>/model directory). */
export async function loadClassifier(dir: string, option = '--model'): Promise<Classifier> {
  const modelJson = path.join(dir, 'model.json');
  if (!fs.existsSync(modelJson)) {
    throw new UsageError(`${option} ${dir}: no model.json there. Expected the directory written by 'mobilenet-classify train' (<out>/model).`);
  }
  const model = await tfl.loadLayersModel(fileSystem(dir));
  const labelsFile = path.join(dir, LABELS_JSON);
  let labels: unknown;
  try {
    labels = JSON.parse(fs.readFileSync(labelsFile, 'utf8'));
  } catch (error) {
    model.dispose();
    throw new Error(`${option} ${dir}: cannot read ${labelsFile} (a JSON array of class names, written with the model)`, { cause: error });
  }
  const outputs = (model.outputs[0].shape as number[])[1];
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string') || labels.length !== outputs) {
    model.dispose();
    throw new Error(`${labelsFile}: expected a JSON array of ${outputs} class names (one per model output).`);
  }
  const inputShape = model.inputs[0].shape as (number | null)[];
  const inputSize = inputShape[1];
  if (inputSize === null || inputShape[2] !== inputSize) {
    model.dispose();
    throw new Error(`${modelJson}: expected a square input [batch, size, size, 3]; the model's input is [${inputShape}].`);
  }
  return { model, labels: labels as string[], inputSize };
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
