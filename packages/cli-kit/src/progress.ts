/**
 * Progress of a training run on stderr: a cli-progress bar with the loss, the task's first training
 * metric, images/s and the ETA when stderr is a terminal; otherwise one plain line about every 10% of
 * the run (and at least every `intervalSeconds`), so logs stay readable. Epoch summaries are one line each.
 */
import * as cliProgress from 'cli-progress';
import type { EpochInfo, FitCallback, FitResult, StepInfo, TrainBeginInfo } from '@mobilenets/training';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How a metric is shown: accuracies as percentages, the rest with 4 decimals. Apps pass their own for other kinds. */
export function formatMetric(name: string, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return /^(top\d+|accuracy|acc)$/i.test(name) ? `${(100 * value).toFixed(1)}%` : value.toFixed(4);
}

/** Running averages for display. */
class Smoothed {
  private v: number | null = null;
  constructor(private readonly weight: number) {}
  add(x: number): number {
    this.v = this.v === null ? x : this.weight * this.v + (1 - this.weight) * x;
    return this.v;
  }
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Default: whether `stream` is a terminal. */
  tty?: boolean;
  /** Plain lines at least this often. Default 10. */
  intervalSeconds?: number;
  format?: (name: string, value: number) => string;
}

export function progressCallback(options: ProgressOptions = {}): FitCallback {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = (options.intervalSeconds ?? 10) * 1000;
  const format = options.format ?? formatMetric;
  let bar: cliProgress.SingleBar | null = null;
  /** The bar is stopped between an epoch's summary line and the next step. */
  let paused = false;
  let begin: TrainBeginInfo | null = null;
  let total = 0;
  const loss = new Smoothed(0.9);
  const metrics = new Map<string, Smoothed>();
  const speed = new Smoothed(0.8);
  let startedAt = 0;
  let startStep = 0;
  let lastLine = 0;
  /** The validation under way, and the images it had done at its last report. */
  let validating: ReturnType<typeof progressLine> | null = null;
  let validatingFrom = 0;
  /** FitOptions.plan has set the total: it no longer grows epoch by epoch. */
  let planned = false;
  const eta = (step: number) => {
    const done = step - startStep;
    if (done <= 0 || total === 0) return Infinity;
    return (((Date.now() - startedAt) / 1000) * (total - step)) / done;
  };
  const metricText = (s: StepInfo) => {
    const [name] = Object.keys(s.metrics);
    if (name === undefined) return '';
    if (!metrics.has(name)) metrics.set(name, new Smoothed(0.9));
    return ` | ${name} ${format(name, metrics.get(name)!.add(s.metrics[name]))}`;
  };
  return {
    onTrainBegin(info) {
      begin = info;
      total = info.totalSteps ?? info.stepsPerEpoch * (info.epoch + 1);
      startedAt = Date.now();
      startStep = info.step;
      if (tty) {
        bar = new cliProgress.SingleBar(
          { stream, format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss}{metric} | {ips} img/s | ETA {etaText}', barsize: 24, hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, info.step, { epoch: info.epoch + 1, loss: '-', metric: '', ips: '-', etaText: '?' });
      }
    },
    onStepEnd(s: StepInfo) {
      const l = loss.add(s.loss);
      const metric = metricText(s);
      const ips = speed.add(s.imagesPerSecond);
      if (begin !== null && begin.totalSteps === null && !planned && s.step > total) total = s.step + begin.stepsPerEpoch - s.batch;
      const payload = { epoch: s.epoch + 1, loss: l.toFixed(4), metric, ips: ips.toFixed(1), etaText: formatDuration(eta(s.step)) };
      if (bar !== null) {
        if (paused) bar.start(total, s.step, payload);
        paused = false;
        bar.setTotal(total);
        bar.update(s.step, payload);
        return;
      }
      const now = Date.now();
      const every = Math.max(1, Math.round(total / 10));
      if (s.step === 1 || s.step % every === 0 || now - lastLine >= intervalMs) {
        lastLine = now;
        stream.write(`step ${s.step}/${total} epoch ${payload.epoch} loss ${payload.loss}${metric.replace(' |', '')} ${payload.ips} img/s lr ${s.lr.toPrecision(3)} ETA ${payload.etaText}\n`);
      }
    },
    onValidationProgress(v) {
      if (validating === null || v.examples <= validatingFrom) {
        if (bar !== null && !paused) bar.stop();
        paused = bar !== null;
        validating = progressLine('validating', 'images', { stream, everyMs: intervalMs });
      }
      validatingFrom = v.examples;
      validating.update(v.examples, v.total);
      if (v.examples >= v.total) {
        validating.done();
        validating = null;
      }
    },
    onPlan(info) {
      planned = true;
      total = info.totalSteps;
      stream.write(`planned: ${info.totalSteps} steps in all (${info.schedule.describe()})\n`);
    },
    onEpochEnd(e: EpochInfo) {
      const train = [`loss ${e.train.loss.toFixed(4)}`, ...Object.entries(e.train.metrics).map(([k, v]) => `${k} ${format(k, v)}`)].join(' ');
      const val = e.val === null ? '' : ` | val ${Object.entries(e.val).map(([k, v]) => `${k} ${format(k, v)}`).join(' ')}`;
      const line = `epoch ${e.epoch + 1} done at step ${e.step}: train ${train}${val}`;
      if (bar !== null && !paused) bar.stop();
      paused = bar !== null;
      stream.write(`${line}\n`);
    },
    onTrainEnd(r: FitResult) {
      if (bar !== null && !paused) {
        bar.update(r.steps);
        bar.stop();
      }
      bar = null;
    },
  };
}

/**
 * Progress for work that can take a while, as plain lines on stderr (shown with --json too): nothing
 * for the first `quietMs`, then a line at most every `everyMs`, and a last line if any was shown.
 */
export function progressLine(verb: string, unit: string, options: { stream?: NodeJS.WritableStream; quietMs?: number; everyMs?: number } = {}) {
  const { stream = process.stderr, quietMs = 2000, everyMs = 5000 } = options;
  const start = Date.now();
  let last = -Infinity;
  let latest: [number, number] | null = null;
  let shown = false;
  const seconds = () => `${((Date.now() - start) / 1000).toFixed(0)}s`;
  return {
    update: (done: number, total: number): void => {
      latest = [done, total];
      const now = Date.now();
      if (now - start < quietMs || now - last < everyMs) return;
      last = now;
      shown = true;
      stream.write(`${verb}: ${done}/${total} ${unit} (${seconds()})\n`);
    },
    done: (): void => {
      if (shown && latest !== null) stream.write(`${verb}: ${latest[0]}/${latest[1]} ${unit}, done in ${seconds()}\n`);
    },
  };
}

/** How long a run's steps waited for their batches, next to the time they trained (fit's `timing`). */
export function formatDataWait(timing: { stepSeconds: number; dataWaitSeconds: number }): string {
  return `waited ${timing.dataWaitSeconds.toFixed(1)} s for data in ${timing.stepSeconds.toFixed(0)} s of steps`;
}
