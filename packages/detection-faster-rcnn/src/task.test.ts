/**
 * Faster R-CNN's builder, targets, proposals, losses and post-processing on hand-made cases. Training
 * steps (every weight reached, the backbone through the crops; no leaks; an overfit) run on the wasm
 * training kernels in apps/detect/src/faster-rcnn-training.test.ts: tfjs-cpu backprops convolutions too slowly.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { convertBoxes, encodeBoxesTfOrder } from '@mobilenets/box-math';
import type { DetectionBatch } from '@mobilenets/contracts';
import { mulberry32 } from '@mobilenets/random';
import { createFasterRcnn, fasterRcnnAnchorsCxcywh, stagesOf } from './faster-rcnn-model';
import { runFasterRcnn } from './inference';
import { postprocessFasterRcnn } from './postprocess';
import { RPN_NOT_SAMPLED, rpnProposals, rpnTargets, secondStageTargets } from './targets';
import { fasterRcnnTask, rpnLoss, secondStageLoss, secondStageSampler } from './task';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A tiny Faster R-CNN: MobileNetV1 ×0.25 at `size`, a separable RPN head of depth 16, anchors 16–64 px. */
function tinyFasterRcnn(classes: number, size = 64) {
  const backbone = mobilenetV1({ widthMultiplier: 0.25, inputSize: size, includeTop: false, seed: 3 });
  const frcnn = createFasterRcnn({ backbone, classes, rpnDepth: 16, rpnHead: 'separable', anchors: { height: 32, width: 32, scales: [0.5, 1, 2] }, seed: 3 });
  return { ...frcnn, anchorsCxcywh: fasterRcnnAnchorsCxcywh(frcnn) };
}

interface Rect {
  box: [number, number, number, number];
  label: number;
}

/** Images of `size`² on −1 with each rectangle filled (+1) in the channel of its class. */
function drawScenes(scenes: Rect[][], size: number): DetectionBatch {
  const pixels = size * size * 3;
  const images = new Float32Array(scenes.length * pixels).fill(-1);
  scenes.forEach((rects, i) => {
    for (const { box, label } of rects) {
      const [x1, y1, x2, y2] = box.map((v) => Math.round(v * size));
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) images[i * pixels + (y * size + x) * 3 + label] = 1;
    }
  });
  return {
    images, shape: [scenes.length, size, size, 3],
    boxesXyxy: scenes.map((r) => Float32Array.from(r.flatMap((o) => o.box))),
    labels: scenes.map((r) => Int32Array.from(r.map((o) => o.label))),
    ignore: scenes.map((r) => new Uint8Array(r.length)),
    paths: scenes.map((_, i) => `scene:${i}`), imageIds: scenes.map((_, i) => i + 1), originalSizes: scenes.map(() => [size, size] as [number, number]),
  };
}

describe('createFasterRcnn', () => {
  it('V1: the first stage ends at Conv2d_11 (stride 16), the box classifier is Conv2d_12 and Conv2d_13 on 7×7 crops', () => {
    const f = tinyFasterRcnn(3, 96);
    expect(f.featureMapSize).toEqual([6, 6]);
    expect(f.anchorsPerLocation).toBe(9);
    expect(f.anchors).toBe(6 * 6 * 9);
    expect(f.featureDepth).toBe(128); // 512 × 0.25
    expect(f.model.outputs.map((t) => t.shape)).toEqual([[null, 324, 4], [null, 324, 2], [null, 6, 6, 128], [null, 4], [null, 3, 4]]);
    const names = f.secondStage.layers.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining(['Conv2d_12_depthwise', 'Conv2d_12_pointwise', 'Conv2d_13_pointwise_relu']));
    expect(f.firstStage.layers.map((l) => l.name)).not.toContain('Conv2d_12_depthwise');
    expect(f.secondStage.getLayer('Conv2d_13_pointwise').outputShape).toEqual([null, 4, 4, 256]);
    expect(fasterRcnnAnchorsCxcywh(f).length).toBe(4 * f.anchors);
    f.model.dispose();
  });

  it('V2: the first stage ends at layer_15/expansion_output; the rest of the backbone, residuals included, becomes the box classifier', () => {
    const backbone = mobilenetV2({ widthMultiplier: 0.35, inputSize: 64, includeTop: false, seed: 1 });
    const f = createFasterRcnn({ backbone, classes: 2, rpnDepth: 32 });
    expect(f.featureMapSize).toEqual([4, 4]);
    expect(f.anchors).toBe(4 * 4 * 12);
    const out = tf.tidy(() => (f.secondStage.predict(tf.ones([3, 14, 14, f.featureDepth])) as tf.Tensor[]).map((t) => t.shape));
    expect(out).toEqual([[3, 3], [3, 2, 4]]);
    expect(f.secondStage.layers.some((l) => l.getClassName() === 'Add')).toBe(true);
    f.model.dispose();
  });

  it('the model round-trips through JSON (as data-parallel workers rebuild it) and its stages are rebuilt from it', async () => {
    const f = tinyFasterRcnn(2);
    const json = f.model.toJSON(null, false);
    const copy = await tfl.models.modelFromJSON({ modelTopology: json as never });
    copy.setWeights(f.model.getWeights());
    const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 5);
    const a = stagesOf(copy).firstStage.predict(x) as tf.Tensor[];
    const b = f.firstStage.predict(x) as tf.Tensor[];
    expect(Array.from(a[1].dataSync())).toEqual(Array.from(b[1].dataSync()));
    tf.dispose([x, ...a, ...b]);
    copy.dispose();
    f.model.dispose();
  });

  it('names bad configs', () => {
    const backbone = mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, includeTop: false });
    expect(() => createFasterRcnn({ backbone, classes: 0 })).toThrow(/classes must be an integer ≥ 1/);
    expect(() => createFasterRcnn({ backbone, classes: 2, cropSize: 13 })).toThrow(/cropSize \(13\) must be a whole multiple of cropPool \(2\)/);
    expect(() => createFasterRcnn({ backbone, classes: 2, rpnHead: 'wide' as never })).toThrow(/rpnHead must be 'conv' or 'separable'/);
    backbone.dispose();
  });
});

// Four hand-placed anchors (normalised xyxy) and two ground truths:
//   gt0 = anchor 0 exactly (IoU 1 → positive); anchor 1 overlaps gt0 with IoU 1/3 (between 0.3 and 0.7: not sampled);
//   gt1 best IoU with anchor 3 is 0.25 (forced match → positive); anchor 2 overlaps nothing (negative).
const ANCHORS_XYXY = [0.1, 0.1, 0.5, 0.5, 0.3, 0.1, 0.7, 0.5, 0.8, 0.8, 0.9, 0.9, 0.5, 0.6, 0.7, 0.8];
const GT_XYXY = [0.1, 0.1, 0.5, 0.5, 0.55, 0.65, 0.65, 0.75];

describe('rpnTargets', () => {
  it('positives at IoU ≥ 0.7 and forced matches, negatives below 0.3, the band between not sampled; codes of the matched boxes', () => {
    const t = rpnTargets(GT_XYXY, [0, 0], ANCHORS_XYXY, { random: mulberry32(1) });
    expect(Array.from(t.labels)).toEqual([1, RPN_NOT_SAMPLED, 0, 1]);
    expect([t.positives, t.negatives]).toEqual([2, 1]);
    const code3 = encodeBoxesTfOrder(convertBoxes(GT_XYXY.slice(4), 'xyxy', 'cxcywh'), convertBoxes(ANCHORS_XYXY.slice(12), 'xyxy', 'cxcywh'));
    expect(Array.from(t.boxTargets.slice(12))).toEqual(Array.from(Float32Array.from(code3)));
    expect(Array.from(t.boxTargets.slice(0, 4))).toEqual([0, 0, 0, 0]); // identical boxes
  });

  it('an ignored ground truth makes its anchors neither; the sampler caps positives at the fraction', () => {
    const t = rpnTargets(GT_XYXY, [1, 0], ANCHORS_XYXY, { random: mulberry32(1) });
    expect(t.labels[0]).toBe(RPN_NOT_SAMPLED);
    const capped = rpnTargets(GT_XYXY, [0, 0], ANCHORS_XYXY, { random: mulberry32(1), batchSizePerImage: 2, positiveFraction: 0.5 });
    expect([capped.positives, capped.negatives]).toEqual([1, 1]);
  });

  it('an image without objects: sampled anchors are all negatives', () => {
    const t = rpnTargets([], [], ANCHORS_XYXY, { random: mulberry32(1) });
    expect(Array.from(t.labels)).toEqual([0, 0, 0, 0]);
  });
});

describe('rpnProposals', () => {
  it('decodes, clips, drops tiny boxes, keeps the best first and suppresses overlaps at 0.7', () => {
    const anchorsCxcywh = [0.5, 0.5, 0.4, 0.4, 0.52, 0.5, 0.4, 0.4, 0.9, 0.9, 0.4, 0.4, 0.2, 0.2, 0.0001, 0.0001];
    const codes = new Float32Array(16); // every box its anchor
    const logits = [0, 1, 0, 2, 0, 0.5, 0, 3]; // objectness: a1 > a0 > a2, a3 best but tiny
    const p = rpnProposals(codes, logits, anchorsCxcywh);
    // a3 dropped (tiny); a1 kept first; a0 suppressed by a1 (IoU ≈ 0.9); a2 clipped to [0.7, 1].
    expect(p.boxesXyxy.length).toBe(8);
    expect(Array.from(p.boxesXyxy.slice(0, 4)).map((v) => +v.toFixed(4))).toEqual([0.32, 0.3, 0.72, 0.7]);
    expect(Array.from(p.boxesXyxy.slice(4)).map((v) => +v.toFixed(4))).toEqual([0.7, 0.7, 1, 1]);
    expect(p.scores[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(rpnProposals(codes, logits, anchorsCxcywh, { maxProposals: 1 }).boxesXyxy.length).toBe(4);
  });
});

describe('secondStageTargets', () => {
  it('positives at IoU ≥ 0.5 with class c + 1 and codes against the proposal; negatives below; at most a quarter positive', () => {
    const proposals = [0.1, 0.1, 0.5, 0.5, 0.12, 0.1, 0.5, 0.5, 0.6, 0.6, 0.9, 0.9, 0.0, 0.0, 0.2, 0.2];
    const t = secondStageTargets(proposals, GT_XYXY.slice(0, 4), [2], { random: mulberry32(2), batchSizePerImage: 4, positiveFraction: 0.5 });
    expect(t.positives).toBe(2);
    expect(Array.from(t.indices).slice(0, 2).sort()).toEqual([0, 1]);
    expect(Array.from(t.classTargets)).toEqual([3, 3, 0, 0]);
    const k = Array.from(t.indices).indexOf(1);
    const expected = encodeBoxesTfOrder(convertBoxes(GT_XYXY.slice(0, 4), 'xyxy', 'cxcywh'), convertBoxes(proposals.slice(4, 8), 'xyxy', 'cxcywh'));
    expect(Array.from(t.boxTargets.slice(4 * k, 4 * k + 4))).toEqual(Array.from(Float32Array.from(expected)));
    const quarter = secondStageTargets(proposals, GT_XYXY.slice(0, 4), [2], { random: mulberry32(2), batchSizePerImage: 4 });
    expect(quarter.positives).toBe(1);
  });
});

describe('losses', () => {
  it('rpnLoss: cross-entropy of sampled anchors and smooth L1 of positives, per image over its sampled count', () => {
    const logits = tf.tensor3d([[[0, 0], [0, 0], [2, 0]]]);
    const labels = tf.tensor2d([[1, 0, -1]], undefined, 'int32');
    const codes = tf.tensor3d([[[0.5, 0, 0, 0], [9, 9, 9, 9], [9, 9, 9, 9]]]);
    const out = rpnLoss(codes, logits, labels, tf.zeros([1, 3, 4]));
    expect(out.objectness.dataSync()[0]).toBeCloseTo(Math.log(2), 5); // (ln 2 + ln 2) / 2
    expect(out.box.dataSync()[0]).toBeCloseTo(0.125 / 2, 6); // ½·0.5² over 2 sampled
    expect(out.positives.dataSync()[0]).toBe(1);
  });

  it('secondStageLoss: the box loss reads only the target class of positives; weight-0 rows count nowhere', () => {
    const logits = tf.tensor2d([[0, 0, 0], [0, 0, 0], [5, 5, 5]]);
    const boxes = tf.tensor3d([[[9, 9, 9, 9], [2, 0, 0, 0]], [[9, 9, 9, 9], [9, 9, 9, 9]], [[9, 9, 9, 9], [9, 9, 9, 9]]]);
    const out = secondStageLoss(logits, boxes, tf.tensor1d([2, 0, 1], 'int32'), tf.zeros([3, 4]), tf.tensor1d([1, 1, 0]));
    expect(out.classifier.dataSync()[0]).toBeCloseTo(Math.log(3), 5);
    expect(out.box.dataSync()[0]).toBeCloseTo(1.5 / 2, 5); // |2| − ½ for the one positive, over 2 rows
  });
});

describe('postprocessFasterRcnn', () => {
  it('softmax scores, per-class decoding against the proposal, per-class NMS, boxes in image pixels', () => {
    const proposals = [0.1, 0.1, 0.5, 0.5, 0.12, 0.1, 0.5, 0.5];
    const logits = [0, 3, 0, 0, 2, 0];
    const codes = new Float32Array(2 * 2 * 4);
    const dets = postprocessFasterRcnn(proposals, logits, codes, { classes: 2, imageWidth: 200, imageHeight: 100, minScore: 0.1 });
    // Proposals 0 and 1 overlap at IoU 0.95: class 0 keeps proposal 0 (e³/(e³ + 2)), suppresses 1;
    // class 1 keeps proposal 1 (1/(e² + 2) = 0.106 > 0.1); proposal 0's class 1 (0.045) is below the threshold.
    expect(dets.map((d) => d.label)).toEqual([0, 1]);
    expect(dets[0].score).toBeCloseTo(Math.exp(3) / (Math.exp(3) + 2), 6);
    expect(dets[0].boxXyxy.map((v) => +v.toFixed(3))).toEqual([20, 10, 100, 50]);
    expect(dets[1].score).toBeCloseTo(1 / (Math.exp(2) + 2), 6);
  });
});

describe('fasterRcnnTask', () => {
  it('prepare pads the ground truth to the most objects of the batch and samples the same anchors for the same batch', () => {
    const f = tinyFasterRcnn(3);
    const task = fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3 });
    const batch = drawScenes([[{ box: [0.1, 0.1, 0.5, 0.5], label: 2 }], [{ box: [0.2, 0.2, 0.6, 0.7], label: 0 }, { box: [0.6, 0.6, 0.9, 0.9], label: 1 }]], 64);
    const a = task.prepare(batch);
    expect(a.tensors.gtBoxes.shape).toEqual([2, 2, 4]);
    expect(Array.from(a.tensors.gtLabels.data)).toEqual([2, -1, 0, 1]);
    expect(a.tensors.rpnLabels.shape).toEqual([2, f.anchors]);
    expect(Array.from(task.prepare(batch).tensors.rpnLabels.data)).toEqual(Array.from(a.tensors.rpnLabels.data));
    expect(() => task.prepare({ ...batch, labels: [Int32Array.from([3]), batch.labels[1]] })).toThrow(/image 0 has label 3; labels must be in \[0, 3\)/);
    f.model.dispose();
  });

  it('validate: runs the second stage in chunks (the same outputs whatever the chunk), stops between batches on a signal, reports progress', async () => {
    const f = tinyFasterRcnn(3);
    const stages = stagesOf(f.model);
    const batch = drawScenes([[{ box: [0.1, 0.1, 0.5, 0.5], label: 2 }], [{ box: [0.2, 0.2, 0.6, 0.7], label: 0 }]], 64);
    const whole = runFasterRcnn(stages, f.anchorsCxcywh, batch.images, batch.shape, { cropSize: 14, maxProposals: 20, chunk: 1000 });
    const chunked = runFasterRcnn(stages, f.anchorsCxcywh, batch.images, batch.shape, { cropSize: 14, maxProposals: 20, chunk: 3 });
    expect(chunked.map((o) => o.proposalsXyxy.length)).toEqual(whole.map((o) => o.proposalsXyxy.length));
    chunked.forEach((o, i) => {
      expect(o.classLogits.length).toBe((o.proposalsXyxy.length / 4) * 4);
      o.classLogits.forEach((v, k) => expect(v).toBeCloseTo(whole[i].classLogits[k], 4));
      o.boxCodes.forEach((v, k) => expect(v).toBeCloseTo(whole[i].boxCodes[k], 4));
    });

    const task = fasterRcnnTask({ anchorsCxcywh: f.anchorsCxcywh, classes: 3, proposals: { maxProposals: 20 } });
    const data = { size: 4, async *batches() { yield batch; yield { ...batch, imageIds: [3, 4] }; } };
    const progress: number[] = [];
    const full = await task.validate(f.model, data, { batchSize: 2, onProgress: (p) => void progress.push(p.examples, p.total) });
    expect(progress).toEqual([2, 4, 4, 4]);
    expect(full.details!.images).toBe(4);
    const controller = new AbortController();
    const cut = await task.validate(f.model, data, { batchSize: 2, signal: controller.signal, onProgress: () => controller.abort() });
    expect(cut.details!.images).toBe(2);
    f.model.dispose();
  });

  it('secondStageSampler: every image gets exactly secondStageBatchSize rows, short ones padded with whole-image stand-ins of weight 0', () => {
    // Two anchors an image: at most 2 proposals + the ground truth = 3 candidates for 8 rows.
    const anchorsCxcywh = [0.3, 0.3, 0.4, 0.4, 0.7, 0.7, 0.4, 0.4];
    const sample = secondStageSampler({ anchorsCxcywh, classes: 2, secondStageBatchSize: 8 });
    const codes = new Float32Array(2 * 2 * 4);
    const logits = Float32Array.of(0, 1, 0, 2, 0, 1, 0, 2);
    const gtBoxes = Float32Array.of(0.1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9);
    const gtLabels = Int32Array.of(1, 0);
    const s = sample(codes, logits, gtBoxes, gtLabels, 2);
    expect(Array.from(s.boxIndex)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    for (const image of [0, 1]) {
      const rows = Array.from({ length: 8 }, (_, k) => image * 8 + k);
      const real = rows.filter((r) => s.weights[r] === 1);
      const standIns = rows.filter((r) => s.weights[r] === 0);
      expect(real.length).toBeGreaterThan(0);
      expect(real.length).toBeLessThanOrEqual(3);
      expect(real.length + standIns.length).toBe(8);
      // Sampled rows first; stand-ins are background crops of the whole image.
      expect(Math.max(...real)).toBeLessThan(Math.min(...standIns));
      for (const r of standIns) {
        expect(Array.from(s.proposalsXyxy.subarray(4 * r, 4 * r + 4))).toEqual([0, 0, 1, 1]);
        expect(s.classTargets[r]).toBe(0);
      }
    }
    // The ground truth is a candidate: each image has a positive of its own class (c + 1).
    expect(Array.from(s.classTargets.subarray(0, 8))).toContain(2);
    expect(Array.from(s.classTargets.subarray(8, 16))).toContain(1);
    expect(s.positivesPerImage).toBeGreaterThanOrEqual(1);
    expect(() => sample(codes, logits, gtBoxes, gtLabels, 3)).toThrow(/3 images of 2 anchors need 24 box codes/);
  });
});
