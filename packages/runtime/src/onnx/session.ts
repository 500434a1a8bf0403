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
