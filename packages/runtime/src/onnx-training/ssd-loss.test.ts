/**
 * ssdStepLoss on a hand-made example, run by onnxruntime: the two loss parts, the metrics and the
 * gradients with respect to both outputs against the formulas written out here — including which
 * negatives are mined (a tie at the boundary goes to the lower anchor index, an ignored anchor is never
 * mined, an image with fewer negatives than 3 a positive keeps them all). The whole SSD step against
 * tfjs' ssdTask is apps/detect's ssd-onnx-training.test.ts.
 */
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import { StepOps } from './ops';
import { ssdStepLoss, type SsdStepLossOptions } from './ssd-loss';

const IMAGES = 2;
const ANCHORS = 6;
const WIDTH = 3; // background + 2 classes

// Image 0: one positive (anchor 0), anchor 4 ignored, four negatives of which ⌊3 · 1⌋ = 3 are kept. Their
// losses log(1 + 2eˣ) rank anchor 1 (x = 2), anchor 5 (x = 1), then anchors 2 and 3 tied (x = 0.5):
// anchor 2 is kept, anchor 3 not. Image 1: two positives (class 2), four negatives, min(6, 4) = all kept.
const CLASS_TARGETS = [1, 0, 0, 0, -1, 0, 0, 0, 2, 2, 0, 0];
const NEGATIVE_X = [0, 2, 0.5, 0.5, 3, 1, -1, 0.2, 0, 0, 0.7, -0.3];
const KEPT = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1]; // positives and mined negatives

function logitsOf(): Float32Array {
  const logits = new Float32Array(IMAGES * ANCHORS * WIDTH);
  CLASS_TARGETS.forEach((t, a) => {
    const x = NEGATIVE_X[a];
    const row = t > 0 ? [0.3, t === 1 ? 1.2 : -0.4, t === 2 ? 0.9 : 0.1] : [0, x, x];
    logits.set(row, a * WIDTH);
  });
  return logits;
}

const BOXES = Float32Array.from({ length: IMAGES * ANCHORS * 4 }, (_, i) => Math.sin(i * 1.7) * 1.5);
const BOX_TARGETS = Float32Array.from({ length: IMAGES * ANCHORS * 4 }, (_, i) => Math.cos(i * 0.9));

async function run(options: SsdStepLossOptions): Promise<Record<string, Float32Array>> {
  const graph = new OnnxGraphBuilder(15);
  const ops = new StepOps(graph);
  const boxes = graph.addInput('boxes', [IMAGES, ANCHORS, 4]);
  const logits = graph.addInput('logits', [IMAGES, ANCHORS, WIDTH]);
  const boxTargets = graph.addInput('boxTargets', [IMAGES, ANCHORS, 4]);
  const classTargets = graph.addInput('classTargets', [IMAGES, ANCHORS], 'int32');
  const loss = ssdStepLoss(options).emit(
    ops,
    [{ name: boxes, shape: [IMAGES, ANCHORS, 4] }, { name: logits, shape: [IMAGES, ANCHORS, WIDTH] }],
    { boxTargets: { name: boxTargets, shape: [IMAGES, ANCHORS, 4] }, classTargets: { name: classTargets, shape: [IMAGES, ANCHORS] } },
    IMAGES,
  );
  const named: Record<string, string> = { ...loss.losses, ...loss.metrics, dBoxes: loss.outputGradients[0] as string, dLogits: loss.outputGradients[1] as string };
  const outputs = Object.fromEntries(Object.entries(named).map(([key, value]) => [key, graph.addOutput(value, `out_${key}`, key.startsWith('d') ? (key === 'dBoxes' ? [IMAGES, ANCHORS, 4] : [IMAGES, ANCHORS, WIDTH]) : [])]));
  const session = await ort.InferenceSession.create(graph.toBytes('ssd_loss', {}));
  try {
    const result = await session.run({
      [boxes]: new ort.Tensor('float32', BOXES, [IMAGES, ANCHORS, 4]),
      [logits]: new ort.Tensor('float32', logitsOf(), [IMAGES, ANCHORS, WIDTH]),
      [boxTargets]: new ort.Tensor('float32', BOX_TARGETS, [IMAGES, ANCHORS, 4]),
      [classTargets]: new ort.Tensor('int32', Int32Array.from(CLASS_TARGETS), [IMAGES, ANCHORS]),
    });
    return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, result[output].data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** The expected values, written out per anchor in double precision. */
function expected(scoreFunction: 'softmax' | 'sigmoid', weights = { localization: 1, classification: 1 }) {
  const logits = logitsOf();
  const positives = CLASS_TARGETS.filter((t) => t > 0).length;
  let localization = 0;
  let classification = 0;
  const dBoxes = new Float64Array(BOXES.length);
  const dLogits = new Float64Array(logits.length);
  CLASS_TARGETS.forEach((t, a) => {
    if (t > 0) {
      for (let k = 0; k < 4; k++) {
        const d = BOXES[4 * a + k] - BOX_TARGETS[4 * a + k];
        localization += Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
        dBoxes[4 * a + k] = (Math.max(-1, Math.min(1, d)) * weights.localization) / positives;
      }
    }
    if (!KEPT[a]) return;
    const row = Array.from(logits.subarray(a * WIDTH, (a + 1) * WIDTH));
    const target = row.map((_, c) => (c === Math.max(t, 0) ? 1 : 0));
    if (scoreFunction === 'softmax') {
      const z = row.reduce((s, x) => s + Math.exp(x), 0);
      classification -= Math.log(Math.exp(row[Math.max(t, 0)]) / z);
      row.forEach((x, c) => (dLogits[a * WIDTH + c] = ((Math.exp(x) / z - target[c]) * weights.classification) / positives));
    } else {
      row.forEach((x, c) => {
        const p = 1 / (1 + Math.exp(-x));
        classification -= target[c] * Math.log(p) + (1 - target[c]) * Math.log(1 - p);
        dLogits[a * WIDTH + c] = ((p - target[c]) * weights.classification) / positives;
      });
    }
  });
  const negatives = KEPT.filter((k, a) => k && CLASS_TARGETS[a] === 0).length;
  return {
    localization: (localization * weights.localization) / positives,
    classification: (classification * weights.classification) / positives,
    positives: positives / IMAGES,
    negatives: negatives / IMAGES,
    dBoxes,
    dLogits,
  };
}

function expectClose(actual: ArrayLike<number>, wanted: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(wanted.length);
  for (let i = 0; i < wanted.length; i++) expect(Math.abs(actual[i] - wanted[i])).toBeLessThan(tolerance * Math.max(1, Math.abs(wanted[i])));
}

describe('ssdStepLoss', () => {
  test.each(['softmax', 'sigmoid'] as const)('%s: losses, mined negatives and gradients as written out by hand', async (scoreFunction) => {
    const ours = await run({ scoreFunction });
    const want = expected(scoreFunction);
    expectClose(ours.localization, [want.localization]);
    expectClose(ours.classification, [want.classification]);
    expect(ours.positives[0]).toBeCloseTo(1.5, 6);
    expect(ours.negatives[0]).toBeCloseTo(want.negatives, 6); // 7 mined (3 + 4) of 2 images
    expectClose(ours.dBoxes, want.dBoxes);
    expectClose(ours.dLogits, want.dLogits);
  });

  test('the weights scale their parts and gradients', async () => {
    const ours = await run({ localizationWeight: 2, classificationWeight: 0.5 });
    const want = expected('softmax', { localization: 2, classification: 0.5 });
    expectClose(ours.localization, [want.localization]);
    expectClose(ours.classification, [want.classification]);
    expectClose(ours.dBoxes, want.dBoxes);
    expectClose(ours.dLogits, want.dLogits);
  });

  test('bad options are refused by name', () => {
    expect(() => ssdStepLoss({ negativesPerPositive: -1 })).toThrow('negativesPerPositive must be a finite number ≥ 0');
    expect(() => ssdStepLoss({ scoreFunction: 'relu' as 'softmax' })).toThrow("scoreFunction must be 'softmax' or 'sigmoid'");
  });
});
