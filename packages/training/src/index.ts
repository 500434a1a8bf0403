export type { BatchGradients, LossOptions } from './step';
export { batchGradients, classificationLoss, combineGradients, decayedWeights, splitBatch, trainStep, trainableVariables } from './step';
