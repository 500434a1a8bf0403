// @mobilenets/detection-ssd: SSD and SSDLite on a MobileNet backbone.
export type { SsdConfig, SsdHead, SsdModel } from './ssd-model';
export { EXTRA_LAYER_DEPTHS, SSD_ANCHORS_PER_LOCATION, SSD_FINE_TAPS, SSD_OUTPUTS, SSD_TAPS, createSsd } from './ssd-model';
export type { Detection, ScoreFunction, SsdPostprocessOptions } from './postprocess';
export { postprocessSsd, ssdScores } from './postprocess';
export type { FaceApiDetectOptions, FaceApiDetection, RgbImage } from './face-api';
export { FACE_API_SSD, createFaceApiSsd, detectFacesFaceApiStyle, faceApiExtraLayerNames, faceApiInputTensor, loadFaceApiSsdWeights } from './face-api';
export type { SsdTargets, SsdTaskOptions, SsdValidationDetails } from './task';
export { SSD_IGNORED_TARGET, SSD_VALIDATION_METRICS, ssdLoss, ssdTargets, ssdTask } from './task';
export type { DetectorArch, DetectorPreprocessing, DetectorResize, DetectorSpec, SsdDetectorSpecOptions } from './detector-spec';
export { DATASETS_PREPROCESSING, DETECTOR_JSON, DETECTOR_SPEC_FORMAT, DETECTOR_SPEC_VERSION, parseDetectorSpec, ssdDetectorSpec } from './detector-spec';
export type { DetectOptions, DetectedObject, DetectorImage, DetectorInput, SsdNetwork } from './detector';
export { SsdDetector, detectorInput, tfjsSsdNetwork } from './detector';
export type { DetectorFiles, LoadDetectorOptions, SsdNetworkFactory } from './load-detector';
export { DetectorSourceError, FACE_API_DETECTOR, faceApiDetectorSpec, findDetectorFiles, loadDetector, readDetectorSpec } from './load-detector';
export type { Interpolation, PixelImage } from './resample';
export { padToSquare, resizeBilinear, resizeLanczos3, rgbBytes } from './resample';
