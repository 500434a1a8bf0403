/**
 * A single-shot detector's network on onnxruntime: NHWC image batches in, the two raw head outputs out
 * (box encodings [batch, anchors, 4] and class logits [batch, anchors, classes + 1]), for a task
 * package's own pre- and post-processing (anchors, box decoding, NMS) to wrap. Runtime knows nothing of
 * the task: the output names are parameters, defaulting to the names the SSD builder gives its outputs.
 */
import { type OnnxModel, type OnnxValueInfo, type SessionOptions, createSession } from './session';

export interface OnnxDetectionNetworkOptions extends SessionOptions {
  /** The graph output holding the box encodings [batch, anchors, 4]. Default 'BoxEncodings'. */
  boxEncodingsOutput?: string;
  /** The graph output holding the class logits [batch, anchors, classes + 1]. Default 'ClassLogits'. */
  classLogitsOutput?: string;
}

/** What one run returns: row-major Float32Arrays, [batch, anchors, 4] and [batch, anchors, classes + 1]. */
export interface DetectionNetworkOutputs {
  boxEncodings: Float32Array;
  classLogits: Float32Array;
}

/** A detector's network (the model without its post-processing) behind an onnxruntime session. */
export interface OnnxDetectionNetwork {
  /** The side of the square input image, in pixels. */
  readonly inputSize: number;
  /**
   * Runs `batch` images given as one Float32Array [batch, inputSize, inputSize, 3], NHWC, already
   * preprocessed the way the exported model takes them (the MobileNets here: RGB scaled to [-1, 1]).
   */
  run(images: Float32Array, batch: number): Promise<DetectionNetworkOutputs>;
  /** Releases the session (at once; the promise only reports completion). Runs afterwards are errors. */
  dispose(): Promise<void>;
}

const describe = (v: OnnxValueInfo) => `'${v.name}' ${v.type} [${v.dims.join(', ')}]`;

/**
 * Loads the ONNX detector in `file` (e.g. one `exportOnnx` wrote from an SSD model) and checks its
 * interface: one float32 input [batch, size, size, 3] of fixed size, and float32 outputs
 * [batch, anchors, 4] and [batch, anchors, classes + 1] under the configured names.
 */
export async function onnxDetectionNetwork(file: string, options: OnnxDetectionNetworkOptions = {}): Promise<OnnxDetectionNetwork> {
  const { boxEncodingsOutput = 'BoxEncodings', classLogitsOutput = 'ClassLogits', ...sessionOptions } = options;
  for (const [option, value] of [['boxEncodingsOutput', boxEncodingsOutput], ['classLogitsOutput', classLogitsOutput]] as const) {
    if (typeof value !== 'string' || value === '') throw new TypeError(`onnxDetectionNetwork: options.${option} must be a non-empty output name; received ${JSON.stringify(value)}.`);
  }
  const model = await createSession(file, sessionOptions);
  try {
    return new DetectionNetwork(model, checkInterface(model, boxEncodingsOutput, classLogitsOutput));
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

interface Interface {
  input: string;
  inputSize: number;
  boxes: string;
  logits: string;
  /** Anchors and logits per anchor when the file fixes them; null when given at run time only. */
  anchors: number | null;
  logitWidth: number | null;
}

function checkInterface(model: OnnxModel, boxes: string, logits: string): Interface {
  const file = model.file;
  if (model.inputs.length !== 1) throw new RangeError(`${file}: a detection network has one image input; this model has ${model.inputs.length}: ${model.inputs.map(describe).join(', ')}.`);
  const [input] = model.inputs;
  const [, height, width, channels] = input.dims;
  if (input.type !== 'float32' || input.dims.length !== 4 || typeof height !== 'number' || height !== width || channels !== 3) {
    throw new RangeError(`${file}: the image input must be float32 [batch, size, size, 3] (NHWC, square, of fixed size); input ${describe(input)} is not.`);
  }
  const output = (name: string, option: string, width: (dims: OnnxValueInfo['dims']) => boolean, expected: string) => {
    const info = model.outputs.find((o) => o.name === name);
    if (info === undefined) {
      throw new RangeError(`${file}: no output '${name}' (the outputs are ${model.outputs.map(describe).join(', ')}). Pass options.${option} to name the output holding ${expected}.`);
    }
    if (info.type !== 'float32' || info.dims.length !== 3 || !width(info.dims)) throw new RangeError(`${file}: output ${describe(info)} must be float32 ${expected}.`);
    return info;
  };
  const boxInfo = output(boxes, 'boxEncodingsOutput', (d) => d[2] === 4, '[batch, anchors, 4] (box encodings)');
  const logitInfo = output(logits, 'classLogitsOutput', (d) => typeof d[2] !== 'number' || d[2] >= 2, '[batch, anchors, classes + 1] (class logits, background included)');
  const anchors = [boxInfo.dims[1], logitInfo.dims[1]];
  if (typeof anchors[0] === 'number' && typeof anchors[1] === 'number' && anchors[0] !== anchors[1]) {
    throw new RangeError(`${file}: output '${boxes}' has ${anchors[0]} anchors and '${logits}' has ${anchors[1]}; both must give one row per anchor.`);
  }
  return {
    input: input.name,
    inputSize: height,
    boxes,
    logits,
    anchors: typeof anchors[0] === 'number' ? anchors[0] : typeof anchors[1] === 'number' ? anchors[1] : null,
    logitWidth: typeof logitInfo.dims[2] === 'number' ? logitInfo.dims[2] : null,
  };
}

class DetectionNetwork implements OnnxDetectionNetwork {
  private disposed = false;

  constructor(
    private readonly model: OnnxModel,
    private readonly io: Interface,
  ) {}

  get inputSize(): number {
    return this.io.inputSize;
  }

  async run(images: Float32Array, batch: number): Promise<DetectionNetworkOutputs> {
    const { file } = this.model;
    const size = this.io.inputSize;
    if (this.disposed) throw new Error(`${file}: run() after dispose(); load the network again with onnxDetectionNetwork().`);
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${file}: batch must be a positive integer; received ${batch}.`);
    if (Object.prototype.toString.call(images) !== '[object Float32Array]') { // not instanceof: arrays may come from another realm
      throw new TypeError(`${file}: images must be a Float32Array [batch, ${size}, ${size}, 3] (NHWC, preprocessed); received ${(images as object | null)?.constructor?.name ?? typeof images}.`);
    }
    const perImage = size * size * 3;
    if (images.length !== batch * perImage) {
      throw new RangeError(`${file}: ${batch} image(s) of ${size}×${size}×3 are ${batch * perImage} values; received ${images.length}${images.length % perImage === 0 ? ` (${images.length / perImage} images)` : ''}.`);
    }
    const outputs = await this.model.run({ [this.io.input]: { data: images, dims: [batch, size, size, 3] } });
    const anchors = this.io.anchors ?? outputs[this.io.boxes].dims[1];
    const take = (name: string, width: number | null) => {
      const out = outputs[name];
      const [b, n, w] = out.dims;
      if (out.type !== 'float32' || out.dims.length !== 3 || b !== batch || n !== anchors || (width !== null && w !== width)) {
        throw new RangeError(`${file}: output '${name}' came back ${out.type} [${out.dims.join(', ')}]; expected float32 [${batch}, ${anchors}, ${width ?? 'classes + 1'}].`);
      }
      return out.data as Float32Array;
    };
    return { boxEncodings: take(this.io.boxes, 4), classLogits: take(this.io.logits, this.io.logitWidth) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.model.dispose();
  }
}
