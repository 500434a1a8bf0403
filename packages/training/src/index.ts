export type { BatchGradients, LossOptions, StepResult } from './step';
export { batchGradients, classificationLoss, combineGradients, decayedWeights, splitBatch, trainStep, trainStepWithMetrics, trainableVariables } from './step';
export type { BatchOptions, ClassificationBatch, TrainingData } from './data';
export { checkBatch } from './data';
export type { CosineDecayOptions, ExponentialDecayOptions, Schedule, StepDecayOptions, WarmupOptions } from './schedules';
export { constantSchedule, cosineDecay, exponentialDecay, linearWarmup, paperSchedule, stepDecay } from './schedules';
export type { ClassAccuracy, EvaluateOptions, EvaluationResult } from './metrics';
export { evaluate } from './metrics';
export type { EmaState } from './ema';
export { WeightEma } from './ema';
export type {
  CheckpointOptions,
  CheckpointStore,
  EpochInfo,
  EpochSummary,
  FitCallback,
  FitOptions,
  FitResult,
  FitState,
  StepInfo,
  StopReason,
  StoredCheckpoint,
  TrainBeginInfo,
} from './fit';
export { CHECKPOINT_NAMES, TrainingDivergedError, fit, paperOptimizer } from './fit';
