import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './run-cli';

describe('mobilenet-detect generate and coco-eval (end to end)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenet-detect-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'shapes');
  const file = (name: string, value: unknown) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
    return f;
  };
  interface Gt {
    images: { id: number; file_name: string }[];
    annotations: { image_id: number; category_id: number; bbox: number[]; area: number }[];
    categories: { id: number; name: string }[];
  }

  it('generate writes PNGs and COCO JSON, and refuses a folder that is not empty', () => {
    const r = runCli('mobilenet-detect', ['generate', '--out', data, '--images', '8', '--size', '64', '--classes', '2', '--seed', '1', '--json']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ images: 8, classes: ['circle', 'square'], size: 64 });
    const gt = JSON.parse(fs.readFileSync(path.join(data, 'annotations.json'), 'utf8')) as Gt;
    expect(gt.annotations).toHaveLength(summary.objects);
    for (const image of gt.images) expect(fs.existsSync(path.join(data, image.file_name))).toBe(true);
    const again = runCli('mobilenet-detect', ['generate', '--out', data, '--images', '2']);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain(`--out ${data} is not empty`);
  });

  it('coco-eval: the ground truth as detections scores 1; a missed object and a false positive cost what pycocotools says', () => {
    const gtFile = path.join(data, 'annotations.json');
    const gt = JSON.parse(fs.readFileSync(gtFile, 'utf8')) as Gt;
    const perfect = gt.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 1 }));
    const r = runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', file('perfect.json', perfect), '--json']);
    expect(r.status).toBe(0);
    const { stats, perCategory } = JSON.parse(r.stdout);
    expect(stats).toHaveLength(12);
    expect(stats[0]).toBe(1);
    expect(stats[1]).toBe(1);
    expect(Object.keys(perCategory).sort()).toEqual(['1', '2']);
    // Only category 1, one object dropped: recall (n − 1)/n at precision 1, so AP50 for the category is
    // the 101-point mean of 1 up to recall (n − 1)/n and 0 beyond.
    const ones = gt.annotations.filter((a) => a.category_id === 1);
    const n = ones.length;
    const missing = ones.slice(1).map((a) => ({ image_id: a.image_id, category_id: 1, bbox: a.bbox, score: 1 }));
    const m = JSON.parse(runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', file('missing.json', missing), '--json']).stdout);
    const reached = Array.from({ length: 101 }, (_, i) => i / 100).filter((t) => t <= (n - 1) / n + 1e-12).length;
    expect(m.perCategory['1'].ap50).toBeCloseTo(reached / 101, 12);
    expect(m.perCategory['2'].ap50).toBe(0); // nothing detected
    const text = runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', path.join(dir, 'perfect.json')]);
    expect(text.stdout).toContain(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000');
    expect(text.stdout).toMatch(/circle \(1\)\s+1\.000/);
  });

  it('coco-eval: a missing file is a usage error (2); a malformed entry a failure (1) naming the file, entry and field', () => {
    const gtFile = path.join(data, 'annotations.json');
    const missing = runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', path.join(dir, 'nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`--dt ${path.join(dir, 'nope.json')}: no such file. Expected a COCO results JSON array.`);
    const badBox = file('bad.json', [{ image_id: 1, category_id: 1, bbox: [1, 2, 3], score: 1 }]);
    const bad = runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', badBox]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`--dt ${badBox}: results[0].bbox: expected 4 finite numbers [x, y, w, h], received [1,2,3]`);
    const unknownImage = file('unknown.json', [{ image_id: 999, category_id: 1, bbox: [1, 2, 3, 4], score: 1 }]);
    expect(runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile, '--dt', unknownImage]).stderr).toContain('results[0].image_id 999: not an image of the ground truth');
    const notJson = file('text.json', 'hello');
    const nj = runCli('mobilenet-detect', ['coco-eval', '--gt', notJson, '--dt', badBox]);
    expect(nj.status).toBe(1);
    expect(nj.stderr).toContain(`--gt ${notJson}: not valid JSON`);
    expect(runCli('mobilenet-detect', ['coco-eval', '--gt', gtFile]).status).toBe(2); // --dt is required
  });
});
