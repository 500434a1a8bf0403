/**
 * What the detection app's training tests share: scenes of labelled rectangles drawn as images, and one
 * training step of an engine from a given state (weights and optimizer slots), to compare engines.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BatchOptions, DetectionBatch } from '@mobilenets/contracts';
import { mulberry32 } from '@mobilenets/random';
import type { StepResult, StepRunnerFactory, Task, TrainingData } from '@mobilenets/training';

export interface Rect {
  /** Normalised xyxy. */
  box: number[];
  label: number;
}

/** Scenes of 1 to `most` rectangles, 12–28 px on a `size` px image, one of three classes each. */
export function randomScenes(count: number, seed: number, options: { most?: number; size?: number } = {}): Rect[][] {
  const { most = 2, size = 64 } = options;
  const random = mulberry32(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + Math.floor(random() * most) }, () => {
      const w = (12 + random() * 16) / size;
      const h = (12 + random() * 16) / size;
      const x = random() * (1 - w);
      const y = random() * (1 - h);
      return { box: [x, y, x + w, y + h], label: Math.floor(random() * 3) };
    }));
}

/** The scenes drawn: each rectangle +1 in its class's channel, on −1 (flat) or on a sine texture. */
export function drawScenes(scenes: Rect[][], options: { size?: number; background?: 'flat' | 'textured' } = {}): DetectionBatch {
  const { size = 64, background = 'flat' } = options;
  const pixels = size * size * 3;
  const images = background === 'flat'
    ? new Float32Array(scenes.length * pixels).fill(-1)
    : Float32Array.from({ length: scenes.length * pixels }, (_, i) => -0.6 + 0.3 * Math.sin(i * 0.37));
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

/** The scenes as training data, drawn batch by batch. */
export function sceneData(scenes: Rect[][], draw: (scenes: Rect[][]) => DetectionBatch = (s) => drawScenes(s)): TrainingData<DetectionBatch> {
  return {
    size: scenes.length,
    async *batches({ batchSize, skip }: BatchOptions) {
      for (let b = skip; b * batchSize < scenes.length; b++) yield draw(scenes.slice(b * batchSize, (b + 1) * batchSize));
    },
  };
}

/** A model's weights and its optimizer's named state. */
export interface TrainingState {
  weights: Float32Array[];
  optimizer: { name: string; tensor: tf.Tensor }[];
}

/**
 * One step of `runner` on `batch` from `state` (null: the model's own weights and a fresh optimizer); the
 * step's result and the state after it. The model and optimizer are disposed.
 */
export async function stepFromState(
  model: tfl.LayersModel, optimizer: tf.Optimizer, task: Task<unknown>, runner: StepRunnerFactory,
  state: TrainingState | null, batch: unknown, { step, lr }: { step: number; lr: number },
): Promise<{ result: StepResult; after: TrainingState }> {
  if (state !== null) {
    const values = state.weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[]));
    model.setWeights(values);
    tf.dispose(values);
    if (state.optimizer.length > 0) await optimizer.setWeights(state.optimizer.map((n) => ({ name: n.name, tensor: tf.clone(n.tensor) })));
  }
  const r = await runner({ model, optimizer, task, weightDecay: 4e-5, accumulate: 1, seed: 3 });
  try {
    const result = await r.step(task.prepare(batch), { lr, step });
    await r.sync({ optimizer: true });
    const named = await optimizer.getWeights();
    return { result, after: { weights: model.weights.map((w) => w.read().dataSync().slice() as Float32Array), optimizer: named.map((n) => ({ name: n.name, tensor: tf.clone(n.tensor) })) } };
  } finally {
    await r.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** Largest |a − b| of each tensor relative to its largest |a| (at least `floor`), worst over the tensors. */
export function worstRelativeDifference(reference: Float32Array[], ours: Float32Array[], floor: number): number {
  let w = 0;
  reference.forEach((a, i) => {
    let diff = 0;
    let scale = floor;
    for (let k = 0; k < a.length; k++) {
      diff = Math.max(diff, Math.abs(a[k] - ours[i][k]));
      scale = Math.max(scale, Math.abs(a[k]));
    }
    w = Math.max(w, diff / scale);
  });
  return w;
}
