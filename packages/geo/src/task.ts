/**
 * PlaNet's training task for the training core's `fit`: geolocation trained as classification over the
 * cells of an {@link S2Partition}, measured in kilometres.
 *
 * Training is the classification task's, unchanged (a batch is images with their cell index as the
 * label; softmax cross-entropy, optional label smoothing; training metric accuracy), and so is its
 * worker module: data-parallel workers and the ONNX training engine (which compiles the classification
 * loss) train a geolocation model as they train a classifier. Validation runs the model in inference
 * mode, turns each image's cell probabilities into a place ({@link locate}) and scores the great-circle
 * errors against the images' true locations: the shares within 1, 25, 200, 750 and 2500 km (street,
 * city, region, country, continent), the median error, the cell accuracy and the cross-entropy — and the
 * same scores for the "most populous cell" baseline on the same images. The best checkpoint has the
 * lowest median error: it is the one summary of every image's error (the shares each look at one
 * radius, and cell accuracy rewards a cell hit but not a near miss, and depends on the cells' size).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationBatch, Predict, Task, TrainingData, ValidateOptions, ValidationResult, classificationTask, predictOutputs } from '@mobilenets/training';
import { CellLocationMode, checkMode, checkPoint, describe } from './checks';
import { GEO_SCALES, GeoScores, LatLonDegrees, geoScores, haversineKm } from './distance';
import { locate, mostPopulousCell } from './locate';
import { S2Hierarchy } from './hierarchy';
import { S2Partition } from './partition';

export interface GeoTaskOptions {
  /** The cells the model classifies into (its output has one probability per cell). */
  partition: S2Partition;
  /** The true location of every validation image, by the path its batch gives. */
  truth: ReadonlyMap<string, LatLonDegrees>;
  /** Which location a predicted cell stands for: 'mean' of its photos (default) or S2 'center'. */
  mode?: CellLocationMode;
  /** The prediction averages the locations of the k most probable cells (see {@link locate}). Default 1. */
  topK?: number;
  /** Label smoothing ε of the training loss. Default 0. */
  labelSmoothing?: number;
}

export interface GeoEvaluateOptions extends Omit<GeoTaskOptions, 'labelSmoothing' | 'partition'> {
  /** The cells of a one-output model. Give this or `hierarchy`. */
  partition?: S2Partition;
  /**
   * For a model with one softmax output per partition of the hierarchy (coarse → fine): each image's
   * fine-cell scores are the product of its heads' probabilities ({@link S2Hierarchy.combine}),
   * normalised to sum 1, and the image is located on the finest partition. Labels are fine cells.
   */
  hierarchy?: S2Hierarchy;
  /** Images per forward pass. Default 32. */
  batchSize?: number;
  /** Runs the model's forward pass elsewhere (the training engine's, see Predict); default model.predict on tfjs. */
  predict?: Predict;
  /** Called after each batch with the images measured so far and the data's size. */
  onProgress?: (done: number, total: number) => void;
}

/** One validation image. */
export interface GeoImagePrediction {
  path: string;
  truth: LatLonDegrees;
  predicted: LatLonDegrees;
  /** The most probable cell. */
  cell: number;
  /** The image's label: the cell holding its true location, -1 when that place is in no cell of the partition. */
  trueCell: number;
  /** Great-circle distance from the true location to the predicted one (R = 6371 km). */
  errorKm: number;
  /** The most probable cell's probability. */
  confidence: number;
}

export interface GeoValidation {
  predictions: GeoImagePrediction[];
  scores: GeoScores;
  /** The scores of predicting the most populous cell for every image. */
  baseline: GeoScores;
}

/** The validation metric's name for a radius: `within25km`. */
const withinName = (km: number) => `within${km}km`;

/** The probabilities a loss takes the log of are clipped to this, as the classification task's are. */
const EPSILON = 1e-7;

function checkOutputs(model: tfl.LayersModel, cells: number, where: string): void {
  const shape = model.outputs[0]?.shape;
  if (model.outputs.length !== 1 || shape.length !== 2 || shape[1] !== cells) {
    throw new RangeError(
      `${where}: the model '${model.name}' must have one output [batch, ${cells}] (a softmax over the partition's ${cells} cells); it has ${model.outputs.length} output(s), the first [${shape}].`,
    );
  }
}

/** Throws unless the model has one softmax output [batch, cells of p] per partition p of the hierarchy, coarse → fine. */
export function checkHierarchyOutputs(model: tfl.LayersModel, hierarchy: S2Hierarchy, where: string): void {
  const expected = hierarchy.partitions.map((p) => p.cells.length);
  const shapes = model.outputs.map((o) => o.shape);
  if (shapes.length !== expected.length || shapes.some((shape, p) => shape.length !== 2 || shape[1] !== expected[p])) {
    throw new RangeError(
      `${where}: the model '${model.name}' must have ${expected.length} outputs, one softmax per partition of the hierarchy (coarse → fine): ${expected.map((c) => `[batch, ${c}]`).join(', ')}; ` +
        `it has ${shapes.length}: ${shapes.map((s) => `[${s}]`).join(', ')}.`,
    );
  }
}

interface CheckedGeoOptions {
  partition: S2Partition;
  hierarchy: S2Hierarchy | null;
  truth: ReadonlyMap<string, LatLonDegrees>;
  mode: CellLocationMode;
  topK: number;
}

/** The options, checked; with a hierarchy, `partition` is its finest partition. */
export function checkGeoOptions(options: GeoEvaluateOptions, where: string): CheckedGeoOptions {
  const { hierarchy = null, truth, mode = 'mean', topK = 1 } = options ?? ({} as GeoEvaluateOptions);
  if (hierarchy !== null && !(hierarchy instanceof S2Hierarchy)) throw new TypeError(`${where}: options.hierarchy must be an S2Hierarchy (new S2Hierarchy(partitions) or fromJson). Received ${describe(hierarchy)}.`);
  if (hierarchy !== null && options.partition !== undefined) throw new TypeError(`${where}: give options.partition or options.hierarchy, not both (a hierarchy's cells are those of its finest partition).`);
  const partition = hierarchy?.fine ?? options?.partition;
  if (!(partition instanceof S2Partition)) throw new TypeError(`${where}: options.partition must be an S2Partition (S2Partition.build or fromJson). Received ${describe(partition)}.`);
  if (typeof truth?.get !== 'function') throw new TypeError(`${where}: options.truth must be a Map from image path to its true location { lat, lon }. Received ${describe(truth)}.`);
  checkMode(mode, where);
  if (!Number.isInteger(topK) || topK < 1 || topK > partition.cells.length) {
    throw new RangeError(`${where}: options.topK must be an integer in [1, ${partition.cells.length}] (the partition's cells). Received ${describe(topK)}.`);
  }
  return { partition, hierarchy, truth, mode, topK };
}

/** Checks a validation batch: as classification's, except that a label may be -1 (a place in no cell). */
function checkGeoBatch(batch: ClassificationBatch, cells: number, where: string): void {
  const { images, shape, labels, paths } = batch ?? ({} as ClassificationBatch);
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${where}: batch.shape must be [batch, height, width, channels] of positive integers. Received ${describe(shape)}.`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(images instanceof Float32Array) || images.length !== size) {
    throw new RangeError(`${where}: batch.images must be a Float32Array of ${size} values for shape [${shape}]. Received ${images?.constructor?.name ?? typeof images} of length ${images?.length}.`);
  }
  if (!Array.isArray(paths) || paths.length !== shape[0]) {
    throw new RangeError(`${where}: batch.paths must name each of the ${shape[0]} images (the keys of options.truth). Received ${describe(paths)}.`);
  }
  if (!(labels instanceof Int32Array) || labels.length !== shape[0]) {
    throw new RangeError(`${where}: batch.labels must be an Int32Array with one cell index per image (${shape[0]}). Received ${labels?.constructor?.name ?? typeof labels} of length ${labels?.length}.`);
  }
  labels.forEach((label, i) => {
    if (label < -1 || label >= cells) throw new RangeError(`${where}: batch.labels[${i}] (${paths[i]}) is ${label}; expected a cell index in [0, ${cells}), or -1 for a place in no cell.`);
  });
}

/**
 * The model's fine-cell scores for a batch, row-major [images × fine cells], and its fine head's own
 * probabilities (the loss is measured on them). One output: both are its softmax. A hierarchy's heads:
 * the scores are the product of the heads' probabilities of each fine cell's ancestors (GeoEstimation),
 * normalised to sum 1 per image (all-zero rows stay zero).
 */
async function predictCells(model: tfl.LayersModel, hierarchy: S2Hierarchy | null, batch: ClassificationBatch, predict?: Predict): Promise<{ scores: Float32Array; fine: Float32Array }> {
  const outputs = await predictOutputs(model, batch.images, batch.shape, predict);
  if (hierarchy === null) return { scores: outputs[0], fine: outputs[0] };
  return { scores: hierarchyScores(hierarchy, outputs, batch.shape[0]), fine: outputs[outputs.length - 1] };
}

/**
 * GeoEstimation's prediction from the heads' probabilities (`probabilities[p]`: partition p's softmax,
 * row-major [images × cells of p]): each fine cell's product of its ancestors' probabilities
 * ({@link S2Hierarchy.combine}), normalised to sum 1 per image (a row of zeros stays zero).
 */
export function hierarchyScores(hierarchy: S2Hierarchy, probabilities: readonly Float32Array[], images: number): Float32Array {
  const scores = hierarchy.combine(probabilities, images);
  const cells = hierarchy.fine.cells.length;
  for (let i = 0; i < images; i++) {
    const row = scores.subarray(i * cells, (i + 1) * cells);
    const sum = row.reduce((x, y) => x + y, 0);
    if (sum > 0) for (let j = 0; j < cells; j++) row[j] /= sum;
  }
  return scores;
}

/**
 * Measures a geolocation model on `data` (every batch once, in order, inference mode): each image's
 * prediction and error, the scores, the baseline's scores, and the metrics `top1` (share of images whose
 * most probable cell is their label, among images with a cell), `loss` (mean cross-entropy over the same
 * images; with a hierarchy, of the fine head), `within1km` … `within2500km` and `medianKm`. `top1` and `loss` are NaN when no image has a
 * cell. The task's `validate` is this function.
 */
export async function evaluateGeo(model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, options: GeoEvaluateOptions): Promise<ValidationResult<GeoValidation>> {
  const where = 'geo validation';
  const { partition, hierarchy, truth, mode, topK } = checkGeoOptions(options, where);
  const { batchSize = 32 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${where}: batchSize must be an integer ≥ 1. Received ${describe(batchSize)}.`);
  const cells = partition.cells.length;
  if (hierarchy === null) checkOutputs(model, cells, where);
  else checkHierarchyOutputs(model, hierarchy, where);
  const baseline = mostPopulousCell(partition, mode);
  const predictions: GeoImagePrediction[] = [];
  const baselineErrors: number[] = [];
  let labelled = 0;
  let hits = 0;
  let lossSum = 0;
  for await (const batch of data.batches({ epoch: 0, batchSize, seed: 0, skip: 0, shuffle: false })) {
    checkGeoBatch(batch, cells, where);
    const { scores: probabilities, fine } = await predictCells(model, hierarchy, batch, options.predict);
    batch.labels.forEach((label, i) => {
      const path = batch.paths[i];
      const place = truth.get(path);
      if (place === undefined) throw new RangeError(`${where}: image '${path}' has no true location in options.truth; it must hold every validation image's path.`);
      checkPoint(place, `${where}: the true location of '${path}'`);
      const row = probabilities.subarray(i * cells, (i + 1) * cells);
      const p = locate(row, partition, { mode, topK, report: 1 });
      if (label >= 0) {
        labelled += 1;
        if (p.cell === label) hits += 1;
        lossSum -= Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, fine[i * cells + label])));
      }
      predictions.push({ path, truth: { lat: place.lat, lon: place.lon }, predicted: p.location, cell: p.cell, trueCell: label, errorKm: haversineKm(place, p.location), confidence: p.confidence });
      baselineErrors.push(haversineKm(place, baseline.location));
    });
    options.onProgress?.(predictions.length, data.size);
  }
  if (predictions.length === 0) throw new RangeError(`${where}: the data yielded no images; expected at least one batch.`);
  const scores = geoScores(predictions.map((p) => p.errorKm));
  const metrics: Record<string, number> = { top1: labelled > 0 ? hits / labelled : NaN, loss: labelled > 0 ? lossSum / labelled : NaN };
  for (const { km } of GEO_SCALES) metrics[withinName(km)] = scores.withinKm[String(km)];
  metrics.medianKm = scores.medianKm;
  return { metrics, details: { predictions, scores, baseline: geoScores(baselineErrors) } };
}

/**
 * The geolocation task: trains like {@link classificationTask} over the partition's cells (labels are
 * cell indices, e.g. `classOfPoint` of {@link S2Partition.build}), validates with {@link evaluateGeo},
 * and keeps the checkpoint with the lowest `medianKm`.
 */
export function geoTask(options: GeoTaskOptions): Task<ClassificationBatch, GeoValidation> {
  const settings = checkGeoOptions(options, 'geoTask');
  const classification = classificationTask({ labelSmoothing: options.labelSmoothing ?? 0 });
  const cells = settings.partition.cells.length;
  return {
    name: 'geo',
    best: { name: 'medianKm', mode: 'min' },
    // The step is the classification task's: workers rebuild it from its own module.
    worker: classification.worker,

    check(model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, role: 'training' | 'validation'): void {
      checkOutputs(model, cells, `geo ${role}`);
      classification.check?.(model, data, role);
    },

    prepare: (batch: ClassificationBatch) => classification.prepare(batch),

    loss: (model: tfl.LayersModel, batch: tf.NamedTensorMap) => classification.loss(model, batch),

    validate: (model: tfl.LayersModel, data: TrainingData<ClassificationBatch>, { batchSize, predict }: ValidateOptions) => evaluateGeo(model, data, { partition: settings.partition, truth: settings.truth, mode: settings.mode, topK: settings.topK, batchSize, predict }),
  };
}
