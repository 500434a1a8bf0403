/**
 * tools/paper/tradeoff.ts (`npm run paper:tradeoff`): its cache, its settings check and its outputs.
 * Training 16 models takes many minutes, so the runs here are finished ones the tool reads from its
 * cache (a run folder's tradeoff-result.json, as the tool writes it after each model); the training
 * path itself is the classification app's, tested in classify-train.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

function runTool(...args: string[]) {
  return spawnSync(process.execPath, ['-r', './tools/ts-register.js', 'tools/paper/tradeoff.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

const RECIPE = ['--schedule', 'cosine', '--warmup-steps', '50', '--label-smoothing', '0.1', '--batch', '32'];

describe('npm run paper:tradeoff', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-tradeoff-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A tradeoff folder whose four runs have finished, with the given top-1 per (α, size). */
  function finishedFolder(name: string, top1: Record<string, number>): string {
    const out = path.join(tmp, name);
    fs.mkdirSync(path.join(out, 'data'), { recursive: true });
    fs.writeFileSync(path.join(out, 'settings.json'), JSON.stringify({ alphas: [0.5, 0.25], sizes: [64, 32], epochs: 2, classes: 4, imagesPerClass: 20, seed: 0, recipe: RECIPE }));
    fs.writeFileSync(path.join(out, 'data.json'), JSON.stringify({ classes: 4, imagesPerClass: 20, sizePx: 64, seed: 0 }));
    for (const [key, value] of Object.entries(top1)) {
      const [alpha, size] = key.split('-').map(Number);
      const run = path.join(out, 'runs', `v1-${alpha}-${size}`);
      fs.mkdirSync(run, { recursive: true });
      fs.writeFileSync(path.join(run, 'tradeoff-result.json'), JSON.stringify({ alpha, inputSize: size, multAdds: 0, params: 0, top1: value, top5: 1, trainSeconds: 10, steps: 6 }));
    }
    return out;
  }
  const args = (out: string) => ['--out', out, '--alphas', '0.5,0.25', '--sizes', '64,32', '--epochs', '2', '--classes', '4', '--images-per-class', '20', '--json'];

  it('reads finished runs from the cache, counts each model with the profiler, and writes the CSV and both plots', () => {
    const out = finishedFolder('cached', { '0.5-64': 0.8, '0.5-32': 0.5, '0.25-64': 0.6, '0.25-32': 0.3 });
    const r = runTool(...args(out));
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.models).toHaveLength(4);
    expect(result.models.every((m: { cached: boolean }) => m.cached)).toBe(true);
    // the profiler's counts, not the cache's: V1 0.5-64 with a 4-class head
    const m = result.models.find((x: { alpha: number; inputSize: number }) => x.alpha === 0.5 && x.inputSize === 64);
    expect(m.multAdds).toBeGreaterThan(12e6);
    expect(m.multAdds).toBeLessThan(13e6);
    expect(m.params).toBeGreaterThan(0.8e6);
    // Mult-Adds order: 0.25-32 < 0.5-32 < 0.25-64 < 0.5-64, and the top-1s above are in that order
    expect(result.spearmanMultAddsTop1).toBeCloseTo(1, 6);
    expect(result.top1PerDecadeOfMultAdds).toBeGreaterThan(0);
    const csv = fs.readFileSync(path.join(out, 'tradeoff.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('alpha,input_size,mult_adds,params,top1,top5,train_seconds,steps');
    expect(csv).toHaveLength(5);
    for (const png of ['accuracy-vs-multadds.png', 'accuracy-vs-params.png']) {
      expect(fs.readFileSync(path.join(out, png)).subarray(1, 4).toString()).toBe('PNG');
    }
  });

  it('refuses to mix settings in one folder, naming what differs (exit 2)', () => {
    const out = finishedFolder('other-settings', {});
    const r = runTool(...args(out).map((a) => (a === '2' ? '3' : a)));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/other settings \(epochs: 2 there, 3 now\)/);
  });

  it('refuses a non-empty folder it did not make, and bad sizes (exit 2)', () => {
    const foreign = path.join(tmp, 'photos');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'cat.jpg'), 'x');
    const r = runTool('--out', foreign);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not empty and holds no settings.json/);
    expect(fs.readdirSync(foreign)).toEqual(['cat.jpg']);
    const bad = runTool('--out', path.join(tmp, 'new'), '--sizes', '128,100');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--sizes: each size must be a multiple of 32, at least 32. Received '100'/);
  });
});
