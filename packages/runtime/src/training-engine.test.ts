/** Choosing the training engine (MOBILENETS_TRAINER) and laying out its step. */
import { mobilenetV1 } from '@mobilenets/backbone';
import { setup } from './backend';
import { TRAINING_ENGINE_ENV, defaultTrainingEngine, planTrainingEngine } from './training-engine';

beforeAll(async () => {
  await setup({ backend: 'cpu', log: null });
});

describe('defaultTrainingEngine', () => {
  test('onnxruntime unless MOBILENETS_TRAINER says otherwise; ort, onnx and tfjs in any case', () => {
    expect(defaultTrainingEngine({})).toBe('onnx');
    expect(defaultTrainingEngine({ [TRAINING_ENGINE_ENV]: '' })).toBe('onnx');
    expect(defaultTrainingEngine({ [TRAINING_ENGINE_ENV]: 'ort' })).toBe('onnx');
    expect(defaultTrainingEngine({ [TRAINING_ENGINE_ENV]: 'ONNX' })).toBe('onnx');
    expect(defaultTrainingEngine({ [TRAINING_ENGINE_ENV]: 'tfjs' })).toBe('tfjs');
  });

  test('an unknown value is refused, naming the variable and the choices', () => {
    expect(() => defaultTrainingEngine({ [TRAINING_ENGINE_ENV]: 'torch' })).toThrow("MOBILENETS_TRAINER=torch: expected 'ort' (the onnxruntime engine) or 'tfjs'.");
  });
});

describe('planTrainingEngine', () => {
  let model: ReturnType<typeof mobilenetV1>;
  beforeAll(() => {
    model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3, seed: 1 });
  });
  afterAll(() => model.dispose());

  test('onnx: the whole batch as one graph on onnxruntime; accumulation is noted, not applied', () => {
    expect(planTrainingEngine({ engine: 'onnx', model, batchSize: 8, backend: 'wasm', accumulate: 1 })).toEqual({ engine: 'onnx', workers: 1, accumulate: 1, message: null, runsOn: 'onnxruntime' });
    const accumulated = planTrainingEngine({ engine: 'onnx', model, batchSize: 8, backend: 'wasm', accumulate: 2 });
    expect(accumulated.accumulate).toBe(1);
    expect(accumulated.message).toMatch(/one graph of the whole batch/);
  });

  test('onnx with several workers is refused; tfjs spreads the batch over the workers asked for', () => {
    expect(() => planTrainingEngine({ engine: 'onnx', model, batchSize: 8, backend: 'wasm', accumulate: 1, workers: 2 })).toThrow(/2 workers spread steps over tfjs worker threads/);
    expect(planTrainingEngine({ engine: 'tfjs', model, batchSize: 8, backend: 'wasm', accumulate: 1, workers: 2 })).toMatchObject({ engine: 'tfjs', workers: 2, accumulate: 1, runsOn: 'tfjs wasm × 2' });
  });

  test('the engine left out follows MOBILENETS_TRAINER', () => {
    const saved = process.env[TRAINING_ENGINE_ENV];
    try {
      process.env[TRAINING_ENGINE_ENV] = 'tfjs';
      expect(planTrainingEngine({ model, batchSize: 8, backend: 'wasm', accumulate: 1, workers: 1 }).engine).toBe('tfjs');
      delete process.env[TRAINING_ENGINE_ENV];
      expect(planTrainingEngine({ model, batchSize: 8, backend: 'wasm', accumulate: 1 }).engine).toBe('onnx');
    } finally {
      if (saved === undefined) delete process.env[TRAINING_ENGINE_ENV];
      else process.env[TRAINING_ENGINE_ENV] = saved;
    }
  });
});
