/** tools/quality's detection tools, run as the README runs them, on hand-made inputs. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

describe('tools/quality: detection-curves.ts and detection-errors.ts', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-quality-tools-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (name: string, lines: (object | string)[]) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    return file;
  };
  const tool = (name: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, ['-r', './tools/ts-register.js', `tools/quality/${name}`, ...args, '--json'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const curves = (...args: string[]) => tool('detection-curves.ts', ...args) as { out: string; runs: { label: string; points: { minutes: number; mAP: number; AP50: number; clock: string }[] }[] };

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

  it('detection-errors: recall by size and score, and each detection\'s kind, on a hand-worked image', () => {
    const gt = write('gt.json', [{
      images: [{ id: 5, width: 400, height: 400, file_name: 'a.png' }],
      categories: [{ id: 1, name: 'circle' }, { id: 2, name: 'square' }],
      annotations: [
        { id: 1, image_id: 5, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 }, // A: small
        { id: 2, image_id: 5, category_id: 2, bbox: [20, 20, 100, 100], area: 10000, iscrowd: 0 }, // B: large
        { id: 3, image_id: 5, category_id: 1, bbox: [200, 200, 50, 50], area: 2500, iscrowd: 1 }, // a crowd: left out
      ],
    }]);
    const det = (category_id: number, bbox: number[], score: number) => ({ image_id: 5, category_id, bbox, score });
    const dt = write('dt.json', [[
      det(1, [0, 0, 10, 10], 0.9), // A: true positive
      det(1, [0, 0, 10, 11], 0.6), // A again: duplicate
      det(1, [20, 20, 100, 100], 0.4), // on B, a square: wrong class
      det(2, [20, 20, 100, 40], 0.3), // B's class, IoU 0.4: poor box
      det(2, [300, 40, 10, 10], 0.1), // nothing there: background
      det(2, [20, 20, 100, 100], 0.1), // B: true positive, found only at the lowest floor
    ]]);
    const r = tool('detection-errors.ts', '--gt', gt, '--dt', dt);
    expect(r.recall).toEqual([
      { size: 'all', objects: 2, atScore: { '0.05': 1, '0.3': 0.5, '0.5': 0.5 } },
      { size: 'small', objects: 1, atScore: { '0.05': 1, '0.3': 1, '0.5': 1 } },
      { size: 'medium', objects: 0, atScore: { '0.05': null, '0.3': null, '0.5': null } },
      { size: 'large', objects: 1, atScore: { '0.05': 1, '0.3': 0, '0.5': 0 } },
    ]);
    const kinds = (k: Record<string, number>) => Object.entries(k).filter(([, n]) => n > 0);
    expect(r.bands.map((b: { detections: number; kinds: Record<string, number> }) => [b.detections, kinds(b.kinds)])).toEqual([
      [2, [['true positive', 1], ['duplicate', 1]]],
      [2, [['wrong class', 1], ['poor box', 1]]],
      [2, [['true positive', 1], ['background', 1]]],
    ]);
  });
});
