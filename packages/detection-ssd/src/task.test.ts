import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { convertBoxes, encodeBoxesTfOrder, ssdAnchorsCxcywh } from '@mobilenets/box-math';
import type { BatchOptions, DetectionBatch } from '@mobilenets/contracts';
import { constantSchedule, fit, localRunner, toTensors, type TrainingData } from '@mobilenets/training';
import { createSsd } from './ssd-model';
import { SSD_IGNORED_TARGET, ssdLoss, ssdTargets, ssdTask } from './task';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * A tiny SSD (MobileNetV1 ×0.25 at `size`, extra layers ×0.25) and its anchors. `freezeBackbone`: only
 * the extra layers and the predictors train — tfjs-cpu's Conv2DBackpropFilter makes a backbone step
 * take ~14 s even at this size, too slow for a unit test.
 */
function tinySsd(classes: number, size = 64, seed = 3, freezeBackbone = false) {
  const backbone = mobilenetV1({ widthMultiplier: 0.25, inputSize: size, includeTop: false, seed });
  if (freezeBackbone) for (const layer of backbone.layers) layer.trainable = false;
  const ssd = createSsd({ backbone, classes, depthMultiplier: 0.25, seed });
  const anchorsCxcywh = ssdAnchorsCxcywh(ssd.featureMapSizes);
  expect(anchorsCxcywh.length / 4).toBe(ssd.anchors);
  return { ...ssd, anchorsCxcywh };
}

interface Rect {
  /** Normalised xyxy. */
  box: [number, number, number, number];
  label: number;
  ignore?: boolean;
}

/** Images of `size`² on a dark background (−1) with each rectangle filled in its class's colour channel (+1). */
function drawBatch(scenes: Rect[][], size: number): DetectionBatch {
  const pixels = size * size * 3;
  const images = new Float32Array(scenes.length * pixels).fill(-1);
  scenes.forEach((rects, i) => {
    for (const { box, label } of rects) {
      const [x1, y1, x2, y2] = box.map((v) => Math.round(v * size));
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) images[i * pixels + (y * size + x) * 3 + (label % 3)] = 1;
    }
  });
  return {
    images,
    shape: [scenes.length, size, size, 3],
    boxesXyxy: scenes.map((r) => Float32Array.from(r.flatMap((o) => o.box))),
    labels: scenes.map((r) => Int32Array.from(r.map((o) => o.label))),
    ignore: scenes.map((r) => Uint8Array.from(r.map((o) => (o.ignore ? 1 : 0)))),
    paths: scenes.map((_, i) => `synthetic:${i}`),
    imageIds: scenes.map((_, i) => i + 1),
    originalSizes: scenes.map(() => [size * 2, size * 2] as [number, number]),
  };
}

/** In-memory detection data: the scenes as one batch sequence (unshuffled; small). */
function sceneData(scenes: Rect[][], size: number): TrainingData<DetectionBatch> {
  return {
    size: scenes.length,
    async *batches({ batchSize, skip }: BatchOptions) {
      for (let b = skip; b * batchSize < scenes.length; b++) yield drawBatch(scenes.slice(b * batchSize, (b + 1) * batchSize), size);
    },
  };
}

// Five hand-placed anchors (normalised cxcywh) and three ground truths:
//   gt0 [0.1, 0.1, 0.5, 0.5] class 1   = anchor 0 exactly (IoU 1)                    → anchor 0 positive, class target 2
//   gt1 [0.7, 0.7, 0.9, 0.9] class 0, ignored = anchor 2 exactly                        → anchor 2 ignored (−1), not a positive
//   gt2 [0.45, 0.6, 0.55, 0.7] class 0, best IoU 1/9 with anchor 4                   → forced onto anchor 4, class target 1
// anchor 1 overlaps gt0 with IoU 0.08 / 0.24 = 1/3 (a negative at 0.5/0.5, ignored at unmatchedThreshold 0.3);
// anchor 3 overlaps nothing.
const ANCHORS = [0.3, 0.3, 0.4, 0.4, 0.5, 0.3, 0.4, 0.4, 0.8, 0.8, 0.2, 0.2, 0.8, 0.2, 0.1, 0.1, 0.5, 0.65, 0.3, 0.3];
const GT = { boxes: [0.1, 0.1, 0.5, 0.5, 0.7, 0.7, 0.9, 0.9, 0.45, 0.6, 0.55, 0.7], labels: [1, 0, 0], ignore: [0, 1, 0] };

describe('ssdTargets', () => {
  it('positives, ignored and negatives of a hand-made image; codes are box-math encodeBoxesTfOrder of the matched boxes', () => {
    const t = ssdTargets(GT.boxes, GT.labels, GT.ignore, ANCHORS);
    expect(Array.from(t.classTargets)).toEqual([2, 0, SSD_IGNORED_TARGET, 0, 1]);
    expect(t.positives).toBe(2);
    const expected = new Float32Array(20);
    expected.set(encodeBoxesTfOrder(convertBoxes(GT.boxes.slice(0, 4), 'xyxy', 'cxcywh'), ANCHORS.slice(0, 4)), 0);
    expected.set(encodeBoxesTfOrder(convertBoxes(GT.boxes.slice(8, 12), 'xyxy', 'cxcywh'), ANCHORS.slice(16, 20)), 16);
    expect(Array.from(t.boxTargets)).toEqual(Array.from(expected));
    // anchor 4 against gt2: same centre, a third of the size → [0, 0, 5·log(1/3), 5·log(1/3)]
    expect(t.boxTargets[18]).toBeCloseTo(5 * Math.log(1 / 3), 5);
    expect(t.boxTargets[16]).toBeCloseTo(0, 6);
  });

  it('without force matching the low-IoU box gets no anchor; an unmatched band makes anchor 1 ignored', () => {
    expect(Array.from(ssdTargets(GT.boxes, GT.labels, GT.ignore, ANCHORS, { forceMatch: false }).classTargets)).toEqual([2, 0, -1, 0, 0]);
    expect(Array.from(ssdTargets(GT.boxes, GT.labels, GT.ignore, ANCHORS, { unmatchedThreshold: 0.3 }).classTargets)).toEqual([2, -1, -1, 0, 1]);
  });

  it('an image without boxes: every anchor a negative, codes zero', () => {
    const t = ssdTargets([], [], [], ANCHORS);
    expect(Array.from(t.classTargets)).toEqual([0, 0, 0, 0, 0]);
    expect(t.boxTargets.every((v) => v === 0)).toBe(true);
  });
});

function handBatch(): DetectionBatch {
  return {
    images: new Float32Array(2 * 4 * 4 * 3).map((_, i) => i / 100),
    shape: [2, 4, 4, 3],
    boxesXyxy: [Float32Array.from(GT.boxes), new Float32Array(0)],
    labels: [Int32Array.from(GT.labels), new Int32Array(0)],
    ignore: [Uint8Array.from(GT.ignore), new Uint8Array(0)],
    paths: ['a', 'b'],
    imageIds: [1, 2],
    originalSizes: [[8, 8], [8, 8]],
  };
}

describe('ssdTask.prepare', () => {
  it('batch-first images, box targets [B, N, 4] and int32 class targets [B, N], per image as ssdTargets', () => {
    const task = ssdTask({ anchorsCxcywh: ANCHORS, classes: 2 });
    const b = handBatch();
    const { tensors, examples } = task.prepare(b);
    expect(examples).toBe(2);
    expect(tensors.images).toEqual({ data: b.images, shape: [2, 4, 4, 3] });
    expect(tensors.boxTargets.shape).toEqual([2, 5, 4]);
    expect(tensors.classTargets.shape).toEqual([2, 5]);
    expect(tensors.classTargets.data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensors.classTargets.data)).toEqual([2, 0, -1, 0, 1, 0, 0, 0, 0, 0]);
    const single = ssdTargets(Float32Array.from(GT.boxes), GT.labels, GT.ignore, ANCHORS);
    expect(Array.from(tensors.boxTargets.data.subarray(0, 20))).toEqual(Array.from(single.boxTargets));
    expect(Array.from(tensors.boxTargets.data.subarray(20))).toEqual(new Array(20).fill(0));
  });

  it('rejects labels outside [0, classes) and a batch whose per-image arrays miss an image', () => {
    const task = ssdTask({ anchorsCxcywh: ANCHORS, classes: 1 });
    expect(() => task.prepare(handBatch())).toThrow('ssdTask.prepare: image 0 has label 1; labels must be in [0, 1).');
    const b = handBatch();
    b.ignore = [b.ignore[0]];
    expect(() => ssdTask({ anchorsCxcywh: ANCHORS, classes: 2 }).prepare(b)).toThrow('batch.ignore must hold one array an image (2)');
  });

  it('a worker rebuilds the same task from its module, factory and JSON options', () => {
    const task = ssdTask({ anchorsCxcywh: Float64Array.from(ANCHORS), classes: 2, scoreFunction: 'sigmoid', negativesPerPositive: 2 });
    const { module, factory, options } = task.worker!;
    const rebuilt = (require(module) as Record<string, (o: unknown) => typeof task>)[factory](JSON.parse(JSON.stringify(options)));
    expect(rebuilt.prepare(handBatch())).toEqual(task.prepare(handBatch()));
    expect(rebuilt.worker!.options).toEqual(options);
    expect((options as { scoreFunction: string }).scoreFunction).toBe('sigmoid');
  });
});

// Hand-checked loss: 2 images, 6 anchors, 1 class (logits [background, object]).
// Image 0: anchor 0 positive (class 1), anchor 4 ignored, anchors 1, 2, 3, 5 negatives; image 1: all negatives, no positive.
const TARGETS = [1, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0];
const OBJECT_LOGITS = [2, 1, 3, -1, 5, 2, 4, 4, 4, 4, 4, 4];
const softplus = (x: number) => Math.log(1 + Math.exp(x));

function lossOf(options: Parameters<typeof ssdLoss>[4], targets = TARGETS, objectLogits = OBJECT_LOGITS) {
  return tf.tidy(() => {
    const b = targets.length / 6;
    const codes = tf.tensor3d(Array.from({ length: b * 24 }, (_, i) => [0.5, -2, 0, 0][i % 24] ?? 7), [b, 6, 4]);
    const logits = tf.tensor3d(objectLogits.flatMap((o) => [0, o]), [b, 6, 2]);
    const l = ssdLoss(codes, logits, tf.zeros([b, 6, 4]), tf.tensor2d(targets, [b, 6], 'int32'), options);
    return Object.fromEntries([...Object.entries(l.losses), ...Object.entries(l.metrics!)].map(([k, v]) => [k, v.dataSync()[0]]));
  });
}

describe('ssdLoss', () => {
  it('softmax: the positive and the 3 hardest of 4 negatives, over 1 positive; the image without positives adds nothing', () => {
    const l = lossOf({});
    // negatives' CE log(1 + e^o): anchors 2 (o = 3), 5 (o = 2), 1 (o = 1) kept, anchor 3 (o = −1) dropped; positive: log(1 + e^−2)
    expect(l.classification).toBeCloseTo(softplus(3) + softplus(2) + softplus(1) + softplus(-2), 5);
    // anchor 0's codes [0.5, −2, 0, 0] against 0: ½·0.5² + (2 − ½); every other anchor's codes (7) are not positives
    expect(l.localization).toBeCloseTo(0.125 + 1.5, 6);
    expect(l.positives).toBeCloseTo(0.5, 6);
    expect(l.negatives).toBeCloseTo(1.5, 6);
  });

  it('sigmoid: binary cross-entropies over [background, object] summed; negativesPerPositive and the weights apply', () => {
    const l = lossOf({ scoreFunction: 'sigmoid', negativesPerPositive: 1, localizationWeight: 2, classificationWeight: 0.5 });
    // negative: background logit 0 with target 1 → log 2; object logit o with target 0 → log(1 + e^o). Only anchor 2 kept.
    const negative = (o: number) => Math.log(2) + softplus(o);
    const positive = Math.log(2) + softplus(-2);
    expect(l.classification).toBeCloseTo(0.5 * (positive + negative(3)), 5);
    expect(l.localization).toBeCloseTo(2 * 1.625, 6);
    expect(l.negatives).toBeCloseTo(0.5, 6);
  });

  it('is normalised by the positives of the whole batch: two positives halve each one’s share', () => {
    const twice = lossOf({}, [...TARGETS.slice(0, 6), ...TARGETS.slice(0, 6)], [...OBJECT_LOGITS.slice(0, 6), ...OBJECT_LOGITS.slice(0, 6)]);
    const once = lossOf({});
    expect(twice.classification).toBeCloseTo(once.classification, 5); // twice the sum over twice the positives
    expect(twice.localization).toBeCloseTo(once.localization, 6);
    expect(twice.positives).toBeCloseTo(1, 6);
    expect(twice.negatives).toBeCloseTo(3, 6);
  });

  it('differentiable: gradients reach the positive and the mined negatives only', () => {
    const logits = tf.variable(tf.tensor3d(OBJECT_LOGITS.flatMap((o) => [0, o]), [2, 6, 2]));
    const codes = tf.variable(tf.ones([2, 6, 4]));
    const { grads, value } = tf.variableGrads(() => {
      const l = ssdLoss(codes, logits, tf.zeros([2, 6, 4]), tf.tensor2d(TARGETS, [2, 6], 'int32'));
      return tf.add(l.losses.localization, l.losses.classification) as tf.Scalar;
    }, [logits, codes]);
    const touched = (g: tf.Tensor, width: number) => Array.from({ length: 12 }, (_, a) => Array.from(g.dataSync().subarray(a * width, (a + 1) * width)).some((v) => v !== 0));
    expect(touched(grads[logits.name], 2)).toEqual([true, true, true, false, false, true, false, false, false, false, false, false]);
    expect(touched(grads[codes.name], 4)).toEqual([true, ...new Array(11).fill(false)]);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    tf.dispose([logits, codes, value, ...Object.values(grads)]);
  });
});

describe('ssdTask.validate', () => {
  // A stand-in model whose outputs are the prepared targets of the hand-made batch: exact boxes at anchors 0 and 4,
  // confident classes there and background elsewhere; nothing on the ignored box gt1.
  function perfectModel(task: ReturnType<typeof ssdTask>, batch: DetectionBatch, scoreFunction: 'softmax' | 'sigmoid') {
    const { boxTargets, classTargets } = task.prepare(batch).tensors;
    const logits = Array.from(classTargets.data).flatMap((c) => [0, 1, 2].map((k) => (k === Math.max(c, 0) ? 8 : scoreFunction === 'softmax' ? -8 : -12)));
    return { predict: () => [tf.tensor3d(boxTargets.data, boxTargets.shape as [number, number, number]), tf.tensor3d(logits, [2, 5, 3])] } as unknown as Parameters<typeof task.validate>[0];
  }

  it.each(['softmax', 'sigmoid'] as const)('%s: perfect detections give mAP 1; the ignored box is a COCO crowd, so missing it costs nothing', async (scoreFunction) => {
    const task = ssdTask({ anchorsCxcywh: ANCHORS, classes: 2, scoreFunction });
    const batch = handBatch();
    const data = { size: 2, batches: async function* () { yield batch; } };
    const { metrics, details } = await task.validate(perfectModel(task, batch, scoreFunction), data, { batchSize: 2 });
    expect(metrics.mAP).toBeCloseTo(1, 6);
    expect(metrics.AP50).toBeCloseTo(1, 6);
    expect(details!.detections).toBe(2);
    expect(details!.images).toBe(2);
    expect(task.best).toEqual({ name: 'mAP', mode: 'max' });
    // The same boxes without the ignore flag: gt1 becomes a regular box nobody detects; class 0's recall halves.
    const unflagged = { ...batch, ignore: [Uint8Array.of(0, 0, 0), new Uint8Array(0)] };
    const missed = await task.validate(perfectModel(task, batch, scoreFunction), { size: 2, batches: async function* () { yield unflagged; } }, { batchSize: 2 });
    expect(missed.metrics.mAP).toBeLessThan(0.8);
  });
});

describe('ssdTask on a tiny SSD', () => {
  it('check() accepts the model and rejects other anchors or classes; the loss has finite gradients', () => {
    const ssd = tinySsd(2, 64, 3, true);
    const task = ssdTask({ anchorsCxcywh: ssd.anchorsCxcywh, classes: 2 });
    expect(() => task.check!(ssd.model, { size: 0, batches: async function* () {} }, 'training')).not.toThrow();
    expect(() => ssdTask({ anchorsCxcywh: ssd.anchorsCxcywh, classes: 3 }).check!(ssd.model, { size: 0, batches: async function* () {} }, 'training')).toThrow('ssdTask: the model');
    const batch = drawBatch([[{ box: [0.1, 0.1, 0.6, 0.5], label: 1 }], []], 64);
    const tensors = toTensors(task.prepare(batch).tensors);
    const { value, grads } = tf.variableGrads(() => {
      const l = task.loss(ssd.model, tensors);
      return tf.addN(Object.values(l.losses)) as tf.Scalar;
    });
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const all = Object.values(grads).map((g) => g.dataSync());
    expect(all.length).toBe(ssd.model.trainableWeights.length);
    expect(all.every((g) => g.every(Number.isFinite))).toBe(true);
    expect(all.some((g) => g.some((v) => v !== 0))).toBe(true);
    tf.dispose([value, ...Object.values(grads), ...Object.values(tensors)]);
    ssd.model.dispose();
  });
});
describe('ssdTask overfit', () => {
  // Measured (2 cores): before AP50 0.016, mAP 0.004; after 20 steps AP50 1.000, mAP 0.858 (~50 s). 'sigmoid' reached the same numbers.
  it('a tiny SSD (frozen backbone) learns 4 synthetic images with 1–2 rectangles each to a high AP', async () => {
    const size = 64;
    const scenes: Rect[][] = [
      [{ box: [0.1, 0.1, 0.5, 0.6], label: 0 }],
      [{ box: [0.5, 0.4, 0.9, 0.9], label: 1 }, { box: [0.05, 0.05, 0.35, 0.35], label: 0 }],
      [{ box: [0.3, 0.2, 0.8, 0.6], label: 1 }],
      [{ box: [0.1, 0.55, 0.45, 0.95], label: 1 }, { box: [0.55, 0.1, 0.95, 0.45], label: 0 }],
    ];
    const ssd = tinySsd(2, size, 3, true);
    const task = ssdTask({ anchorsCxcywh: ssd.anchorsCxcywh, classes: 2 });
    const data = sceneData(scenes, size);
    const before = await task.validate(ssd.model, data, { batchSize: 4 });
    const result = await fit(ssd.model, data, {
      task,
      runner: localRunner(),
      steps: 20,
      batchSize: 4,
      seed: 1,
      schedule: constantSchedule(0.01),
      optimizer: () => tf.train.adam(0.01),
      weightDecay: 0,
    });
    const after = await task.validate(ssd.model, data, { batchSize: 4 });
    expect(before.metrics.AP50).toBeLessThan(0.2);
    expect(result.steps).toBe(20);
    expect(after.metrics.AP50).toBeGreaterThan(0.8);
    expect(after.metrics.mAP).toBeGreaterThan(0.4);
    ssd.model.dispose();
  }, 120_000);
});
