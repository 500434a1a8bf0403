import type { TrainBenchProgress } from '@mobilenets/runtime';
import { benchProgress } from './bench-progress';

function capture(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (t: string) => writes.push(t) } };
}

const phase = (p: TrainBenchProgress['phase'], total: number, msPerStep: number): TrainBenchProgress[] =>
  Array.from({ length: total + 1 }, (_, done) => ({ phase: p, done, total, elapsedMs: done * msPerStep }));

describe('benchProgress', () => {
  it('off a terminal: a line as each phase starts and ends, and in between at most every interval', () => {
    const { writes, stream } = capture(false);
    let clock = 0;
    const report = benchProgress('training (in process)', stream, { intervalMs: 10_000, now: () => clock });
    for (const p of phase('warm-up', 2, 4000)) {
      report(p);
      clock += 4000;
    }
    for (const p of phase('timed', 5, 4000)) {
      report(p);
      clock += 4000;
    }
    expect(writes).toEqual([
      'training (in process): warm-up, 2 steps…\n',
      'training (in process): warm-up: 2 steps in 8.0 s (4.0 s/step)\n',
      'training (in process): timed steps, 5 steps…\n',
      // 4 s and 8 s after the last line: quiet; 12 s: a line; then 4 s and 8 s again: quiet until the end.
      'training (in process): timed steps: step 3/5, 12.0 s\n',
      'training (in process): timed steps: 5 steps in 20.0 s (4.0 s/step)\n',
    ]);
  });

  it('on a terminal: one line per phase, rewritten after every step and ended with its total', () => {
    const { writes, stream } = capture(true);
    const report = benchProgress('cpu backend, batch 2', stream);
    phase('timed', 2, 1500).forEach(report);
    expect(writes).toEqual([
      '\r\x1b[Kcpu backend, batch 2: timed steps, 2 steps…',
      '\r\x1b[Kcpu backend, batch 2: timed steps: step 1/2, 1.5 s',
      '\r\x1b[Kcpu backend, batch 2: timed steps: 2 steps in 3.0 s (1.5 s/step)\n',
    ]);
  });

  it('reports starting workers and the profiled step, and skips empty phases', () => {
    const { writes, stream } = capture(false);
    const report = benchProgress('training (2 workers)', stream);
    report({ phase: 'workers', done: 0, total: 2, elapsedMs: 0 });
    report({ phase: 'workers', done: 2, total: 2, elapsedMs: 7300 });
    phase('warm-up', 0, 0).forEach(report);
    report({ phase: 'profile', done: 0, total: 1, elapsedMs: 0 });
    report({ phase: 'profile', done: 1, total: 1, elapsedMs: 900 });
    expect(writes).toEqual([
      'training (2 workers): starting workers…\n',
      'training (2 workers): starting workers: done in 7.3 s\n',
      'training (2 workers): profiling one step…\n',
      'training (2 workers): profiling one step: done in 0.9 s\n',
    ]);
  });
});
