/** onnxruntime-node sessions for exported MobileNets: file checks, threads, NHWC image batches in, named outputs back. */
import * as fs from 'node:fs/promises';
import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Intra-op threads; default 2 (these machines' cores). */
  threads?: number;
}

export interface OnnxOutputs {
  [name: string]: { data: Float32Array; dims: number[] };
}

export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
    /** The input's [batch, height, width, channels] with batch as -1. */
    readonly inputShape: number[],
    readonly metadata: Record<string, string>,
  ) {}

  static async load(file: string, options: SessionOptions = {}): Promise<OnnxModel> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (cause) {
      throw new Error(`cannot read ONNX model ${file}`, { cause });
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: options.threads ?? 2,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (cause) {
      throw new Error(`${file} is not a valid ONNX model onnxruntime can load`, { cause });
    }
    const metadata = readMetadata(bytes);
    const inputShape = inputDims(session);
    return new OnnxModel(session, file, inputShape, metadata);
  }

  get labels(): string[] | undefined {
    return this.metadata.labels === undefined ? undefined : (JSON.parse(this.metadata.labels) as string[]);
  }

  /** Runs a batch of NHWC images (already preprocessed to the model's range). */
  async run(images: Float32Array, shape: number[]): Promise<OnnxOutputs> {
    const expected = this.inputShape.slice(1);
    if (shape.length !== 4 || shape.slice(1).some((d, i) => d !== expected[i]) || images.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new RangeError(`${this.file}: input must have shape [batch, ${expected.join(', ')}]; received shape [${shape.join(', ')}] with ${images.length} values.`);
    }
    const feeds = { [this.session.inputNames[0]]: new ort.Tensor('float32', images, shape) };
    const results = await this.session.run(feeds);
    return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, { data: t.data as Float32Array, dims: t.dims.map(Number) }]));
  }

  /**
   * Runs decoded images — RGB bytes, height × width × 3, at the model's input size (e.g. from sharp's
   * `.resize(size, size).removeAlpha().raw()`) — applying the preprocessing stored in the model's
   * metadata (x · scale + offset; [-1, 1] for MobileNets), as one batch.
   */
  async runImages(images: readonly Uint8Array[]): Promise<OnnxOutputs> {
    const [, height, width, channels] = this.inputShape;
    const size = height * width * channels;
    const { scale, offset } = this.preprocessing;
    const batch = new Float32Array(images.length * size);
    images.forEach((image, n) => {
      if (image.length !== size) throw new RangeError(`${this.file}: image ${n} has ${image.length} bytes; expected ${height}×${width}×${channels} = ${size} (RGB, resized to the model's input size).`);
      for (let i = 0; i < size; i++) batch[n * size + i] = image[i] * scale + offset;
    });
    return this.run(batch, [images.length, height, width, channels]);
  }

  /** x · scale + offset maps a byte to the model's input range; from the metadata, else the MobileNet convention. */
  get preprocessing(): { scale: number; offset: number } {
    const stored = this.metadata.preprocessing === undefined ? {} : (JSON.parse(this.metadata.preprocessing) as { scale?: number; offset?: number });
    return { scale: stored.scale ?? 1 / 127.5, offset: stored.offset ?? -1 };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export function createSession(file: string, options: SessionOptions = {}): Promise<OnnxModel> {
  return OnnxModel.load(file, options);
}

function inputDims(session: ort.InferenceSession): number[] {
  const meta = (session as unknown as { inputMetadata?: { shape?: (number | string)[] }[] }).inputMetadata?.[0];
  if (meta?.shape !== undefined) return meta.shape.map((d) => (typeof d === 'number' ? d : -1));
  throw new Error('onnxruntime did not report the input shape');
}

/** metadata_props without a second protobuf parse in onnxruntime: decode the ModelProto with onnx-proto. */
function readMetadata(bytes: Uint8Array): Record<string, string> {
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
