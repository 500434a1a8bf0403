/** The benchmark report's data: what report.json holds and report.md and the plot are drawn from. */
import type { DetectionLatencyResult } from '../detection-latency';

/** report.json's `kind`: a folder holding it is a previous report, which `npm run bench` may overwrite. */
export const REPORT_KIND = 'mobilenets-bench-report';

export interface Machine {
  cpu: string;
  /**
   * The processor's SIMD extensions that set onnxruntime's kernels (avx2, avx512f, avx512_vnni, …), from
   * /proc/cpuinfo; absent where that file is not readable.
   */
  vectorExtensions?: string[];
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
  tfjs: string;
  /** What availableBackends() returned. */
  tfjsBackends: string[];
  /** 1-minute load average when the run started: well above 0 means the timings were contended. */
  loadAverageAtStart: number;
}

export interface SectionTime {
  section: string;
  seconds: number;
  budgetSeconds: number;
  /** Measurements left out because the section's budget ran out (or the run was asked to stop). */
  skipped: string[];
}

/** One engine's latency for one model. */
export interface EngineLatency {
  /** 'onnxruntime fp32', 'onnxruntime int8', 'tfjs wasm', 'tfjs cpu'. */
  engine: string;
  msPerImage: number;
  /** Timed runs behind the median. */
  runs: number;
}

export interface InferenceModel {
  /** E.g. 'V1 1.0-224'. */
  model: string;
  arch: 'v1' | 'v2';
  alpha: number;
  inputSize: number;
  multAdds: number;
  params: number;
  latency: EngineLatency[];
}

export interface InferenceSection {
  /** onnxruntime intra-op threads. */
  threads: number;
  warmup: number;
  runs: number;
  /** Per engine and model, timing stops after this many ms (at least 3 runs). */
  budgetMsPerEngine: Record<string, number>;
  /** The models timed on tfjs cpu (a few: it is hundreds of times slower). */
  cpuModels: string[];
  models: InferenceModel[];
}

export interface TrainingRow {
  /** E.g. 'V1 0.25-128'. */
  model: string;
  batch: number;
  /** 'onnxruntime engine', 'tfjs wasm, in process', 'tfjs wasm, 2 workers', 'tfjs cpu'. */
  engine: string;
  warmupSteps: number;
  steps: number;
  imagesPerSecond: number;
  msPerStep: number;
}

export interface TrainingSection {
  rows: TrainingRow[];
}

export interface BenchReport {
  kind: typeof REPORT_KIND;
  /** ISO date and time the run started. */
  date: string;
  /** A --quick smoke run: few models, few runs; not for quoting. */
  quick: boolean;
  machine: Machine;
  sections: SectionTime[];
  inference: InferenceSection;
  training: TrainingSection;
  detection: DetectionLatencyResult;
}
