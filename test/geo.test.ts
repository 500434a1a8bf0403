/**
 * `mobilenet-geo` end to end on a tiny generated set: generate → partition → train → eval → predict,
 * a run folder that eval reads alone and scores exactly as training's validation did, a SIGTERM that
 * stops with a checkpoint and a resume that continues the same losses, bad manifests reported by line,
 * data folders left untouched, usage errors with status 2.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hashTree } from './fixtures';
import { runCli } from './run-cli';

const geo = (...args: string[]) => runCli('mobilenet-geo', args);
const json = (r: { status: number | null; stdout: string; stderr: string }) => {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const stepLosses = (run: string) =>
  fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'step').map((l) => [l.step, l.loss]);
const SCALES = ['1', '25', '200', '750', '2500'];

describe('mobilenet-geo (end to end)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenet-geo-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const data = path.join(tmp, 'photos');
  const csv = path.join(data, 'photos.csv');
  const tiny = ['--alpha', '0.25', '--input-size', '32', '--batch', '8', '--val-fraction', '0.25', '--warmup-steps', '0', '--t-max', '12', '--t-min', '2', '--workers', '1', '--seed', '3'];
  let before: string;
  beforeAll(() => {
    const generated = json(geo('generate', '--out', data, '--images', '48', '--size', '48', '--seed', '2', '--json'));
    expect(generated).toMatchObject({ images: 48, size: 48, csv });
    before = hashTree(data);
  });

  it('partition: cells within the thresholds, every photo kept or dropped, the JSON and its map written outside the data', () => {
    const out = path.join(tmp, 'cells.json');
    const r = json(geo('partition', '--data', csv, '--t-max', '10', '--t-min', '2', '--out', out, '--json'));
    expect(r.photos).toBe(48);
    expect(r.keptPhotos + r.droppedPhotos).toBe(48);
    const saved = JSON.parse(fs.readFileSync(out, 'utf8')) as { tMax: number; tMin: number; maxLevel: number; cells: { token: string; level: number; count: number; center: number[]; mean: number[] }[] };
    expect(saved).toMatchObject({ tMax: 10, tMin: 2, maxLevel: 30 });
    expect(saved.cells).toHaveLength(r.cells);
    expect(saved.cells.reduce((n, c) => n + c.count, 0)).toBe(r.keptPhotos);
    for (const c of saved.cells) {
      expect(c.count).toBeGreaterThanOrEqual(2);
      expect(c.count).toBeLessThanOrEqual(10);
      expect(c.token).toMatch(/^[0-9a-f]+$/);
    }
    expect(r.levels.reduce((n: number, l: { cells: number }) => n + l.cells, 0)).toBe(r.cells);
    expect(fs.statSync(r.map).size).toBeGreaterThan(1000);
    const text = geo('partition', '--data', csv, '--t-max', '10', '--out', path.join(tmp, 'cells2.json'), '--no-map');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^\d+ cells \(t-max 10, t-min \d+, max level 30\) holding \d+ of 48 photos/);
    expect(text.stdout).toContain('S2 level');
    expect(fs.existsSync(path.join(tmp, 'cells2.png'))).toBe(false);
    expect(hashTree(data)).toBe(before);
  });

  it('trains, saves a model that eval scores exactly as training validated it, predicts, and leaves the data untouched', () => {
    const run = path.join(tmp, 'run');
    const trained = json(geo('train', '--data', csv, ...tiny, '--steps', '3', '--out', run, '--json'));
    expect(trained).toMatchObject({ steps: 3, stoppedBy: 'steps', arch: 'v1', alpha: 0.25, inputSize: 32, locate: 'mean', topK: 1, valImages: 12 });
    expect(Object.keys(trained.withinKm).sort()).toEqual([...SCALES].sort());
    expect(Object.keys(trained.baseline.withinKm).sort()).toEqual([...SCALES].sort());
    SCALES.forEach((km, i) => i > 0 && expect(trained.withinKm[km]).toBeGreaterThanOrEqual(trained.withinKm[SCALES[i - 1]]));
    expect(trained.medianKm).toBeGreaterThanOrEqual(0);
    for (const f of ['model.json', 'weights.bin', 'partition.json', 'geo.json']) expect(fs.existsSync(path.join(run, 'model', f))).toBe(true);
    for (const f of ['partition-map.png', 'predictions-map.png']) expect(fs.existsSync(path.join(run, f))).toBe(true);
    expect(stepLosses(run).map(([s]) => s)).toEqual([1, 2, 3]);
    const evaluated = json(geo('eval', '--model', run, '--json'));
    expect(evaluated.images).toBe(12);
    expect(evaluated.withinKm).toEqual(trained.withinKm);
    expect(evaluated.medianKm).toBeCloseTo(trained.medianKm, 6);
    expect(evaluated.baseline).toEqual(trained.baseline);
    // Every photo, named explicitly; the baseline's median is the same for every model of this partition.
    const all = json(geo('eval', '--model', path.join(run, 'model'), '--data', csv, '--locate', 'center', '--map', path.join(tmp, 'eval-map.png'), '--json'));
    expect(all).toMatchObject({ images: 48, locate: 'center', skipped: 0 });
    expect(fs.existsSync(path.join(tmp, 'eval-map.png'))).toBe(true);
    const images = fs.readdirSync(path.join(data, 'images')).slice(0, 2).map((f) => path.join(data, 'images', f));
    const predicted = geo('predict', '--model', run, ...images, csv, '--top', '3', '--json');
    expect(predicted.status).toBe(0);
    const p = JSON.parse(predicted.stdout);
    expect(p.predictions.map((x: { image: string }) => x.image)).toEqual(images);
    for (const x of p.predictions) {
      expect(x.lat).toBeGreaterThanOrEqual(-90);
      expect(x.lat).toBeLessThanOrEqual(90);
      expect(x.top).toHaveLength(3);
      expect(x.top[0].cell).toBe(x.cell);
      expect(x.top[0].probability).toBeCloseTo(x.confidence, 6);
      expect(x.top[0].probability).toBeGreaterThanOrEqual(x.top[1].probability);
    }
    expect(p.skipped).toEqual([expect.objectContaining({ image: csv })]);
    expect(hashTree(data)).toBe(before);
  });

  it('a hierarchy (--t-max 20,10): partition writes it, train fits one head per partition, eval matches validation, predict and resume work', () => {
    const cells = path.join(tmp, 'hierarchy.json');
    const written = json(geo('partition', '--data', csv, '--t-max', '20,10', '--t-min', '2', '--out', cells, '--no-map', '--json'));
    const saved = JSON.parse(fs.readFileSync(cells, 'utf8')) as { partitions: { tMax: number; tMin: number; cells: unknown[] }[] };
    expect(saved.partitions.map((p) => [p.tMax, p.tMin, p.cells.length])).toEqual(written.partitions.map((p: { tMax: number; tMin: number; cells: number }) => [p.tMax, p.tMin, p.cells]));
    expect(saved.partitions.map((p) => p.tMax)).toEqual([20, 10]);
    expect(written.cells).toBe(saved.partitions[1].cells.length);
    expect(saved.partitions[0].cells.length).toBeLessThan(saved.partitions[1].cells.length);
    const text = geo('partition', '--data', csv, '--t-max', '20,10', '--out', path.join(tmp, 'hierarchy2.json'), '--no-map');
    expect(text.stdout).toMatch(/^a hierarchy of 2 partitions of 48 photos/);
    expect(geo('partition', '--data', csv, '--t-max', '10,20', '--out', path.join(tmp, 'never.json')).stderr).toContain('must strictly decrease');

    const run = path.join(tmp, 'hierarchy-run');
    const flags = tiny.map((f) => (f === '12' ? '20,10' : f));
    const trained = json(geo('train', '--data', csv, ...flags, '--steps', '3', '--out', run, '--json'));
    expect(trained).toMatchObject({ steps: 3, stoppedBy: 'steps', valImages: 12 });
    expect(trained.cellsPerPartition).toHaveLength(2);
    expect(trained.cells).toBe(trained.cellsPerPartition[1]);
    const model = JSON.parse(fs.readFileSync(path.join(run, 'model', 'model.json'), 'utf8'));
    expect(model.modelTopology.config.output_layers.map((o: unknown[]) => o[0])).toEqual(['Predictions_p0', 'Predictions_p1']);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'model', 'geo.json'), 'utf8')).heads).toBe(2);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'model', 'partition.json'), 'utf8')).partitions).toHaveLength(2);
    const step = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').map((l) => (l ? JSON.parse(l) : {})).find((l) => l.type === 'step');
    expect(Object.keys(step.losses)).toEqual(expect.arrayContaining(['crossEntropy0', 'crossEntropy1']));
    const evaluated = json(geo('eval', '--model', run, '--json'));
    expect(evaluated.withinKm).toEqual(trained.withinKm);
    expect(evaluated.medianKm).toBeCloseTo(trained.medianKm, 6);
    expect(evaluated.top1).toBeCloseTo(trained.top1, 9);
    expect(evaluated.baseline).toEqual(trained.baseline);
    const image = path.join(data, 'images', fs.readdirSync(path.join(data, 'images'))[0]);
    const predicted = json(geo('predict', '--model', run, image, '--top', '2', '--json'));
    expect(predicted.predictions[0].top[0].probability).toBeCloseTo(predicted.predictions[0].confidence, 6);
    expect(predicted.predictions[0].top[0].probability + predicted.predictions[0].top[1].probability).toBeLessThanOrEqual(1 + 1e-6);
    const resumed = json(geo('train', '--resume', run, '--steps', '4', '--t-max', '20,10', '--json'));
    expect(resumed).toMatchObject({ steps: 4, resumedFrom: 3, cellsPerPartition: trained.cellsPerPartition });
    expect(geo('train', '--resume', run, '--t-max', '20,9').stderr).toContain('--t-max 20,9 conflicts with the run');
    expect(hashTree(data)).toBe(before);
  }, 240_000);

  it('a run stopped by SIGTERM saves a checkpoint, exits 143, and resumes to the losses of an uninterrupted run', async () => {
    const full = path.join(tmp, 'uninterrupted');
    json(geo('train', '--data', csv, ...tiny, '--steps', '6', '--val-every', '100', '--out', full, '--json'));
    const expected = stepLosses(full);
    const run = path.join(tmp, 'stopped');
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'apps/geo/bin/mobilenet-geo.js'), 'train', '--data', csv, ...tiny, '--steps', '6', '--val-every', '100', '--out', run], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!signalled && /^step [23]\//m.test(stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toContain('received SIGTERM');
    expect(status).toBe(143);
    expect(stepLosses(run).length).toBeLessThan(6);
    const resumed = json(geo('train', '--resume', run, '--json'));
    expect(resumed.steps).toBe(6);
    expect(resumed.resumedFrom).toBeGreaterThanOrEqual(2);
    const losses = stepLosses(run);
    expect(losses.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6]);
    losses.forEach(([, loss], i) => expect(loss).toBeCloseTo(expected[i][1], 4));
  }, 240_000);

  it('--max-minutes alone plans the run from its first epoch and records the plan', () => {
    const run = path.join(tmp, 'budget');
    const trained = json(geo('train', '--data', csv, ...tiny, '--max-minutes', '0.1', '--val-every', '100', '--out', run, '--json'));
    const { settings } = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    // 36 training photos at batch 8: 4 steps an epoch, laid over 30 provisional epochs until step 4.
    // The first plan at step 4, then a correction at each later epoch's end where the end moved; the last holds the run's steps.
    expect(settings).toMatchObject({ budgetMinutes: 0.1, epochs: null });
    expect(settings.cosineExtensions.slice(0, 2)).toMatchObject([{ atStep: 0, totalSteps: 120 }, { atStep: 4 }]);
    expect(settings.cosineExtensions.at(-1).totalSteps).toBe(settings.steps);
    expect(settings.steps).toBeGreaterThan(4);
    expect(trained.steps).toBeLessThanOrEqual(settings.steps);
  });

  it('bad manifest rows are reported by line and left out; a manifest without the columns is a usage error naming them', () => {
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    const bad = path.join(tmp, 'bad', 'photos.csv');
    fs.mkdirSync(path.dirname(bad), { recursive: true });
    const images = path.join(data);
    fs.writeFileSync(bad, [rows[0], rows[1], 'images/nothing.png,10,10', 'images/000002.png,95.5,10', 'images/000003.png,10,abc', ...rows.slice(4)].join('\n'));
    const r = geo('partition', '--data', bad, '--images', images, '--out', path.join(tmp, 'bad-cells.json'), '--no-map', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).photos).toBe(rows.length - 1 - 2); // two good rows replaced by three bad ones
    expect(r.stderr).toMatch(/photos\.csv:3: .*nothing\.png/);
    expect(r.stderr).toMatch(/photos\.csv:4: lat 95\.5 is outside \[-90, 90\]/);
    expect(r.stderr).toMatch(/photos\.csv:5: lon 'abc' is not a number/);
    const header = path.join(tmp, 'bad', 'header.csv');
    fs.writeFileSync(header, 'file,latitude\nimages/000001.png,1\n');
    const h = geo('partition', '--data', header, '--images', images, '--out', path.join(tmp, 'never.json'));
    expect(h.status).toBe(2);
    expect(h.stderr).toContain('header.csv');
    expect(h.stderr).toMatch(/lon/);
    expect(fs.existsSync(path.join(tmp, 'never.json'))).toBe(false);
  });

  it('usage errors exit 2 and name the flag: output inside the data, a changed setting on resume, --partition with thresholds, a model folder without a geo model', () => {
    const inside = geo('train', '--data', csv, ...tiny, '--steps', '1', '--out', path.join(data, 'run'));
    expect(inside.status).toBe(2);
    expect(inside.stderr).toContain('is inside --data');
    const partitionInside = geo('partition', '--data', csv, '--out', path.join(data, 'cells.json'));
    expect(partitionInside.status).toBe(2);
    expect(partitionInside.stderr).toContain('nothing is written into your data folders');
    const changed = geo('train', '--resume', path.join(tmp, 'run'), '--alpha', '0.5');
    expect(changed.status).toBe(2);
    expect(changed.stderr).toContain('--alpha 0.5 conflicts with the run');
    const both = geo('train', '--data', csv, '--partition', path.join(tmp, 'cells.json'), '--t-max', '5', '--out', path.join(tmp, 'never'));
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--t-max only applies when the run partitions');
    const missing = geo('eval', '--model', data);
    expect(missing.status).toBe(2);
    const size = geo('train', '--input-size', '100', '--out', path.join(tmp, 'never'));
    expect(size.status).toBe(2);
    expect(size.stderr).toContain('--input-size must be a multiple of 32');
    expect(hashTree(data)).toBe(before);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });
});
