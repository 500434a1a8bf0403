/** A whole run: the machine, then the three sections in turn, each against its budget. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { availableBackends, engineVersions, setup } from '@mobilenets/runtime';
import { measureDetectionLatency } from '../detection-latency';
import { measureInference } from './inference';
import type { RunPlan } from './plan';
import { Section } from './section';
import { measureTraining } from './training';
import { REPORT_KIND, type BenchReport, type Machine } from './types';

/** The SIMD flags of /proc/cpuinfo that matter to onnxruntime's and wasm's kernels, or undefined off Linux. */
function vectorExtensions(): string[] | undefined {
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const flags = new Set((/^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  return [...flags].filter((f) => /^(sse4_2|avx|avx2|fma|f16c|avx512(f|bw|vl|_vnni|_bf16|_fp16)|avx_vnni|amx_\w+|asimd|asimddp|sve|i8mm)$/.test(f)).sort();
}

function machine(): Machine {
  const versions = engineVersions();
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    vectorExtensions: vectorExtensions(),
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: versions.onnxruntime,
    tfjs: versions.tfjs,
    tfjsBackends: availableBackends(),
    loadAverageAtStart: os.loadavg()[0],
  };
}

/** @param stopSignal the signal that asked the run to stop, or null: checked before each measurement */
export async function measureAll(plan: RunPlan, quick: boolean, stopSignal: () => string | null): Promise<BenchReport> {
  const date = new Date().toISOString();
  const info = machine();
  await setup({ log: null });

  const inferenceClock = new Section('inference', plan.budgetMs.inference, stopSignal);
  const inference = await measureInference(plan.inference, inferenceClock);
  const sections = [inferenceClock.end()];

  const trainingClock = new Section('training', plan.budgetMs.training, stopSignal);
  const training = await measureTraining(plan.training, trainingClock);
  sections.push(trainingClock.end());

  const detectionClock = new Section('detection', plan.budgetMs.detection, stopSignal);
  await setup({ log: null });
  const detection = await measureDetectionLatency({
    detectors: plan.detection.detectors ?? undefined,
    runs: plan.detection.runs,
    warmup: plan.detection.warmup,
    budgetMs: plan.detection.budgetMs,
    onModel: (name) => detectionClock.begin(name),
  });
  sections.push(detectionClock.end());

  return { kind: REPORT_KIND, date, quick, machine: info, sections, inference, training, detection };
}
