/**
 * The metrics log: one JSON object per line for every step and epoch of a run (`metrics.jsonl` in the
 * apps' run folders), and its reader. fit touches no files, so the callback takes the function that
 * appends a line; a resumed run appends too, and the reader keeps the last entry of a step logged twice
 * (the steps an interrupted run took after its last checkpoint are taken again on resume).
 */
import type { EpochInfo, FitCallback, StepInfo, TrainBeginInfo } from './fit';

export interface LoggedStep extends StepInfo {
  type: 'step';
  time: string;
}

export interface LoggedEpoch {
  type: 'epoch';
  time: string;
  epoch: number;
  step: number;
  lr: number;
  train: EpochInfo['train'];
  val: Record<string, number> | null;
}

/** The end of a fit call: how it stopped and the validation of the final weights (null without validation data). */
export interface LoggedEnd {
  type: 'end';
  time: string;
  step: number;
  epochs: number;
  stoppedBy: string;
  seconds: number;
  val: Record<string, number> | null;
}

export interface LoggedBegin extends TrainBeginInfo {
  type: 'begin';
  time: string;
}

/** FitOptions.plan set the run's length at `step`: it now ends at `totalSteps`, on `schedule` (its description). */
export interface LoggedPlan {
  type: 'plan';
  time: string;
  step: number;
  totalSteps: number;
  schedule: string;
}

/** Appends a line per training start, step, epoch, plan and end through `append` (a line includes its '\n'). */
export function metricsLogCallback(append: (line: string) => void, now: () => Date = () => new Date()): FitCallback {
  const write = (o: LoggedStep | LoggedEpoch | LoggedBegin | LoggedPlan | LoggedEnd) => append(`${JSON.stringify(o)}\n`);
  return {
    onTrainBegin: (b) => write({ type: 'begin', time: now().toISOString(), ...b }),
    onStepEnd: (s) => write({ type: 'step', time: now().toISOString(), ...s }),
    onPlan: (p) => write({ type: 'plan', time: now().toISOString(), step: p.step, totalSteps: p.totalSteps, schedule: p.schedule.describe() }),
    onEpochEnd: (e) => write({ type: 'epoch', time: now().toISOString(), epoch: e.epoch, step: e.step, lr: e.lr, train: e.train, val: e.val }),
    onTrainEnd: (r) => write({ type: 'end', time: now().toISOString(), step: r.steps, epochs: r.epochs, stoppedBy: r.stoppedBy, seconds: r.seconds, val: r.val === null ? null : { ...r.val.metrics } }),
  };
}

export interface MetricsLog {
  /** One entry per step, in step order (the last logged entry of each step). */
  steps: LoggedStep[];
  /** One entry per epoch, in epoch order (the last logged entry of each epoch). */
  epochs: LoggedEpoch[];
}

/** Reads a metrics log. Lines that are not JSON (a line cut short by a crash) are skipped. */
export function parseMetricsLog(text: string): MetricsLog {
  const steps = new Map<number, LoggedStep>();
  const epochs = new Map<number, LoggedEpoch>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: { type?: string; step?: unknown; epoch?: unknown };
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    if (o.type === 'step' && typeof o.step === 'number') steps.set(o.step, o as LoggedStep);
    if (o.type === 'epoch' && typeof o.epoch === 'number') epochs.set(o.epoch, o as LoggedEpoch);
  }
  return {
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    epochs: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
  };
}
