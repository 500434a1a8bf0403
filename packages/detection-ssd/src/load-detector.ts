/**
 * loadDetector: a detector from a saved model (detector.json + model.json + weights.bin, or an ONNX
 * file with an engine the caller passes) or from the face-api package's pretrained face detector.
 * Reads only the paths it is given (and the installed @vladmandic/face-api package).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ssdAnchorsCxcywh, resolveSsdAnchorConfig } from '@mobilenets/box-math';
import { DETECTOR_JSON, DETECTOR_SPEC_FORMAT, DETECTOR_SPEC_VERSION, parseDetectorSpec, type DetectorSpec } from './detector-spec';
import { SsdDetector, tfjsSsdNetwork, type SsdNetwork } from './detector';
import { FACE_API_SSD, createFaceApiSsd, loadFaceApiSsdWeights } from './face-api';
import { SSD_OUTPUTS } from './ssd-model';

/** The name loadDetector takes for face-api's SSD MobileNetV1 face detector (from the installed @vladmandic/face-api). */
export const FACE_API_DETECTOR = 'faceapi-ssd-mobilenetv1';
const FACE_API_PACKAGE = '@vladmandic/face-api';
const FACE_API_MANIFEST = 'ssd_mobilenetv1_model-weights_manifest.json';

/** Makes the network of a saved detector: `model` is its model folder or its .onnx file. */
export type SsdNetworkFactory = (model: string, spec: DetectorSpec) => Promise<SsdNetwork>;

export interface LoadDetectorOptions {
  /**
   * The engine: called with the model folder (or the .onnx file) and the parsed spec. Default for a
   * model folder: its tfjs model (model.json + weights.bin). Required for an .onnx file (e.g.
   * onnxruntime, from @mobilenets/runtime). Not used for the face-api detector.
   */
  network?: SsdNetworkFactory;
}

/** There is no detector at the path given (nothing there, or not a detector's files): the caller's mistake, not damage. */
export class DetectorSourceError extends Error {
  override name = 'DetectorSourceError';
}

/** Where a detector's files are. */
export interface DetectorFiles {
  /** detector.json. */
  spec: string;
  /** The model folder (model.json, weights.bin) or the .onnx file. */
  model: string;
  format: 'tfjs' | 'onnx';
}

const EXPECTED = `Expected a model folder (${DETECTOR_JSON}, model.json, weights.bin), the run folder holding it in model/, an .onnx file with its ${DETECTOR_JSON}, or '${FACE_API_DETECTOR}'`;

function kind(p: string): 'dir' | 'file' | 'missing' {
  try {
    return fs.statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/**
 * The files of the detector at `source`: a model folder holding detector.json; a run folder whose
 * model/ holds it; detector.json or model.json itself; or an .onnx file, whose spec is
 * `<name>.detector.json` beside it, else detector.json in its folder. Throws DetectorSourceError.
 */
export function findDetectorFiles(source: string): DetectorFiles {
  if (typeof source !== 'string' || source === '') throw new TypeError(`loadDetector: source must be a path or '${FACE_API_DETECTOR}'. Received ${String(source)}.`);
  const what = kind(source);
  if (what === 'missing') throw new DetectorSourceError(`${source}: no such file or folder. ${EXPECTED}.`);
  if (what === 'file') {
    if (source.toLowerCase().endsWith('.onnx')) {
      const beside = `${source.slice(0, -'.onnx'.length)}.${DETECTOR_JSON}`;
      const inFolder = path.join(path.dirname(source), DETECTOR_JSON);
      const spec = kind(beside) === 'file' ? beside : kind(inFolder) === 'file' ? inFolder : null;
      if (spec === null) throw new DetectorSourceError(`${source}: an ONNX model needs its spec, ${beside} or ${inFolder}; neither exists. Copy the ${DETECTOR_JSON} saved with the model there.`);
      return { spec, model: source, format: 'onnx' };
    }
    const name = path.basename(source);
    if (name === DETECTOR_JSON || name === 'model.json') return findDetectorFiles(path.dirname(source));
    throw new DetectorSourceError(`${source}: this is a file, not a model folder. ${EXPECTED}.`);
  }
  for (const dir of [source, path.join(source, 'model')]) {
    if (kind(path.join(dir, DETECTOR_JSON)) === 'file') return { spec: path.join(dir, DETECTOR_JSON), model: dir, format: 'tfjs' };
  }
  const hasModel = kind(path.join(source, 'model.json')) === 'file' || kind(path.join(source, 'model', 'model.json')) === 'file';
  throw new DetectorSourceError(
    hasModel
      ? `${source}: there is a model.json but no ${DETECTOR_JSON} (the detector's classes, anchors and preprocessing): this is not a detector saved by MobileNets.ts, or the file was lost.`
      : `${source}: no ${DETECTOR_JSON} in this folder or in ${path.join(source, 'model')}. ${EXPECTED}.`,
  );
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read ${what} ${file} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause });
  }
}

function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Error(`${file} is not valid JSON (${(cause as Error).message})`, { cause });
  }
}

function readBytes(file: string, listedIn: string): ArrayBuffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (cause) {
    throw new Error(`cannot read ${file}, listed in ${listedIn} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause });
  }
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Reads a spec file: parseDetectorSpec of its JSON, errors naming the file. */
export function readDetectorSpec(file: string): DetectorSpec {
  return parseDetectorSpec(readJson(file, 'the detector spec'), file);
}

/** The weights of a tfjs weights manifest (groups of paths relative to `dir`), decoded (dequantized) as named tensors. */
function readManifestWeights(dir: string, manifest: tf.io.WeightsManifestConfig, listedIn: string): tf.NamedTensorMap {
  const buffers = manifest.flatMap((group) => group.paths).map((p) => readBytes(path.join(dir, p), listedIn));
  return tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), manifest.flatMap((group) => group.weights));
}

/** Loads the tfjs layers model in `dir` (model.json + the weight files its manifest lists). */
async function loadTfjsModel(dir: string): Promise<tfl.LayersModel> {
  const file = path.join(dir, 'model.json');
  const json = readJson(file, 'the model') as Partial<tf.io.ModelJSON> | null;
  if (json === null || typeof json !== 'object' || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${file} is not a tfjs layers model (expected an object with modelTopology and weightsManifest)`);
  }
  const manifest = json.weightsManifest;
  const weightData = tf.io.concatenateArrayBuffers(manifest.flatMap((group) => group.paths).map((p) => readBytes(path.join(dir, p), file)));
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: manifest.flatMap((group) => group.weights), weightData, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy ?? undefined }));
  } catch (cause) {
    throw new Error(`${file}: cannot build the model (${(cause as Error).message || 'its layers or connections are damaged'})`, { cause });
  }
}

/** Checks a tfjs model's input and outputs against its spec before anything runs. */
function checkModelAgainstSpec(model: tfl.LayersModel, spec: DetectorSpec, files: DetectorFiles): void {
  const modelJson = path.join(files.model, 'model.json');
  const differ = (what: string) => new Error(`${modelJson} and ${files.spec} belong to different models: ${what}. Restore the ${DETECTOR_JSON} saved with this model.`);
  const input = model.inputs[0].shape;
  if (input[1] !== spec.inputSize || input[2] !== spec.inputSize) throw differ(`the model's input is [${input.map((d) => d ?? 'batch').join(', ')}], the spec's inputSize ${spec.inputSize}`);
  const outputs = new Map(model.outputNames.map((name, i) => [name, model.outputs[i].shape]));
  const expected: [string, number][] = [[SSD_OUTPUTS.boxEncodings, 4], [SSD_OUTPUTS.classLogits, spec.labels.length + 1]];
  for (const [name, width] of expected) {
    const shape = outputs.get(name);
    if (shape === undefined) throw differ(`the model has no output '${name}' (its outputs: ${model.outputNames.join(', ')})`);
    if (shape[1] !== spec.anchors.count || shape[2] !== width) {
      throw differ(`the model's output '${name}' is [${shape.map((d) => d ?? 'batch').join(', ')}], the spec needs [batch, ${spec.anchors.count}, ${width}] (anchors.count, ${width === 4 ? 'box codes' : 'labels + background'})`);
    }
  }
}

/** The spec of face-api's SSD MobileNetV1 face detector (its anchors are box-math's with TF's 2017 spec order). */
export function faceApiDetectorSpec(): DetectorSpec {
  return parseDetectorSpec(
    {
      format: DETECTOR_SPEC_FORMAT,
      version: DETECTOR_SPEC_VERSION,
      head: 'ssd',
      arch: 'v1',
      widthMultiplier: FACE_API_SSD.widthMultiplier,
      inputSize: FACE_API_SSD.inputSize,
      labels: ['face', null], // face-api scores logit 1 only; the third logit is unused
      scoreFunction: 'sigmoid',
      featureMapSizes: [[32, 32], [16, 16], [8, 8], [4, 4], [2, 2], [1, 1]],
      anchorsPerLocation: [...FACE_API_SSD.anchorsPerLocation],
      // Output/extra_dim of the weights, regenerated: TF's interpolated anchor right after ratio 1, and 1/3 as the config file writes it.
      anchors: { count: FACE_API_SSD.anchors, generator: resolveSsdAnchorConfig({ interpolatedAnchorPlacement: 'after-ratio-1', aspectRatios: [1, 2, 0.5, 3, 0.3333] }) },
      boxCoderScales: [FACE_API_SSD.boxCoder.yScale, FACE_API_SSD.boxCoder.xScale, FACE_API_SSD.boxCoder.heightScale, FACE_API_SSD.boxCoder.widthScale],
      nms: { iouThreshold: FACE_API_SSD.iouThreshold },
      preprocessing: { resize: 'pad-faceapi', interpolation: 'bilinear', scale: 1 / 127.5, offset: -1 },
    },
    'faceApiDetectorSpec',
  );
}

/** The regenerated anchors may differ from the stored ones by float32 rounding only. */
const FACE_API_ANCHOR_TOLERANCE = 1e-5;

async function loadFaceApiDetector(): Promise<SsdDetector> {
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve(`${FACE_API_PACKAGE}/package.json`)), 'model');
  } catch (cause) {
    throw new Error(`loadDetector('${FACE_API_DETECTOR}'): the package ${FACE_API_PACKAGE} is not installed; it ships this detector's weights (npm install ${FACE_API_PACKAGE}).`, { cause });
  }
  const manifestFile = path.join(dir, FACE_API_MANIFEST);
  const manifest = readJson(manifestFile, 'the face-api weights manifest') as tf.io.WeightsManifestConfig;
  const weights = readManifestWeights(dir, manifest, manifestFile);
  const spec = faceApiDetectorSpec();
  const ssd = createFaceApiSsd();
  try {
    const stored = loadFaceApiSsdWeights(ssd, weights);
    const regenerated = ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator);
    let difference = 0;
    for (let i = 0; i < stored.length; i++) difference = Math.max(difference, Math.abs(stored[i] - regenerated[i]));
    if (!(difference <= FACE_API_ANCHOR_TOLERANCE)) {
      throw new Error(`loadDetector('${FACE_API_DETECTOR}'): the anchors stored in ${manifestFile} ('Output/extra_dim') differ from the spec's by up to ${difference}; this ${FACE_API_PACKAGE} version ships another model.`);
    }
    return new SsdDetector({ network: tfjsSsdNetwork(ssd.model), spec });
  } catch (error) {
    ssd.model.dispose();
    throw error;
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/**
 * Loads a detector: `source` is a model folder, a run folder holding model/, an .onnx file (with
 * `options.network`), or {@link FACE_API_DETECTOR}. Errors: DetectorSourceError when there is no
 * detector at `source`; an Error naming the file when one is unreadable, malformed or belongs to
 * another model; the spec's own errors (parseDetectorSpec) name detector.json and the field.
 */
export async function loadDetector(source: string, options: LoadDetectorOptions = {}): Promise<SsdDetector> {
  if (source === FACE_API_DETECTOR) return loadFaceApiDetector();
  const files = findDetectorFiles(source);
  const spec = readDetectorSpec(files.spec);
  if (files.format === 'onnx' && options.network === undefined) {
    throw new Error(`loadDetector: ${files.model} is an ONNX model; pass options.network, an SsdNetwork factory that runs it (onnxruntime, from @mobilenets/runtime). This package runs tfjs models only.`);
  }
  let network: SsdNetwork;
  if (options.network !== undefined) {
    network = await options.network(files.model, spec);
  } else {
    const model = await loadTfjsModel(files.model);
    try {
      checkModelAgainstSpec(model, spec, files);
    } catch (error) {
      model.dispose();
      throw error;
    }
    network = tfjsSsdNetwork(model);
  }
  try {
    return new SsdDetector({ network, spec });
  } catch (error) {
    network.dispose();
    throw new Error(`${files.spec}: ${(error as Error).message}`, { cause: error });
  }
}
