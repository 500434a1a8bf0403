/** Building the detector a run describes, and saving / loading it (model.json + weights.bin + detector.json). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type GridAnchorConfig, type SsdAnchorConfig, ssdAnchorsCxcywh, ssdAnchorsPerLocation, ssdBoxSpecs } from '@mobilenets/box-math';
import { UsageError, buildMobileNet, describeModelLoadError, resolveModelFolder } from '@mobilenets/cli-kit';
import { DETECTOR_JSON, type DetectorSpec, SSD_FINE_TAPS, SSD_TAPS, type SsdModel, createSsd, postprocessSsd, readDetectorSpec, ssdDetectorSpec } from '@mobilenets/detection-ssd';
import { type FasterRcnnModel, type RpnHeadKind, createFasterRcnn, fasterRcnnAnchorsCxcywh, postprocessFasterRcnn, runFasterRcnn, stagesOf } from '@mobilenets/detection-faster-rcnn';
import { fileSystem } from '@mobilenets/runtime';

/**
 * The anchor layouts `train --anchors` offers: settings of box-math's SSD anchor generator, and whether
 * the detector also taps the backbone's output-stride-8 map (detection-ssd's SSD_FINE_TAPS) for them.
 * The generator's defaults: scales 0.2–0.95 over the six usual feature maps, aspect ratios 1, 2, 1/2,
 * 3, 1/3 and the interpolated square.
 * - `tf`: TF's ssd_anchor_generator as ssd_mobilenet_v1 and ssdlite_mobilenet_v2 configure it — the
 *   finest map gets only 3 anchors (a 0.1 square, 0.2 wide and tall);
 * - `torchvision`: all 6 on every map, the finest included, as torchvision's DefaultBoxGenerator lays
 *   them out for SSDLite320 (which also clips them to the image; these are not clipped);
 * - `dense`: torchvision's 6 and TF's 0.1 square on the finest map (7 there), 6 on the others;
 * - `fine`: `dense`, after a stride-8 map (40×40 at 320) with three small squares, 0.04, 0.06 and
 *   0.08 of the image — objects of 12 to 32 pixels at 320, which no stride-16 anchor reaches at IoU 0.5.
 */
export type AnchorLayout = 'tf' | 'torchvision' | 'dense' | 'fine';

export interface AnchorLayoutSpec {
  generator: SsdAnchorConfig;
  /** True when the layout's first anchors sit on the backbone's stride-8 map. */
  fineMap: boolean;
}

const DENSE_BOX_SPECS = ssdBoxSpecs({ reduceBoxesInLowestLayer: false }).map((specs, k) => (k === 0 ? [{ scale: 0.1, aspectRatio: 1 }, ...specs] : specs));
const FINE_MAP_SPECS = [0.04, 0.06, 0.08].map((scale) => ({ scale, aspectRatio: 1 }));

export const ANCHOR_LAYOUTS: Record<AnchorLayout, AnchorLayoutSpec> = {
  tf: { generator: {}, fineMap: false },
  torchvision: { generator: { reduceBoxesInLowestLayer: false }, fineMap: false },
  dense: { generator: { boxSpecs: DENSE_BOX_SPECS }, fineMap: false },
  fine: { generator: { numLayers: 7, boxSpecs: [FINE_MAP_SPECS, ...DENSE_BOX_SPECS] }, fineMap: true },
};

/** The detectors `train --model` builds. */
export type DetectorKind = 'ssd' | 'ssdlite' | 'faster-rcnn';

/** What a run's detector is: the settings that build it. */
export interface DetectorDescription {
  model: DetectorKind;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  /** Class names, label = index, no background. */
  classes: string[];
  scoreFunction: 'softmax' | 'sigmoid';
  anchors: AnchorLayout;
  /** FPN's top-down pathway over the backbone taps. */
  fpn: boolean;
  /** Faster R-CNN: the RPN head's conv ('separable' when absent). */
  rpnHead?: RpnHeadKind;
}

/** The SSD / SSDLite the description names, with fresh weights (seeded). A bad --alpha / --input-size is a usage error naming the flag. */
export function buildDetector(d: DetectorDescription, seed: number | null): SsdModel {
  if (d.model === 'faster-rcnn') throw new Error('internal: buildDetector builds SSDs; use buildFasterRcnn');
  const backbone = buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6', top: false }, { seed });
  // The extra layers' depths scale with α, as TF's SSD feature extractors (and `mobilenet summary`) do.
  const layout = ANCHOR_LAYOUTS[d.anchors];
  const anchorsPerLocation = ssdAnchorsPerLocation(layout.generator);
  const taps = layout.fineMap ? [SSD_FINE_TAPS[d.arch], ...SSD_TAPS[d.arch]] : SSD_TAPS[d.arch];
  return createSsd({ backbone, classes: d.classes.length, head: d.model as 'ssd' | 'ssdlite', taps, fpn: d.fpn, depthMultiplier: d.alpha, anchorsPerLocation, seed: seed === null ? null : seed + 1 });
}

/** The detector's anchors, normalised cxcywh in output order (box-math's SSD anchor generator in the description's layout, on the model's feature maps). */
export function anchorsOf(ssd: Pick<SsdModel, 'featureMapSizes'>, d: Pick<DetectorDescription, 'anchors'>): Float64Array {
  return ssdAnchorsCxcywh(ssd.featureMapSizes, ANCHOR_LAYOUTS[d.anchors].generator);
}

/** Writes `dir/model.json`, `dir/weights.bin` and `dir/detector.json` (detection-ssd's DetectorSpec: what loadDetector and predict read). */
export async function saveDetector(dir: string, ssd: SsdModel, d: DetectorDescription): Promise<void> {
  await ssd.model.save(fileSystem(dir));
  const spec = ssdDetectorSpec(ssd, { labels: d.classes, scoreFunction: d.scoreFunction, arch: d.arch, widthMultiplier: d.alpha, anchors: ANCHOR_LAYOUTS[d.anchors].generator });
  fs.writeFileSync(path.join(dir, DETECTOR_JSON), `${JSON.stringify(spec, null, 1)}\n`);
}

export interface SavedDetector {
  model: tfl.LayersModel;
  spec: DetectorSpec;
  /** Class names, label = index (a class the network never reports is named '(unused n)'). */
  classes: string[];
  anchorsCxcywh: Float64Array;
  modelDir: string;
  runDir: string | null;
}

/** The error for a saved folder whose files are damaged: names the option and what is wrong. */
function damagedFolder(option: string, given: string): (problem: string) => Error {
  return (problem) => new Error(`${option} ${given}: ${problem}. Train the detector again, or restore the folder from a copy.`);
}

/** A saved detector's description (read by `readSpec`) and its tfjs model; either failing is a damaged folder. */
async function readSavedFolder<Spec>(modelDir: string, readSpec: () => Spec, damaged: (problem: string) => Error): Promise<{ spec: Spec; model: tfl.LayersModel }> {
  let spec: Spec;
  try {
    spec = readSpec();
  } catch (error) {
    throw damaged((error as Error).message);
  }
  try {
    return { spec, model: await tfl.loadLayersModel(fileSystem(modelDir)) };
  } catch (error) {
    throw damaged(`cannot load the model in ${modelDir}: ${describeModelLoadError(error)}`);
  }
}

/** Loads a detector `mobilenet-detect train` saved, as a tfjs model: its model folder, or the run folder. Errors name the option and the file. */
export async function loadSavedDetector(given: string, option = '--model'): Promise<SavedDetector> {
  const { modelDir, runDir } = resolveModelFolder(given, option, { files: `model.json, weights.bin, ${DETECTOR_JSON}`, app: 'mobilenet-detect' });
  const specFile = path.join(modelDir, DETECTOR_JSON);
  if (fs.existsSync(path.join(modelDir, FASTER_RCNN_JSON))) {
    throw new UsageError(`${option} ${given}: a Faster R-CNN; this command reads SSD and SSDLite detectors only so far (eval reads a Faster R-CNN too).`);
  }
  const damaged = damagedFolder(option, given);
  if (!fs.existsSync(specFile)) throw new UsageError(`${option} ${given}: ${specFile} is missing: this is not a detector saved by 'mobilenet-detect train' (expected model.json, weights.bin and detector.json).`);
  const { spec, model } = await readSavedFolder(modelDir, () => readDetectorSpec(specFile), damaged);
  const anchorsCxcywh = ssdAnchorsCxcywh(spec.featureMapSizes, spec.anchors.generator);
  const shapes = model.outputs.map((o) => o.shape);
  const anchors = anchorsCxcywh.length / 4;
  if (shapes.length !== 2 || shapes[0][1] !== anchors || shapes[1][2] !== spec.labels.length + 1 || model.inputs[0].shape[1] !== spec.inputSize) {
    model.dispose();
    throw damaged(`${specFile} does not describe the model next to it (${anchors} anchors, ${spec.labels.length} classes + background, input ${spec.inputSize}; the model's outputs are ${JSON.stringify(shapes)}, input ${JSON.stringify(model.inputs[0].shape)})`);
  }
  const classes = spec.labels.map((l, i) => l ?? `(unused ${i})`);
  return { model, spec, classes, anchorsCxcywh, modelDir, runDir };
}

// ---- Faster R-CNN (issue 13) -------------------------------------------------------------------------

/** The file next to a saved Faster R-CNN's model.json that describes it (detector.json is SSD's). */
export const FASTER_RCNN_JSON = 'faster-rcnn.json';

/**
 * The first-stage anchors of a Faster R-CNN at `inputSize`: TF's grid anchors (scales 0.25, 0.5, 1, 2,
 * aspect ratios 0.5, 1, 2, stride 16) with the base anchor scaled from TF's 256 px at COCO's 600 px to
 * the input: 256 · inputSize / 600 (at 320: anchors of 34 to 273 px).
 */
export function fasterRcnnAnchorConfig(inputSize: number): GridAnchorConfig {
  const base = Math.round((256 * inputSize) / 600);
  return { height: base, width: base };
}

/** The Faster R-CNN the description names, with fresh weights (seeded): RPN depth 512·α, depthwise-separable unless `rpnHead` says otherwise. */
export function buildFasterRcnn(d: DetectorDescription, seed: number | null): FasterRcnnModel {
  const backbone = buildMobileNet({ arch: d.arch, alpha: d.alpha, inputSize: d.inputSize, variant: 'standard', activation: 'relu6', top: false }, { seed });
  return createFasterRcnn({
    backbone, classes: d.classes.length, rpnHead: d.rpnHead ?? 'separable', rpnDepth: Math.max(16, Math.round(512 * d.alpha)),
    anchors: fasterRcnnAnchorConfig(d.inputSize), seed: seed === null ? null : seed + 1,
  });
}

/** Writes `dir/model.json`, `dir/weights.bin` and `dir/faster-rcnn.json` (what the model is: the description, its anchors and crop size). */
export async function saveFasterRcnn(dir: string, f: FasterRcnnModel, d: DetectorDescription): Promise<void> {
  await f.model.save(fileSystem(dir));
  const spec = { kind: 'faster-rcnn', ...d, featureMapSize: f.featureMapSize, anchors: f.anchorConfig, cropSize: f.cropSize };
  fs.writeFileSync(path.join(dir, FASTER_RCNN_JSON), `${JSON.stringify(spec, null, 1)}\n`);
}

/** What faster-rcnn.json says (saveFasterRcnn writes it). */
export interface FasterRcnnSpec {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  classes: string[];
  featureMapSize: [number, number];
  anchors: Required<GridAnchorConfig>;
  cropSize: number;
}

/** Reads and checks a faster-rcnn.json; errors name the field and what was expected. */
export function readFasterRcnnSpec(file: string): FasterRcnnSpec {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${file}: not readable JSON (${(error as Error).message})`);
  }
  const fail = (field: string, expected: string) => new Error(`${file}: "${field}" must be ${expected}, found ${JSON.stringify(raw[field])}`);
  const positiveInteger = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (raw.kind !== 'faster-rcnn') throw fail('kind', '"faster-rcnn"');
  if (raw.arch !== 'v1' && raw.arch !== 'v2') throw fail('arch', '"v1" or "v2"');
  if (!(typeof raw.alpha === 'number' && raw.alpha > 0 && raw.alpha <= 1)) throw fail('alpha', 'a number in (0, 1]');
  if (!positiveInteger(raw.inputSize)) throw fail('inputSize', 'a positive integer');
  if (!(Array.isArray(raw.classes) && raw.classes.length > 0 && raw.classes.every((c) => typeof c === 'string'))) throw fail('classes', 'a non-empty list of class names');
  const fm = raw.featureMapSize;
  if (!(Array.isArray(fm) && fm.length === 2 && fm.every(positiveInteger))) throw fail('featureMapSize', '[height, width] of positive integers');
  if (!positiveInteger(raw.cropSize)) throw fail('cropSize', 'a positive integer');
  const a = raw.anchors as Record<string, unknown> | undefined;
  const numbers = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && x > 0);
  const anchorNumbers = ['height', 'width', 'heightStride', 'widthStride'].every((k) => typeof a?.[k] === 'number' && (a[k] as number) > 0) && ['heightOffset', 'widthOffset'].every((k) => typeof a?.[k] === 'number');
  if (!(a !== undefined && numbers(a.scales) && numbers(a.aspectRatios) && anchorNumbers)) throw fail('anchors', 'the grid anchor settings (scales, aspectRatios, height, width, strides and offsets)');
  return { arch: raw.arch, alpha: raw.alpha, inputSize: raw.inputSize as number, classes: raw.classes as string[], featureMapSize: fm as [number, number], anchors: a as unknown as Required<GridAnchorConfig>, cropSize: raw.cropSize as number };
}

/** A detection in pixels of its image, whichever detector found it. */
export interface FoundBox {
  boxXyxy: [number, number, number, number];
  label: number;
  score: number;
}

/** A trained detector of any kind, as `eval` runs it. */
export interface EvaluableDetector {
  /** e.g. 'SSDLITE MobileNet v2 α=0.5 320px'. */
  title: string;
  inputSize: number;
  /** Class names, label = index. */
  classes: string[];
  /** The model's own per-class NMS IoU. */
  iouThreshold: number;
  modelDir: string;
  runDir: string | null;
  /** Detections of a batch of network-ready images; `sizes` [width, height] in pixels, which the boxes are in. */
  detect(images: Float32Array, shape: [number, number, number, number], sizes: readonly [number, number][], options: { minScore: number; iouThreshold: number; maxDetections: number }): FoundBox[][];
  dispose(): void;
}

/** Faster R-CNN's per-class NMS IoU at inference (TF's second_stage_post_processing). */
const FASTER_RCNN_NMS_IOU = 0.6;

/** Loads a detector `train` saved, SSD or Faster R-CNN: its model folder or its run folder. */
export async function loadEvaluableDetector(given: string, option = '--model'): Promise<EvaluableDetector> {
  const { modelDir, runDir } = resolveModelFolder(given, option, { files: `model.json, weights.bin, ${DETECTOR_JSON} or ${FASTER_RCNN_JSON}`, app: 'mobilenet-detect' });
  const frcnnFile = path.join(modelDir, FASTER_RCNN_JSON);
  if (!fs.existsSync(frcnnFile)) {
    const ssd = await loadSavedDetector(given, option);
    const { spec } = ssd;
    const width = ssd.classes.length + 1;
    const anchors = ssd.anchorsCxcywh.length / 4;
    return {
      title: `${spec.head.toUpperCase()} MobileNet ${spec.arch} α=${spec.widthMultiplier} ${spec.inputSize}px`,
      inputSize: spec.inputSize, classes: ssd.classes, iouThreshold: spec.nms.iouThreshold, modelDir, runDir,
      detect(images, shape, sizes, o) {
        const [codes, logits] = tf.tidy(() => (ssd.model.predict(tf.tensor4d(images, shape)) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array));
        return sizes.map(([w, h], i) => postprocessSsd(codes.subarray(i * anchors * 4, (i + 1) * anchors * 4), logits.subarray(i * anchors * width, (i + 1) * anchors * width), {
          anchorsCxcywh: ssd.anchorsCxcywh, classes: ssd.classes.length, imageWidth: w, imageHeight: h, scoreFunction: spec.scoreFunction, ...o,
        }));
      },
      dispose: () => ssd.model.dispose(),
    };
  }
  const damaged = damagedFolder(option, given);
  const { spec, model } = await readSavedFolder(modelDir, () => readFasterRcnnSpec(frcnnFile), damaged);
  let stages: ReturnType<typeof stagesOf>;
  try {
    stages = stagesOf(model);
  } catch (error) {
    model.dispose();
    throw damaged((error as Error).message);
  }
  const anchorsCxcywh = fasterRcnnAnchorsCxcywh({ featureMapSize: spec.featureMapSize, inputSize: [spec.inputSize, spec.inputSize], anchorConfig: spec.anchors });
  const [, anchorRows] = stages.firstStage.outputs[0].shape as number[];
  const classWidth = (stages.secondStage.outputs[0].shape as number[])[1];
  if (anchorRows !== anchorsCxcywh.length / 4 || classWidth !== spec.classes.length + 1 || model.inputs[0].shape[1] !== spec.inputSize) {
    model.dispose();
    throw damaged(`${frcnnFile} does not describe the model next to it (${anchorsCxcywh.length / 4} anchors, ${spec.classes.length} classes + background, input ${spec.inputSize}; the model has ${anchorRows} anchors, ${classWidth} class scores, input ${JSON.stringify(model.inputs[0].shape)})`);
  }
  return {
    title: `Faster R-CNN MobileNet ${spec.arch} α=${spec.alpha} ${spec.inputSize}px`,
    inputSize: spec.inputSize, classes: spec.classes, iouThreshold: FASTER_RCNN_NMS_IOU, modelDir, runDir,
    detect(images, shape, sizes, o) {
      const outputs = runFasterRcnn(stages, anchorsCxcywh, images, shape, { cropSize: spec.cropSize });
      return sizes.map(([w, h], i) => {
        const x = outputs[i];
        if (x.classLogits.length === 0) return [];
        return postprocessFasterRcnn(x.proposalsXyxy, x.classLogits, x.boxCodes, { classes: spec.classes.length, imageWidth: w, imageHeight: h, ...o });
      });
    },
    dispose: () => model.dispose(),
  };
}
