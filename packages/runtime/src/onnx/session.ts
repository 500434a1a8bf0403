/**
 * onnxruntime-node sessions for exported models: file checks, threads, named inputs checked against the
 * model's declared types and shapes, typed named outputs back; runImages for one image input.
 */
import * as fs from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { type ImagePreprocessing, PREPROCESSING_METADATA_KEY, checkPreprocessing } from './preprocessing';

export interface SessionOptions {
  /** Intra-op threads; default 2 (these machines' cores). */
  threads?: number;
}

/** A graph input or output as the model declares it: dims are sizes, or names ('batch') for sizes given at run time. */
export interface OnnxValueInfo {
  name: string;
  /** onnxruntime's element type name: 'float32', 'int32', 'int64', … */
  type: string;
  dims: readonly (number | string)[];
}

/** The typed array onnxruntime takes for each element type OnnxModel feeds. */
interface InputArrays {
  float32: Float32Array;
  int32: Int32Array;
  int64: BigInt64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** One input value: row-major data and its dims (batch included). */
export interface OnnxInput {
  data: InputArrays[keyof InputArrays];
  dims: readonly number[];
}

/** Inputs by name: `{ data, dims }` records or onnxruntime tensors. */
export type OnnxFeeds = Record<string, OnnxInput | ort.Tensor>;

/**
 * One output, typed by its element type: float32 → Float32Array, int32 → Int32Array, int64 →
 * BigInt64Array (exact; `int64ToNumbers` converts it to numbers when they fit), int8 → Int8Array,
 * uint8 and bool → Uint8Array.
 */
export type OnnxOutput = { [T in keyof InputArrays]: { type: T; data: InputArrays[T]; dims: number[] } }[keyof InputArrays];

export type OnnxOutputs = Record<string, OnnxOutput>;

const ARRAY_OF: { [T in keyof InputArrays]: new (length: number) => InputArrays[T] } = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

const isSupportedType = (type: string): type is keyof InputArrays => Object.prototype.hasOwnProperty.call(ARRAY_OF, type);

export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
    /** The graph's inputs, in order. */
    readonly inputs: readonly OnnxValueInfo[],
    /** The graph's outputs, in order. */
    readonly outputs: readonly OnnxValueInfo[],
    /** The model's metadata_props: model_name, labels, preprocessing and whatever the exporter's caller added. */
    readonly metadata: Readonly<Record<string, string>>,
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
    const describe = (values: readonly ort.InferenceSession.ValueMetadata[]): OnnxValueInfo[] =>
      values.map((v) => (v.isTensor ? { name: v.name, type: v.type, dims: [...v.shape] } : { name: v.name, type: 'non-tensor', dims: [] }));
    return new OnnxModel(session, file, describe(session.inputMetadata), describe(session.outputMetadata), readMetadata(bytes));
  }

  get inputNames(): string[] {
    return this.inputs.map((i) => i.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((o) => o.name);
  }

  get labels(): string[] | undefined {
    if (this.metadata.labels === undefined) return undefined;
    const labels = parseJson(this.metadata.labels, `${this.file}: metadata 'labels'`);
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new TypeError(`${this.file}: metadata 'labels' must be a JSON array of strings; received ${this.metadata.labels.slice(0, 80)}.`);
    return labels;
  }

  /** The image preprocessing stored in the metadata (written by exportOnnx's `preprocessing` option), if any. */
  get preprocessing(): ImagePreprocessing | undefined {
    const stored = this.metadata[PREPROCESSING_METADATA_KEY];
    return stored === undefined ? undefined : checkPreprocessing(parseJson(stored, `${this.file}: metadata '${PREPROCESSING_METADATA_KEY}'`), `${this.file}: metadata`);
  }

  /**
   * Runs the model on named inputs. Every input of the model must be given, with the typed array of
   * its element type and dims that fit its declared shape; outputs come back by name, typed (see OnnxOutput).
   */
  async run(feeds: OnnxFeeds): Promise<OnnxOutputs> {
    if (typeof feeds !== 'object' || feeds === null || ArrayBuffer.isView(feeds) || Array.isArray(feeds)) {
      throw new TypeError(
        `${this.file}: run() takes the inputs by name, e.g. run({ ${this.inputNames.map((n) => `'${n}': { data, dims }`).join(', ')} }); ` +
          `received ${ArrayBuffer.isView(feeds) ? `a ${(feeds as object).constructor.name} of ${(feeds as unknown as ArrayLike<number>).length} values` : Array.isArray(feeds) ? 'an array' : String(feeds)}.`,
      );
    }
    const given = Object.keys(feeds);
    const expected = this.inputNames;
    const unknown = given.filter((n) => !expected.includes(n));
    const missing = expected.filter((n) => !given.includes(n));
    if (unknown.length > 0 || missing.length > 0) {
      throw new RangeError(
        `${this.file}: the model's inputs are ${expected.map((n) => `'${n}'`).join(', ')}; received ${given.length === 0 ? 'none' : given.map((n) => `'${n}'`).join(', ')}` +
          `${missing.length > 0 ? ` (missing ${missing.map((n) => `'${n}'`).join(', ')})` : ''}. Pass one { data, dims } per input name.`,
      );
    }
    const tensors: Record<string, ort.Tensor> = {};
    for (const info of this.inputs) tensors[info.name] = this.toTensor(info, feeds[info.name]);
    const results = await this.session.run(tensors);
    const outputs: OnnxOutputs = {};
    for (const [name, value] of Object.entries(results)) {
      const type = value.type;
      if (!isSupportedType(type)) throw new TypeError(`${this.file}: output '${name}' has element type ${type}; OnnxModel returns ${Object.keys(ARRAY_OF).join(', ')} outputs.`);
      outputs[name] = { type, data: value.data, dims: value.dims.map(Number) } as OnnxOutput;
    }
    return outputs;
  }

  /**
   * Runs decoded images — RGB bytes, height × width × 3, at the model's input size (e.g. from sharp's
   * `.resize(size, size).removeAlpha().raw()`) — as one batch through the model's image input (its only
   * input, which must be 4-D NHWC), applying x · scale + offset from `preprocessing`, by default the one
   * stored in the model's metadata.
   */
  async runImages(images: readonly Uint8Array[], preprocessing: ImagePreprocessing | undefined = this.preprocessing): Promise<OnnxOutputs> {
    if (this.inputs.length !== 1) throw new RangeError(`${this.file}: runImages feeds a model with one image input; this one has ${this.inputs.length} (${this.inputNames.join(', ')}). Use run({ name: { data, dims } }).`);
    const [input] = this.inputs;
    const [, height, width, channels] = input.dims;
    if (input.dims.length !== 4 || typeof height !== 'number' || typeof width !== 'number' || channels !== 3 || input.type !== 'float32') {
      throw new RangeError(`${this.file}: runImages needs a float32 input [batch, height, width, 3] of fixed size; input '${input.name}' is ${input.type} [${input.dims.join(', ')}]. Use run() instead.`);
    }
    if (preprocessing === undefined) {
      throw new RangeError(`${this.file} has no image preprocessing in its metadata. Export it with exportOnnx(model, file, { preprocessing: MOBILENET_PREPROCESSING }) (or the model's own), or pass the preprocessing to runImages.`);
    }
    const { scale, offset } = checkPreprocessing(preprocessing, `${this.file}: runImages`);
    const size = height * width * channels;
    const batch = new Float32Array(images.length * size);
    images.forEach((image, n) => {
      if (image.length !== size) throw new RangeError(`${this.file}: image ${n} has ${image.length} bytes; expected ${height}×${width}×${channels} = ${size} (RGB, resized to the model's input size).`);
      for (let i = 0; i < size; i++) batch[n * size + i] = image[i] * scale + offset;
    });
    return this.run({ [input.name]: { data: batch, dims: [images.length, height, width, channels] } });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private toTensor(info: OnnxValueInfo, value: OnnxInput | ort.Tensor): ort.Tensor {
    const where = `${this.file}: input '${info.name}'`;
    const declared = `${info.type} [${info.dims.join(', ')}]`;
    if (value === null || typeof value !== 'object' || !('data' in value) || !('dims' in value)) {
      throw new TypeError(`${where} must be { data, dims } or an onnxruntime Tensor; received ${value === null ? 'null' : typeof value}. The model declares ${declared}.`);
    }
    const dims = Array.from(value.dims, Number);
    const fits = dims.length === info.dims.length && dims.every((d, i) => Number.isInteger(d) && d >= 0 && (typeof info.dims[i] !== 'number' || d === info.dims[i]));
    if (!fits) throw new RangeError(`${where} must have shape [${info.dims.join(', ')}] (names are free sizes); received shape [${dims.join(', ')}].`);
    if (value instanceof ort.Tensor) {
      if (value.type !== info.type) throw new TypeError(`${where} is ${declared}; received an onnxruntime ${value.type} tensor.`);
      return value;
    }
    if (!isSupportedType(info.type)) throw new TypeError(`${where} is ${declared}; OnnxModel feeds ${Object.keys(ARRAY_OF).join(', ')} inputs (pass an onnxruntime Tensor for others).`);
    const Expected = ARRAY_OF[info.type];
    if (Object.prototype.toString.call(value.data) !== `[object ${Expected.name}]`) { // not instanceof: arrays may come from another realm
      throw new TypeError(`${where} is ${declared}; its data must be a ${Expected.name}, received ${(value.data as object | null)?.constructor?.name ?? typeof value.data}.`);
    }
    const count = dims.reduce((a, b) => a * b, 1);
    if (value.data.length !== count) throw new RangeError(`${where}: shape [${dims.join(', ')}] holds ${count} values; received ${value.data.length}.`);
    return new ort.Tensor(info.type, value.data, dims);
  }
}

export function createSession(file: string, options: SessionOptions = {}): Promise<OnnxModel> {
  return OnnxModel.load(file, options);
}

/** An int64 output as numbers; a RangeError if a value is beyond ±2^53 (where numbers lose whole values). */
export function int64ToNumbers(data: BigInt64Array): number[] {
  return Array.from(data, (v, i) => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`int64ToNumbers: value ${i} is ${v}, beyond ±2^53; keep the BigInt64Array.`);
    return Number(v);
  });
}

/** The float32 data of output `name`; a RangeError if there is no such output, a TypeError if it is not float32. */
export function float32Output(outputs: OnnxOutputs, name: string): Float32Array {
  const output = outputs[name];
  if (output === undefined) throw new RangeError(`no output '${name}'; the outputs are ${Object.keys(outputs).map((n) => `'${n}'`).join(', ')}.`);
  if (output.type !== 'float32') throw new TypeError(`output '${name}' is ${output.type}; expected float32.`);
  return output.data;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Error(`${what} is not valid JSON: ${text.slice(0, 80)}`, { cause });
  }
}

/** metadata_props, read with onnx-proto from the bytes onnxruntime loaded. */
function readMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
