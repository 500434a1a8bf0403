/** Section 1: latency per image of classifiers on onnxruntime fp32 and int8 and on each tfjs backend. */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1, mobilenetV2, profile } from '@mobilenets/backbone';
import { type BackendName, availableBackends, exportOnnx, measureLatency, randomCalibrationRanges, setup, timeOnnx } from '@mobilenets/runtime';
import type { Section } from './section';
import type { EngineLatency, InferenceModel, InferenceSection } from './types';

export interface ClassifierSpec {
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
}

export interface InferencePlan {
  models: ClassifierSpec[];
  /** Names (classifierName) of the models also timed on tfjs cpu. */
  cpuModels: string[];
  threads: number;
  warmup: number;
  runs: number;
  /** Per measurement, by engine ('onnxruntime fp32', 'onnxruntime int8', 'tfjs <backend>'). */
  budgetMsPerEngine: Record<string, number>;
}

/** 'V1 1.0-224', 'V2 0.35-128': the papers' names. */
export function classifierName(m: ClassifierSpec): string {
  return `${m.arch.toUpperCase()} ${Number.isInteger(m.alpha) ? m.alpha.toFixed(1) : m.alpha}-${m.inputSize}`;
}

function build(m: ClassifierSpec): tfl.LayersModel {
  const config = { widthMultiplier: m.alpha, inputSize: m.inputSize, seed: 1 };
  return m.arch === 'v1' ? mobilenetV1(config) : mobilenetV2(config);
}

/** fp32 and int8 (calibrated on random inputs) exports of the model, timed on onnxruntime. */
async function timeOnOnnxruntime(model: tfl.LayersModel, name: string, plan: InferencePlan, section: Section, dir: string): Promise<EngineLatency[]> {
  const results: EngineLatency[] = [];
  const variants: [string, () => Promise<string>][] = [
    ['onnxruntime fp32', async () => {
      const file = path.join(dir, 'fp32.onnx');
      await exportOnnx(model, file);
      return file;
    }],
    ['onnxruntime int8', async () => {
      const file = path.join(dir, 'int8.onnx');
      await exportOnnx(model, file, { int8Ranges: randomCalibrationRanges(model) });
      return file;
    }],
  ];
  for (const [engine, exportTo] of variants) {
    if (!section.begin(`${name}: ${engine}`)) continue;
    const file = await exportTo();
    const timing = await timeOnnx(file, { threads: plan.threads, warmup: plan.warmup, runs: plan.runs, budgetMs: plan.budgetMsPerEngine[engine] });
    await fs.rm(file);
    results.push({ engine, msPerImage: timing.msPerImage, runs: timing.runs });
  }
  return results;
}

async function timeOnTfjs(model: tfl.LayersModel, name: string, backends: BackendName[], plan: InferencePlan, section: Section): Promise<EngineLatency[]> {
  const results: EngineLatency[] = [];
  for (const backend of backends) {
    const engine = `tfjs ${backend}`;
    if (backend === 'cpu' && !plan.cpuModels.includes(name)) continue;
    if (!section.begin(`${name}: ${engine}`)) continue;
    await setup({ backend, log: null });
    const slow = backend === 'cpu';
    const latency = await measureLatency(model, { warmup: slow ? 1 : plan.warmup, runs: plan.runs, budgetMs: plan.budgetMsPerEngine[engine] ?? plan.budgetMsPerEngine['tfjs wasm'] });
    results.push({ engine, msPerImage: latency.msPerImage, runs: latency.runs });
  }
  return results;
}

export async function measureInference(plan: InferencePlan, section: Section): Promise<InferenceSection> {
  const backends = availableBackends();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mobilenets-bench-'));
  const models: InferenceModel[] = [];
  try {
    for (const spec of plan.models) {
      const name = classifierName(spec);
      await setup({ backend: backends[0], log: null }); // export and calibration run on the fastest backend
      const model = build(spec);
      try {
        const { multAdds, params } = profile(model);
        const latency = [...(await timeOnOnnxruntime(model, name, plan, section, dir)), ...(await timeOnTfjs(model, name, backends, plan, section))];
        if (latency.length > 0) models.push({ model: name, ...spec, multAdds, params, latency });
      } finally {
        model.dispose();
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return { threads: plan.threads, warmup: plan.warmup, runs: plan.runs, budgetMsPerEngine: plan.budgetMsPerEngine, cpuModels: plan.cpuModels, models };
}
