/** fit callbacks of the app: a progress bar (or plain lines when stderr is not a terminal) and metrics.jsonl. */
import * as fs from 'node:fs';
import * as cliProgress from 'cli-progress';
import type { EpochInfo, FitCallback, FitResult, StepInfo, TrainBeginInfo } from '@mobilenets/training';
import type { CurvePoint, LearningCurve } from './charts';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
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

/**
 * A cli-progress bar on stderr with loss, accuracy, images/s and ETA when stderr is a TTY; otherwise
 * one plain line about every 10% of the run (at most every `intervalSeconds`, at least one per epoch).
 */
export function progressCallback(options: { stream?: NodeJS.WriteStream; tty?: boolean; intervalSeconds?: number } = {}): FitCallback {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = (options.intervalSeconds ?? 10) * 1000;
  let bar: cliProgress.SingleBar | null = null;
  /** The bar is stopped between an epoch's summary line and the next step. */
  let paused = false;
  let begin: TrainBeginInfo | null = null;
  let total = 0;
  const loss = new Smoothed(0.9);
  const accuracy = new Smoothed(0.9);
  const speed = new Smoothed(0.8);
  let startedAt = 0;
  let startStep = 0;
  let lastLine = 0;
  const eta = (step: number) => {
    const done = step - startStep;
    if (done <= 0 || total === 0) return Infinity;
    return (((Date.now() - startedAt) / 1000) * (total - step)) / done;
  };
  return {
    onTrainBegin(info) {
      begin = info;
      total = info.totalSteps ?? info.stepsPerEpoch * (info.epoch + 1);
      startedAt = Date.now();
      startStep = info.step;
      if (tty) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | acc {acc} | {ips} img/s | ETA {etaText}',
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, info.step, { epoch: info.epoch + 1, loss: '-', acc: '-', ips: '-', etaText: '?' });
      }
    },
    onStepEnd(s: StepInfo) {
      const l = loss.add(s.loss);
      const a = accuracy.add(s.accuracy);
      const ips = speed.add(s.imagesPerSecond);
      if (begin !== null && begin.totalSteps === null && s.step > total) total = s.step + begin.stepsPerEpoch - s.batch;
      const payload = { epoch: s.epoch + 1, loss: l.toFixed(4), acc: a.toFixed(3), ips: ips.toFixed(1), etaText: formatDuration(eta(s.step)) };
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
        stream.write(`step ${s.step}/${total} epoch ${payload.epoch} loss ${payload.loss} acc ${payload.acc} ${payload.ips} img/s lr ${s.lr.toPrecision(3)} ETA ${payload.etaText}\n`);
      }
    },
    onEpochEnd(e: EpochInfo) {
      const val = e.val === null ? '' : ` | val top-1 ${(100 * e.val.top1).toFixed(1)}% top-5 ${(100 * e.val.top5).toFixed(1)}% loss ${e.val.loss.toFixed(4)}`;
      const line = `epoch ${e.epoch + 1} done at step ${e.step}: train loss ${e.train.loss.toFixed(4)} acc ${(100 * e.train.accuracy).toFixed(1)}%${val}`;
      if (bar !== null) {
        if (!paused) bar.stop();
        paused = true;
        stream.write(`${line}\n`);
      } else {
        stream.write(`${line}\n`);
      }
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

/** Appends one JSON object per step and per epoch to `file` (metrics.jsonl). */
export function metricsLogCallback(file: string): FitCallback {
  const append = (o: object) => fs.appendFileSync(file, `${JSON.stringify(o)}\n`);
  return {
    onStepEnd: (s) => append({ type: 'step', time: new Date().toISOString(), ...s }),
    onEpochEnd: (e) => append({ type: 'epoch', time: new Date().toISOString(), epoch: e.epoch, step: e.step, lr: e.lr, train: e.train, val: e.val }),
  };
}

/** The learning curve from metrics.jsonl (all runs, resumed ones included; a step logged twice keeps its last entry). */
export function readLearningCurve(file: string): LearningCurve {
  const steps = new Map<number, { loss: number; accuracy: number }>();
  const epochs = new Map<number, { step: number; top1: number; loss: number }>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: { type?: string; step?: number; loss?: number; accuracy?: number; epoch?: number; val?: { top1: number; loss: number } | null };
    try {
      o = JSON.parse(line);
    } catch {
      continue; // a line cut short by a crash
    }
    if (o.type === 'step' && typeof o.step === 'number') steps.set(o.step, { loss: o.loss ?? NaN, accuracy: o.accuracy ?? NaN });
    if (o.type === 'epoch' && typeof o.epoch === 'number' && o.val) epochs.set(o.epoch, { step: o.step ?? 0, top1: o.val.top1, loss: o.val.loss });
  }
  const ordered = [...steps.entries()].sort((a, b) => a[0] - b[0]);
  const ep = [...epochs.values()].sort((a, b) => a.step - b.step);
  const points = (f: (x: (typeof ep)[number]) => number): CurvePoint[] => ep.map((e) => ({ step: e.step, value: f(e) }));
  return {
    loss: ordered.map(([step, v]) => ({ step, value: v.loss })),
    accuracy: ordered.map(([step, v]) => ({ step, value: v.accuracy })),
    valTop1: points((e) => e.top1),
    valLoss: points((e) => e.loss),
  };
}
