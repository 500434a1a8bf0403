/**
 * Exponential moving average of a model's trainable weights (TF's ExponentialMovingAverage with
 * num_updates): after step t, shadow ← d·shadow + (1 − d)·w with d = min(decay, (1 + t) / (10 + t)),
 * so that early shadows are not dominated by the initial weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** The JSON form kept in a checkpoint's state: shapes and float32 values in base64. */
export interface EmaState {
  decay: number;
  shapes: number[][];
  values: string;
}

export class WeightEma {
  readonly decay: number;
  private readonly model: tfl.LayersModel;
  private readonly targets: tfl.LayerVariable[];
  private readonly shadows: tf.Variable[];

  constructor(model: tfl.LayersModel, decay: number) {
    if (typeof decay !== 'number' || !(decay > 0 && decay < 1)) throw new RangeError(`WeightEma: decay must be in (0, 1), e.g. 0.999. Received ${decay}.`);
    this.model = model;
    this.decay = decay;
    this.targets = model.trainableWeights;
    this.shadows = this.targets.map((w) => tf.variable(w.read(), false));
  }

  /** Folds the current weights in, after optimizer step `step` (0-based). */
  update(step: number): void {
    const d = Math.min(this.decay, (1 + step) / (10 + step));
    tf.tidy(() => {
      this.targets.forEach((w, i) => this.shadows[i].assign(tf.add(tf.mul(this.shadows[i], d), tf.mul(w.read(), 1 - d))));
    });
  }

  /** Runs `fn` with the averaged weights in the model, then puts the trained weights back. */
  async withAveraged<T>(fn: () => Promise<T>): Promise<T> {
    const saved = this.targets.map((w) => tf.clone(w.read()));
    try {
      this.copyInto();
      return await fn();
    } finally {
      this.targets.forEach((w, i) => w.write(saved[i]));
      tf.dispose(saved);
    }
  }

  /** Overwrites the model's trainable weights with their averages. */
  copyInto(): void {
    tf.tidy(() => this.targets.forEach((w, i) => w.write(tf.clone(this.shadows[i]))));
  }

  toJSON(): EmaState {
    const parts = this.shadows.map((s) => s.dataSync() as Float32Array);
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let offset = 0;
    for (const p of parts) {
      bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), offset);
      offset += p.byteLength;
    }
    return { decay: this.decay, shapes: this.shadows.map((s) => s.shape), values: toBase64(bytes) };
  }

  /** Restores averages saved by {@link toJSON}; `where` names the source in errors. */
  restore(state: EmaState, where: string): void {
    const shapes = this.shadows.map((s) => s.shape);
    if (!Array.isArray(state?.shapes) || state.shapes.length !== shapes.length || !state.shapes.every((s, i) => tf.util.arraysEqual(s, shapes[i]))) {
      throw new RangeError(`${where}: the saved weight averages (ema.shapes) do not match the model '${this.model.name}'s ${shapes.length} trainable weights.`);
    }
    const buffer = fromBase64(state.values, where).buffer as ArrayBuffer;
    let offset = 0;
    this.shadows.forEach((s) => {
      const n = s.size;
      if (offset + 4 * n > buffer.byteLength) throw new RangeError(`${where}: ema.values holds ${buffer.byteLength} bytes, fewer than the weights need.`);
      const values = new Float32Array(buffer.slice(offset, offset + 4 * n));
      tf.tidy(() => s.assign(tf.tensor(values, s.shape)));
      offset += 4 * n;
    });
  }

  dispose(): void {
    tf.dispose(this.shadows);
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (with padding); written out so that the package stays free of Node and DOM globals. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}

export function fromBase64(text: string, where: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0) throw new TypeError(`${where}: expected a base64 string whose length is a multiple of 4.`);
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  const value = (c: string) => {
    const v = ALPHABET.indexOf(c);
    if (v < 0 && c !== '=') throw new TypeError(`${where}: '${c}' is not a base64 character.`);
    return Math.max(v, 0);
  };
  for (let i = 0, o = 0; i < text.length; i += 4) {
    const n = (value(text[i]) << 18) | (value(text[i + 1]) << 12) | (value(text[i + 2]) << 6) | value(text[i + 3]);
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
