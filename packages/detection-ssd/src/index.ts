// @mobilenets/detection-ssd: SSD and SSDLite on a MobileNet backbone.
export type { SsdConfig, SsdHead, SsdModel } from './ssd-model';
export { EXTRA_LAYER_DEPTHS, SSD_ANCHORS_PER_LOCATION, SSD_OUTPUTS, SSD_TAPS, createSsd } from './ssd-model';
export type { Detection, ScoreFunction, SsdPostprocessOptions } from './postprocess';
export { postprocessSsd, ssdScores } from './postprocess';
export type { FaceApiDetectOptions, FaceApiDetection, RgbImage } from './face-api';
export { FACE_API_SSD, createFaceApiSsd, detectFacesFaceApiStyle, faceApiExtraLayerNames, faceApiInputTensor, loadFaceApiSsdWeights } from './face-api';
export type { SsdTargets, SsdTaskOptions, SsdValidationDetails } from './task';
export { SSD_IGNORED_TARGET, SSD_VALIDATION_METRICS, ssdLoss, ssdTargets, ssdTask } from './task';
