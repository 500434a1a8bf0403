/**
 * Starting a model from the weights of another: layer by layer by name from a saved model folder
 * (model.json + weights.bin), or the trained MobileNetV1 body of face-api's SSD face detector. Apps
 * use it for `--init`; a layer is copied only when every one of its weights has the same shape in both
 * (a classifier head or a detector's predictors for other classes stay as initialised).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadSlimMobileNetV1Weights } from '@mobilenets/backbone';
import { fileSystem } from './file-system';
import { readFaceApiWeights } from '../pretrained/face-api';

export interface InitReport {
  /** Layers with weights in the new model. */
  layers: number;
  /** Layers whose weights were copied. */
  copied: number;
  /** Layers left as initialised, with the reason. */
  skipped: { layer: string; reason: string }[];
}

/** The init source naming the MobileNetV1 body of face-api's SSD face detector (trained; α = 1, any input size). */
export const FACE_API_INIT = 'face-api';

async function initFromFaceApi(model: tfl.LayersModel, option: string): Promise<InitReport> {
  const weights = await readFaceApiWeights('ssd_mobilenetv1_model');
  try {
    const loaded = loadSlimMobileNetV1Weights(model, weights);
    const withWeights = model.layers.filter((l) => l.getWeights().length > 0).map((l) => l.name);
    const copied = new Set(loaded.loaded.flatMap((e) => [e, `${e}_BatchNorm`]));
    return {
      layers: withWeights.length,
      copied: withWeights.filter((n) => copied.has(n)).length,
      skipped: withWeights.filter((n) => !copied.has(n)).map((layer) => ({ layer, reason: 'not in the face detector\'s body (a new layer)' })),
    };
  } catch (error) {
    if (error instanceof RangeError) throw new RangeError(`${option} face-api: ${error.message}. The face detector's body is MobileNetV1 with α = 1: use --arch v1 --alpha 1.`);
    throw error;
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/**
 * Copies weights into `model` from `source`: a folder holding model.json and weights.bin (as the apps'
 * `train` commands and `model.save(fileSystem(dir))` write them), or {@link FACE_API_INIT}. A missing or
 * unsupported source is a RangeError whose message starts with `option` and names the folder.
 */
export async function initFromModel(model: tfl.LayersModel, source: string, option = '--init'): Promise<InitReport> {
  if (source === FACE_API_INIT) return initFromFaceApi(model, option);
  if (!fs.existsSync(source)) throw new RangeError(`${option} ${source}: no such directory. Expected a model directory written by a 'train' command (<out>/model), or 'face-api'.`);
  if (!fs.existsSync(path.join(source, 'model.json'))) {
    throw new RangeError(`${option} ${source}: unsupported init source (no model.json). Expected a directory with model.json and weights.bin written by a 'train' command or 'model.save(fileSystem(dir))', or 'face-api' for the pretrained MobileNetV1 body in @vladmandic/face-api.`);
  }
  const from = await tfl.loadLayersModel(fileSystem(source));
  try {
    const byName = new Map(from.layers.map((l) => [l.name, l]));
    const report: InitReport = { layers: 0, copied: 0, skipped: [] };
    for (const layer of model.layers) {
      const target = layer.getWeights();
      if (target.length === 0) continue;
      report.layers += 1;
      const other = byName.get(layer.name);
      if (other === undefined) {
        report.skipped.push({ layer: layer.name, reason: 'not in the source model' });
        continue;
      }
      const weights = other.getWeights();
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
    from.dispose();
  }
}
