/**
 * Progress of `mobilenet bench train` on stderr, one phase at a time (starting workers, warm-up, timed
 * steps, the profiled step): on a terminal one line per phase, updated after every step; elsewhere (a
 * pipe, a CI log) the same lines, the in-between ones at most every `intervalMs`.
 */
import type { TrainBenchProgress } from '@mobilenets/runtime';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const PHASES: Record<TrainBenchProgress['phase'], string> = {
  workers: 'starting workers',
  'warm-up': 'warm-up',
  timed: 'timed steps',
  profile: 'profiling one step',
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function benchProgress(label: string, stream: ProgressStream = process.stderr, options: { intervalMs?: number; now?: () => number } = {}): (p: TrainBenchProgress) => void {
  const tty = stream.isTTY === true;
  const intervalMs = options.intervalMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  let lastLine = -Infinity;
  // On a terminal a phase's line is rewritten in place until its last version ends it.
  const line = (text: string, final: boolean) => {
    stream.write(tty ? `\r\x1b[K${label}: ${text}${final ? '\n' : ''}` : `${label}: ${text}\n`);
    lastLine = now();
  };
  return (p) => {
    if (p.total === 0) return;
    const name = PHASES[p.phase];
    if (p.phase === 'workers' || p.phase === 'profile') {
      if (p.done === 0) line(`${name}…`, false);
      else line(`${name}: done in ${seconds(p.elapsedMs)}`, true);
      return;
    }
    if (p.done === 0) line(`${name}, ${p.total} step${p.total === 1 ? '' : 's'}…`, false);
    else if (p.done === p.total) line(`${name}: ${p.total} step${p.total === 1 ? '' : 's'} in ${seconds(p.elapsedMs)} (${seconds(p.elapsedMs / p.total)}/step)`, true);
    else if (tty || now() - lastLine >= intervalMs) line(`${name}: step ${p.done}/${p.total}, ${seconds(p.elapsedMs)}`, false);
  };
}
