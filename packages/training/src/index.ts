export type { BestMetric, HostTensor, HostTensors, Predict, StepBatch, Task, TaskLoss, TaskModule, TaskStep, ValidateOptions, ValidationProgress, ValidationResult } from './task';
export { checkStepBatch, predictOutputs, shareSizes, sliceBatch, splitBatch, toTensors, validationBatches } from './task';
export type { BatchGradients, StepOptions, StepResult, TrainStepOptions } from './step';
export { WEIGHT_DECAY_LOSS, applyGradients, batchGradients, combineGradients, decayedWeights, trainStep, trainableVariables, weightDecayPenalty, withDropoutSeed } from './step';
export type { ClassificationTaskOptions } from './classification-task';
export { classificationTask, crossEntropy } from './classification-task';
export type { RunnerBatchMoments, RunnerContext, RunnerInference, RunnerStepOptions, StepRunner, StepRunnerFactory } from './runner';
export { localRunner, setLearningRate, stepSeed } from './runner';
export type { BatchNormStatisticsOptions } from './batch-norm-statistics';
export type { BatchMoments, LayerMoments } from './batch-norm-statistics';
export { batchNormLayers, movingStatistic, recomputeBatchNormStatistics } from './batch-norm-statistics';
export type { OptimizerSpec } from './optimizers';
export { PAPER_RMSPROP, optimizerFromSpec, optimizerSpec, paperOptimizer } from './optimizers';
export type { BatchOptions, ClassificationBatch, ClassificationData, TrainingData } from './data';
export { checkBatch } from './data';
export type { CosineDecayOptions, CosineExtension, ExponentialDecayOptions, Schedule, StepDecayOptions, WarmupOptions } from './schedules';
export { constantSchedule, cosineDecay, cosineFromPlan, exponentialDecay, extendedCosine, lengthenCosinePlan, linearWarmup, paperSchedule, stepDecay } from './schedules';
export type { ClassAccuracy, EvaluateOptions, EvaluationResult } from './metrics';
export { evaluate } from './metrics';
export type { EpochTiming, TimeBudget } from './time-budget';
export { stepsWithinMinutes } from './time-budget';
export type { EmaState } from './ema';
export { WeightEma } from './ema';
export type { LoggedBegin, LoggedEnd, LoggedEpoch, LoggedPlan, LoggedStep, MetricsLog } from './metrics-log';
export { metricsLogCallback, parseMetricsLog } from './metrics-log';
export type {
  BestEpoch,
  CheckpointOptions,
  CheckpointStore,
  EpochInfo,
  EpochSummary,
  FitCallback,
  FitOptions,
  FitResult,
  RunPlan,
  FitState,
  StepInfo,
  StopReason,
  StoredCheckpoint,
  TrainBeginInfo,
} from './fit';
export { CHECKPOINT_NAMES, TrainingDivergedError, epochSteps, fit, parseFitState } from './fit';
