/**
 * Both stages of a Faster R-CNN on tfjs for a batch of images: first stage → proposals (box-math, on the
 * host) → crop-and-resize of the proposals from the features → second stage → per-image raw outputs.
 * Post-processing (postprocess.ts) turns them into detections.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { cropProposals } from './roi-crop';
import { rpnProposals, type ProposalOptions } from './targets';

/** The second stage's raw outputs for one image's proposals. */
export interface FasterRcnnImageOutputs {
  /** [proposals, 4] normalised xyxy of the network input. */
  proposalsXyxy: Float64Array;
  /** [proposals, classes + 1]. */
  classLogits: Float32Array;
  /** [proposals, classes, 4], TF order. */
  boxCodes: Float32Array;
}

export interface FasterRcnnStages {
  firstStage: tfl.LayersModel;
  secondStage: tfl.LayersModel;
}

/**
 * Proposals the second stage takes at once in inference. Measured (V2 α 0.5, 320 px, 8 images × 300
 * proposals on one wasm thread): 64 a chunk 3.3 s, 256 5.2 s, all 2,400 at once 9.4 s (its crops alone
 * are 0.5 GB) — and through LayersModel.predict's own 32-row batching, 124 s.
 */
export const SECOND_STAGE_CHUNK = 64;

/** The second stage on the crops of `proposalsXyxy`, `chunk` proposals at a time: its two outputs as host arrays, rows in proposal order. */
function secondStageInChunks(secondStage: tfl.LayersModel, features: tf.Tensor4D, proposalsXyxy: Float64Array, boxIndex: readonly number[], cropSize: number, chunk: number): { classLogits: Float32Array; boxEncodings: Float32Array } {
  const parts: Float32Array[][] = [];
  for (let start = 0; start < boxIndex.length; start += chunk) {
    const end = Math.min(boxIndex.length, start + chunk);
    parts.push(tf.tidy(() => {
      const crops = cropProposals(features, proposalsXyxy.subarray(4 * start, 4 * end), boxIndex.slice(start, end), cropSize);
      // One call for the whole chunk: predict's default batching slices the crops 32 rows at a time, which is slow on wasm.
      return (secondStage.predict(crops, { batchSize: end - start }) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
    }));
  }
  const joined = (k: number) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p[k].length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p[k], offset);
      offset += p[k].length;
    }
    return out;
  };
  return { classLogits: joined(0), boxEncodings: joined(1) };
}

/** Runs both stages (inference mode) on images [B, H, W, 3]; `anchorsCxcywh` normalised, in the first stage's order. */
export function runFasterRcnn(stages: FasterRcnnStages, anchorsCxcywh: ArrayLike<number>, images: Float32Array, shape: readonly [number, number, number, number], options: ProposalOptions & { cropSize: number; chunk?: number }): FasterRcnnImageOutputs[] {
  const batch = shape[0];
  const anchors = anchorsCxcywh.length / 4;
  const [codes, logits, features] = tf.tidy(() => stages.firstStage.predict(tf.tensor4d(images, [...shape])) as tf.Tensor[]);
  try {
    const boxCodes = codes.dataSync();
    const objectness = logits.dataSync();
    const proposals = Array.from({ length: batch }, (_, i) =>
      rpnProposals(boxCodes.subarray(i * anchors * 4, (i + 1) * anchors * 4), objectness.subarray(i * anchors * 2, (i + 1) * anchors * 2), anchorsCxcywh, options).boxesXyxy);
    const boxIndex = proposals.flatMap((p, i) => Array<number>(p.length / 4).fill(i));
    if (boxIndex.length === 0) return proposals.map((p) => ({ proposalsXyxy: p, classLogits: new Float32Array(0), boxCodes: new Float32Array(0) }));
    const all = new Float64Array(boxIndex.length * 4);
    let offset = 0;
    for (const p of proposals) {
      all.set(p, offset);
      offset += p.length;
    }
    const { classLogits, boxEncodings } = secondStageInChunks(stages.secondStage, features as tf.Tensor4D, all, boxIndex, options.cropSize, options.chunk ?? SECOND_STAGE_CHUNK);
    const width = classLogits.length / boxIndex.length;
    const codesPer = boxEncodings.length / boxIndex.length;
    let start = 0;
    return proposals.map((p) => {
      const n = p.length / 4;
      const out = { proposalsXyxy: p, classLogits: classLogits.slice(start * width, (start + n) * width), boxCodes: boxEncodings.slice(start * codesPer, (start + n) * codesPer) };
      start += n;
      return out;
    });
  } finally {
    tf.dispose([codes, logits, features]);
  }
}
