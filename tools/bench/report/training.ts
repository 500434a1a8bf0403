/** Section 2: training images/s on the onnxruntime engine and on each tfjs backend (in process, data-parallel workers). */
import { mobilenetV1 } from '@mobilenets/backbone';
import { type BackendName, type TrainBenchOptions, availableBackends, benchmarkTraining } from '@mobilenets/runtime';
import { classifierName } from './inference';
import type { Section } from './section';
import type { TrainingRow, TrainingSection } from './types';

export interface TrainingConfig {
  alpha: number;
  inputSize: number;
  batch: number;
  warmup: number;
  steps: number;
  /** tfjs cpu (hundreds of times slower): a small batch, one step and no warm-up; null: not on cpu. */
  cpuBatch: number | null;
}

export interface TrainingPlan {
  configs: TrainingConfig[];
  /** Data-parallel workers for the second tfjs run of each fast backend. */
  workers: number;
}

interface Run {
  engine: string;
  options: Pick<TrainBenchOptions, 'engine' | 'backend' | 'workers' | 'batch' | 'warmup' | 'steps'>;
}

/** The runs of one config: the onnxruntime engine, each fast tfjs backend in process and over workers, then cpu. */
function runs(c: TrainingConfig, backends: BackendName[], workers: number): Run[] {
  const list: Run[] = [{ engine: 'onnxruntime engine', options: { engine: 'onnx', workers: 1, batch: c.batch, warmup: c.warmup, steps: c.steps } }];
  for (const backend of backends.filter((b) => b !== 'cpu')) {
    list.push({ engine: `tfjs ${backend}, in process`, options: { engine: 'tfjs', backend, workers: 1, batch: c.batch, warmup: c.warmup, steps: c.steps } });
    list.push({ engine: `tfjs ${backend}, ${workers} workers`, options: { engine: 'tfjs', backend, workers, batch: c.batch, warmup: c.warmup, steps: c.steps } });
  }
  if (c.cpuBatch !== null && backends.includes('cpu')) list.push({ engine: 'tfjs cpu', options: { engine: 'tfjs', backend: 'cpu', workers: 1, batch: c.cpuBatch, warmup: 0, steps: 1 } });
  return list;
}

export async function measureTraining(plan: TrainingPlan, section: Section): Promise<TrainingSection> {
  const backends = availableBackends();
  const rows: TrainingRow[] = [];
  for (const c of plan.configs) {
    const model = classifierName({ arch: 'v1', alpha: c.alpha, inputSize: c.inputSize });
    const build = () => mobilenetV1({ widthMultiplier: c.alpha, inputSize: c.inputSize, classes: 10, seed: 1 });
    for (const run of runs(c, backends, plan.workers)) {
      if (!section.begin(`${model} b${run.options.batch}: ${run.engine}`)) continue;
      const r = await benchmarkTraining({ build, ...run.options, accumulate: 1, profile: false });
      rows.push({ model, batch: r.batch, engine: run.engine, warmupSteps: run.options.warmup, steps: r.steps, imagesPerSecond: r.imagesPerSecond, msPerStep: r.msPerStep });
    }
  }
  return { rows };
}
