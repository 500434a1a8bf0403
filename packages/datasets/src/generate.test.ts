import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateClassificationDataset, generateClassificationImages, generatedClassNames, renderClassificationImage } from './generate';
import { loadImage } from './image-io';
import { readImageFolder } from './readers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-generate-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Mean RGB of the brightest-saturated half of the pixels: a crude "object colour" feature. */
function feature(px: Uint8Array): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < px.length; i += 3) for (let c = 0; c < 3; c++) sum[c] += px[i + c];
  const n = px.length / 3;
  return sum.map((s) => s / n);
}

describe('renderClassificationImage', () => {
  it('is a pure function of (seed, class, index)', () => {
    const a = renderClassificationImage(3, 7, { seed: 1, size: 48 });
    expect(a).toHaveLength(48 * 48 * 3);
    expect(renderClassificationImage(3, 7, { seed: 1, size: 48 })).toEqual(a);
    expect(renderClassificationImage(3, 8, { seed: 1, size: 48 })).not.toEqual(a);
    expect(renderClassificationImage(3, 7, { seed: 2, size: 48 })).not.toEqual(a);
  });

  it('gives classes that a trivial classifier tells apart better than chance, but not perfectly', () => {
    // Nearest-class-mean on the mean colour: shape is the main cue, so colour alone must be weak but informative.
    const classes = 10;
    const per = 40;
    const feats = Array.from({ length: classes }, (_, c) => Array.from({ length: per }, (_, i) => feature(renderClassificationImage(c, i, { size: 32 }))));
    const means = feats.map((fs) => [0, 1, 2].map((k) => fs.slice(0, per / 2).reduce((s, f) => s + f[k], 0) / (per / 2)));
    let correct = 0;
    feats.forEach((fs, c) => fs.slice(per / 2).forEach((f) => {
      const d = means.map((m) => m.reduce((s, v, k) => s + (v - f[k]) ** 2, 0));
      if (d.indexOf(Math.min(...d)) === c) correct++;
    }));
    const accuracy = correct / (classes * (per / 2));
    expect(accuracy).toBeGreaterThan(0.15);
    expect(accuracy).toBeLessThan(0.8);
  });

  it('rejects bad arguments', () => {
    expect(() => renderClassificationImage(10, 0)).toThrow(/classIndex must be an integer in \[0, 10\)\. Received 10/);
    expect(() => renderClassificationImage(0, 0, { classes: 13 })).toThrow(/classes must be an integer in \[2, 12\]\. Received 13/);
    expect(() => renderClassificationImage(0, 0, { size: 8 })).toThrow(/size must be an integer in \[16, 4096\]/);
  });
});

describe('generateClassificationDataset', () => {
  it('writes dir/<class>/<n>.png, the same bytes for the same seed, readable by readImageFolder', async () => {
    const one = await generateClassificationDataset({ classes: 4, imagesPerClass: 6, size: 32, seed: 3, dir: path.join(tmp, 'one') });
    const progress: [number, number][] = [];
    const two = await generateClassificationDataset({ classes: 4, imagesPerClass: 6, size: 32, seed: 3, dir: path.join(tmp, 'two'), onProgress: (n, total) => progress.push([n, total]) });
    expect(progress).toEqual(Array.from({ length: 24 }, (_, i) => [i + 1, 24]));
    expect(one.classes).toEqual(['circle', 'square', 'star', 'triangle']);
    expect(one.files).toBe(24);
    for (const c of one.classes) {
      const files = fs.readdirSync(path.join(one.dir, c)).sort();
      expect(files).toEqual(['0000.png', '0001.png', '0002.png', '0003.png', '0004.png', '0005.png']);
      for (const f of files) expect(fs.readFileSync(path.join(one.dir, c, f))).toEqual(fs.readFileSync(path.join(two.dir, c, f)));
    }
    const ds = await readImageFolder(one.dir, { valFraction: 0.5 });
    expect(ds.classes).toEqual(one.classes);
    expect(ds.train.length + ds.val.length).toBe(24);
    const img = await loadImage(path.join(one.dir, 'star', '0002.png'));
    const expected = renderClassificationImage(generatedClassNames(4).indexOf('star'), 2, { classes: 4, size: 32, seed: 3 });
    expect(Array.from(img.pixels, (v) => Math.round((v + 1) * 127.5))).toEqual(Array.from(expected));
  });

  it('has an in-memory variant labelled like the folder', () => {
    const items = [...generateClassificationImages({ classes: 3, imagesPerClass: 2, size: 16 })];
    expect(items.map((i) => [i.className, i.label, i.index])).toEqual([
      ['circle', 0, 0], ['circle', 0, 1], ['square', 1, 0], ['square', 1, 1], ['triangle', 2, 0], ['triangle', 2, 1],
    ]);
    expect(items[3].pixels).toEqual(renderClassificationImage(1, 1, { classes: 3, size: 16 }));
  });
});
