/** Classification metrics: top-1/top-5 accuracy, cross-entropy, per-class accuracy and the confusion matrix. */
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationData, checkBatch } from './data';
import { type Predict, type ValidateOptions, predictOutputs, validationBatches } from './task';

export interface ClassAccuracy {
  /** Top-1 accuracy on this class's images (NaN when there are none). */
  accuracy: number;
  /** Images of this class. */
  count: number;
}

export interface EvaluationResult {
  /** Fraction of images whose most probable class is their label. */
  top1: number;
  /** Fraction whose label is among the 5 most probable classes (all classes when there are fewer than 5). */
  top5: number;
  /** Mean cross-entropy (probabilities clipped to [1e-7, 1 − 1e-7]); no weight decay. */
  loss: number;
  /** Images evaluated. */
  count: number;
  perClass: ClassAccuracy[];
  /** confusion[label][predicted]: image counts. */
  confusion: number[][];
}

export interface EvaluateOptions {
  /** Default 32. */
  batchSize?: number;
  /** Runs the model's forward pass elsewhere (the training engine's, see Predict); default model.predict on tfjs. */
  predict?: Predict;
  /** Stop between batches once it aborts (the result then covers the images done: NaN rates if none). */
  signal?: AbortSignal;
  onProgress?: ValidateOptions['onProgress'];
}

/** Indices of the k largest values of row `r` of `values` (rows of `width`), largest first; ties keep the lower index first. */
function topIndices(values: Float32Array, r: number, width: number, k: number): number[] {
  const best: number[] = [];
  for (let c = 0; c < width; c++) {
    const v = values[r * width + c];
    let at = best.length;
    while (at > 0 && v > values[r * width + best[at - 1]]) at -= 1;
    if (at < k) {
      best.splice(at, 0, c);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/** Runs `model` (inference mode) over every batch of `data` once, in order, and measures it. */
export async function evaluate(model: tfl.LayersModel, data: ClassificationData, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { batchSize = 32, predict } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`evaluate: batchSize must be an integer ≥ 1. Received ${batchSize}.`);
  const classes = data.classes;
  const outputs = (model.outputs[0].shape as number[])[1];
  if (outputs !== classes) {
    throw new RangeError(`evaluate: the model '${model.name}' has ${outputs} outputs but the data has ${classes} classes; they must match.`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const k = Math.min(5, classes);
  let top1 = 0;
  let top5 = 0;
  let lossSum = 0;
  let count = 0;
  for await (const batch of validationBatches(data, { ...options, batchSize })) {
    checkBatch(batch, classes, 'evaluate');
    const [probabilities] = await predictOutputs(model, batch.images, batch.shape, predict);
    if (probabilities.length !== batch.labels.length * classes) {
      throw new RangeError(`evaluate: the model's forward pass gave ${probabilities.length} values for ${batch.labels.length} images × ${classes} classes.`);
    }
    batch.labels.forEach((label, i) => {
      const ranked = topIndices(probabilities, i, classes, k);
      confusion[label][ranked[0]] += 1;
      if (ranked[0] === label) top1 += 1;
      if (ranked.includes(label)) top5 += 1;
      lossSum -= Math.log(Math.min(Math.max(probabilities[i * classes + label], 1e-7), 1 - 1e-7));
    });
    count += batch.labels.length;
  }
  if (count === 0 && options.signal?.aborted !== true) throw new RangeError('evaluate: the data yielded no images; expected at least one batch.');
  const perClass = confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return { accuracy: n === 0 ? NaN : row[c] / n, count: n };
  });
  return { top1: top1 / count, top5: top5 / count, loss: lossSum / count, count, perClass, confusion };
}
