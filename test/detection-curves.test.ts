/** tools/quality/detection-curves.ts, run as the README runs it: what it reads from the two kinds of logs it charts. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

describe('tools/quality/detection-curves.ts', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-detection-curves-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (name: string, lines: (object | string)[]) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    return file;
  };
  const curves = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['-r', './tools/ts-register.js', 'tools/quality/detection-curves.ts', ...args, '--json'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { out: string; runs: { label: string; points: { minutes: number; mAP: number; AP50: number; clock: string }[] }[] };
  };

  it('charts several of our runs and torchvision\'s: one point for the last epoch and the end line that repeats it, wall or training minutes', () => {
    const ours = write('ours.jsonl', [
      { type: 'begin', time: '2026-12-01T00:00:00.000Z', step: 0 },
      { type: 'step', time: '2026-12-01T00:00:30.000Z', step: 1, loss: 9 },
      { type: 'epoch', time: '2026-12-01T00:06:00.000Z', epoch: 0, val: { mAP: 0.25, AP50: 0.5 } },
      { type: 'epoch', time: '2026-12-01T00:09:00.000Z', epoch: 1, val: null },
      { type: 'epoch', time: '2026-12-01T00:12:00.000Z', epoch: 2, val: { mAP: 0.4, AP50: 0.7 } },
      { type: 'end', time: '2026-12-01T00:12:00.001Z', val: { mAP: 0.4, AP50: 0.7 } },
      '{"type":"epoch","time":"2026-12-01T00:1', // cut short by a crash
    ]);
    const other = write('other.jsonl', [
      { type: 'begin', time: '2026-12-01T00:00:00.000Z' },
      { type: 'epoch', time: '2026-12-01T00:03:00.000Z', val: { mAP: 0.2, AP50: 0.4 } },
      { type: 'end', time: '2026-12-01T00:04:00.000Z', val: { mAP: 0.21, AP50: 0.4 } }, // not a repeat: kept
    ]);
    const torch = write('torch.jsonl', [{ minutes: 10, mAP: 0.3, AP50: 0.5 }, { minutes: 5, mAP: 0.1, AP50: 0.2 }]);
    const out = path.join(tmp, 'chart.png');
    const r = curves('--ours', ours, '--ours-label', 'SSDLite', '--ours', other, '--ours-label', 'SSD', '--torch', torch, '--out', out);
    expect(r.runs.map((run) => run.label)).toEqual(['SSDLite', 'SSD', 'torchvision SSDLite320-MobileNetV3-L']);
    expect(r.runs[0].points).toEqual([{ minutes: 6, mAP: 0.25, AP50: 0.5, clock: 'wall' }, { minutes: 12, mAP: 0.4, AP50: 0.7, clock: 'wall' }]);
    expect(r.runs[1].points.map((p) => p.mAP)).toEqual([0.2, 0.21]);
    expect(r.runs[2].points.map((p) => [p.minutes, p.clock])).toEqual([[5, 'training'], [10, 'training']]);
    expect(fs.statSync(out).size).toBeGreaterThan(1000);
  });
});
