import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodePng } from './image-io';
import { readCsvManifest, readImageFolder } from './readers';

let tmp: string;
let png: Buffer;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-readers-'));
  png = await encodePng(new Uint8Array(4 * 4 * 3).fill(90), 4, 4);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes `files` (relative path → contents, default a tiny PNG) under a new folder. */
function tree(name: string, files: Record<string, Buffer | string | null>): string {
  const root = path.join(tmp, name);
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(full, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content ?? png);
  }
  return root;
}

function images(prefix: string, n: number, ext = 'png'): Record<string, null> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}/${i}.${ext}`, null]));
}

const rel = (root: string) => (r: { path: string }) => path.relative(root, r.path).split(path.sep).join('/');

describe('readImageFolder', () => {
  it('passes over hidden entries inside class folders (macOS resource forks, .thumbnails)', async () => {
    const root = tree('hidden', { ...images('cat', 3), 'cat/._0.png': 'AppleDouble', 'cat/.thumbnails/0.png': null, ...images('dog', 2) });
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(ds.train.map(rel(root))).toEqual(['cat/0.png', 'cat/1.png', 'cat/2.png', 'dog/0.png', 'dog/1.png']);
    expect(ds.skipped.files).toBe(0);
  });

  it('reads classes sorted by name and splits each class by valFraction', async () => {
    const root = tree('good', { ...images('zebra', 10), ...images('apple', 10, 'JPG'), ...images('mango', 5, 'jpeg') });
    const ds = await readImageFolder(root, { valFraction: 0.2, seed: 0 });
    expect(ds.classes).toEqual(['apple', 'mango', 'zebra']);
    expect(ds.train.length + ds.val.length).toBe(25);
    expect(ds.val.filter((r) => r.label === 0)).toHaveLength(2);
    expect(ds.val.filter((r) => r.label === 1)).toHaveLength(1);
    expect(ds.val.filter((r) => r.label === 2)).toHaveLength(2);
    expect(ds.train.every((r) => path.isAbsolute(r.path))).toBe(true);
    expect(ds.train.filter((r) => r.label === 2).every((r) => r.path.includes(`${path.sep}zebra${path.sep}`))).toBe(true);
    expect(ds.skipped).toEqual({ files: 0, examples: [] });
    expect(ds.warnings).toEqual([]);
    const overlap = ds.train.filter((t) => ds.val.some((v) => v.path === t.path));
    expect(overlap).toEqual([]);
  });

  it('splits the same files the same way every time and wherever they live; another seed, another split', async () => {
    const files = { ...images('a', 30), ...images('b', 30) };
    const one = tree('split-1', files);
    const two = tree('split-2', files);
    const first = await readImageFolder(one, { seed: 7 });
    const again = await readImageFolder(one, { seed: 7 });
    const moved = await readImageFolder(two, { seed: 7 });
    const other = await readImageFolder(one, { seed: 8 });
    expect(again).toEqual(first);
    expect(moved.val.map(rel(two))).toEqual(first.val.map(rel(one)));
    expect(other.val.map(rel(one))).not.toEqual(first.val.map(rel(one)));
    expect(other.val).toHaveLength(first.val.length);
    // A pinned split: changing the hash or the ranking changes every user's validation set.
    expect(first.val.map(rel(one))).toEqual(['a/1.png', 'a/17.png', 'a/18.png', 'a/27.png', 'a/5.png', 'a/6.png', 'b/11.png', 'b/17.png', 'b/19.png', 'b/20.png', 'b/6.png', 'b/7.png']);
  });

  it('skips non-images, reports empty classes and keeps their label; corrupt and huge images are listed (decoding reports them)', async () => {
    const root = tree('messy', {
      ...images('cat', 4),
      'cat/notes.txt': 'not an image',
      'cat/broken.jpg': Buffer.from([1, 2, 3, 4, 5]),
      'dog/huge.png': null,
      ...images('dog', 3, 'webp'),
      'empty/': null,
      'README.md': '# data',
    });
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(ds.classes).toEqual(['cat', 'dog', 'empty']);
    expect(ds.train).toHaveLength(5 + 4);
    expect(ds.val).toHaveLength(0);
    expect(ds.skipped.files).toBe(2);
    expect(ds.skipped.examples.map((p) => path.basename(p)).sort()).toEqual(['README.md', 'notes.txt']);
    expect(ds.warnings).toEqual(["class 'empty' has no images (its folder is empty); it keeps label 2"]);
  });

  it('uses dir/train and dir/val as the split when both exist', async () => {
    const root = tree('presplit', { ...images('train/a', 3), ...images('train/b', 2), ...images('val/a', 1), ...images('val/c', 1) });
    const ds = await readImageFolder(root, { valFraction: 0.5 });
    expect(ds.classes).toEqual(['a', 'b', 'c']);
    expect(ds.train.map((r) => r.label)).toEqual([0, 0, 0, 1, 1]);
    expect(ds.val.map((r) => r.label)).toEqual([0, 2]);
    expect(ds.warnings).toEqual(["class 'b' has no validation images (only 2 in train/)", "class 'c' has no training images (only 1 in val/)"]);
  });

  it('throws a clear Error for a missing folder, no class folders, or no images', async () => {
    await expect(readImageFolder(path.join(tmp, 'nowhere'))).rejects.toThrow(/cannot read the directory .*nowhere: it does not exist\. Expected a folder with one subfolder per class/);
    const flat = tree('flat', { 'a.png': null, 'b.png': null });
    await expect(readImageFolder(flat)).rejects.toThrow(/flat has no class folders\. Expected dir\/<class>\/<image>.*It holds 2 other file/);
    const noImages = tree('no-images', { 'a/x.txt': 'x', 'b/': null });
    await expect(readImageFolder(noImages)).rejects.toThrow(/no-images has class folders but no images in them/);
    await expect(readImageFolder(flat, { valFraction: 1 })).rejects.toThrow(/valFraction must be in \[0, 1\) \(the share of each class held out\)\. Received 1\./);
  });
});

describe('readImageFolder with symbolic and hard links', () => {
  const link = (target: string, at: string) => fs.symlinkSync(target, at);
  const byClass = (ds: { classes: string[]; train: { path: string; label: number }[]; val: { path: string; label: number }[] }, root: string) =>
    Object.fromEntries(ds.classes.map((c, label) => [c, [...ds.train, ...ds.val].filter((r) => r.label === label).map(rel(root)).sort()]));

  it('skips a link back to the parent folder: 16 images stay 16, each in its own class', async () => {
    const root = tree('loop-parent', { ...images('a', 8), ...images('b', 8) });
    link('..', path.join(root, 'a', 'up')); // the user's `ln -s .. data/a/up`
    const ds = await readImageFolder(root, { valFraction: 0.25, seed: 0 });
    expect(ds.train.length + ds.val.length).toBe(16);
    expect(ds.val).toHaveLength(4);
    expect(byClass(ds, root)).toEqual({ a: Object.keys(images('a', 8)).sort(), b: Object.keys(images('b', 8)).sort() });
    expect(ds.warnings).toEqual(['skipped the link a/up: it leads to the dataset folder itself (a loop); its images are read where they are, not again through the link']);
  });

  it('skips links to the dataset root from deep inside, to a folder above it, and to the file system root', async () => {
    const root = tree('loop-root', { ...images('a/deep/er', 2), ...images('b', 2) });
    link('../../..', path.join(root, 'a', 'deep', 'er', 'home'));
    link(path.dirname(root), path.join(root, 'b', 'outer'));
    link('/', path.join(root, 'b', 'slash'));
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(byClass(ds, root)).toEqual({ a: ['a/deep/er/0.png', 'a/deep/er/1.png'], b: ['b/0.png', 'b/1.png'] });
    expect(ds.warnings).toEqual([
      'skipped the link a/deep/er/home: it leads to the dataset folder itself (a loop); its images are read where they are, not again through the link',
      `skipped the link b/outer: it leads to ${fs.realpathSync(path.dirname(root))}, a folder that contains the dataset (a loop)`,
      'skipped the link b/slash: it leads to /, a folder that contains the dataset (a loop)',
    ]);
  });

  it("does not count a sibling class's images under the class whose folder links to it", async () => {
    const root = tree('sibling', { ...images('a', 3), ...images('b', 2) });
    link('../b', path.join(root, 'a', 'more')); // 'a' sorts first: followed, b's images would become a's
    link('b', path.join(root, 'c')); // a class folder that is another class
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(ds.classes).toEqual(['a', 'b']);
    expect(byClass(ds, root)).toEqual({ a: ['a/0.png', 'a/1.png', 'a/2.png'], b: ['b/0.png', 'b/1.png'] });
    expect(ds.warnings).toEqual([
      'skipped the link a/more: it leads to b, a folder of this dataset; its images are read where they are, not again through the link',
      'skipped the link c: it leads to b, a folder of this dataset; its images are read where they are, not again through the link',
    ]);
  });

  it('counts a file once: links and hard links to an image are reported, and its own path wins', async () => {
    const root = tree('dup-files', { ...images('a', 2), ...images('b', 2) });
    link('../b/0.png', path.join(root, 'a', '00-link.png')); // sorts before b/0.png
    link(path.join(root, 'a', '1.png'), path.join(root, 'a', 'again.png'));
    fs.linkSync(path.join(root, 'a', '0.png'), path.join(root, 'b', 'hard.png'));
    link('../nowhere.png', path.join(root, 'b', 'dangling.png'));
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(byClass(ds, root)).toEqual({ a: ['a/0.png', 'a/1.png'], b: ['b/0.png', 'b/1.png'] });
    expect(ds.warnings).toEqual([
      'left out 3 file(s) that are links to (or hard links of) images already counted, so that no image counts twice: ' +
        'a/00-link.png (the same file as b/0.png), a/again.png (the same file as a/1.png), b/hard.png (the same file as a/0.png)',
      'left out 1 broken link(s) (their target does not exist): b/dangling.png',
    ]);
  });

  it('follows a link to a folder outside the dataset once, and stops at a loop out there', async () => {
    const outside = tree('outside-photos', images('x', 3));
    link('..', path.join(outside, 'x', 'loop'));
    const root = tree('uses-outside', images('a', 1));
    link(outside, path.join(root, 'a', 'more'));
    link(path.join(outside, 'x'), path.join(root, 'a', 'same'));
    const ds = await readImageFolder(root, { valFraction: 0 });
    expect(byClass(ds, root)).toEqual({ a: ['a/0.png', 'a/more/x/0.png', 'a/more/x/1.png', 'a/more/x/2.png'] });
    expect(ds.warnings).toEqual([
      `skipped the link a/more/x/loop: it leads to ${fs.realpathSync(outside)}, a folder already read as a/more (a symlink loop, or a second link to one folder)`,
      `skipped the link a/same: it leads to ${fs.realpathSync(path.join(outside, 'x'))}, a folder already read as a/more/x (a symlink loop, or a second link to one folder)`,
    ]);
  });

  it('keeps a pre-split folder whose val/ is a link to train/ from scoring training images as validation', async () => {
    const root = tree('presplit-alias', images('train/a', 3));
    link('train', path.join(root, 'val'));
    const ds = await readImageFolder(root);
    expect(ds.train).toHaveLength(3);
    expect(ds.val).toHaveLength(0);
    expect(ds.warnings).toContain('skipped val/a: it is the folder already read as train/a');
  });
});

describe('readCsvManifest', () => {
  it('reads path,label[,split] with relative paths against the CSV folder or root', async () => {
    const root = tree('csv', { 'data/manifest.csv': 'path,label,split\nimg/1.png,dog,train\r\nimg/2.png,cat,val\n"img/a,b.png",cat,\n/abs/3.png,dog,TRAIN\n\n' });
    const file = path.join(root, 'data', 'manifest.csv');
    const ds = await readCsvManifest(file, { valFraction: 0 });
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.train).toEqual([
      { path: path.join(root, 'data', 'img', 'a,b.png'), label: 0 },
      { path: path.join(root, 'data', 'img', '1.png'), label: 1 },
      { path: path.resolve('/abs/3.png'), label: 1 },
    ]);
    expect(ds.val).toEqual([{ path: path.join(root, 'data', 'img', '2.png'), label: 0 }]);
    const rooted = await readCsvManifest(file, { root: '/elsewhere', valFraction: 0 });
    expect(rooted.train[0].path).toBe(path.resolve('/elsewhere/img/a,b.png'));
  });

  it('splits rows without a split column by seed, stably', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => `${i}.jpg,${i % 2 ? 'odd' : 'even'}`);
    const root = tree('csv-seeded', { 'm.csv': ['path,label', ...rows].join('\n') });
    const a = await readCsvManifest(path.join(root, 'm.csv'), { valFraction: 0.3, seed: 3 });
    const b = await readCsvManifest(path.join(root, 'm.csv'), { valFraction: 0.3, seed: 3 });
    expect(a).toEqual(b);
    expect(a.val).toHaveLength(6);
    expect(a.train).toHaveLength(14);
  });

  it('names the file, line and field of a bad row', async () => {
    const root = tree('csv-bad', {
      'fields.csv': 'path,label\na.png,cat\nb.png\n',
      'label.csv': 'path,label\na.png,cat\n\nb.png,  \n',
      'split.csv': 'path,label,split\na.png,cat,test\n',
      'header.csv': 'a.png,cat\nb.png,dog\n',
      'quote.csv': 'path,label\n"a.png,cat\n',
      'empty.csv': '',
    });
    const f = (name: string) => path.join(root, name);
    await expect(readCsvManifest(f('fields.csv'))).rejects.toThrow(`${f('fields.csv')}:3: expected 2 fields (path,label). Received 1: 'b.png'.`);
    await expect(readCsvManifest(f('label.csv'))).rejects.toThrow(`${f('label.csv')}:4: field 'label' is empty; expected a class name`);
    await expect(readCsvManifest(f('split.csv'))).rejects.toThrow(`${f('split.csv')}:2: field 'split' must be 'train', 'val' or empty. Received 'test'.`);
    await expect(readCsvManifest(f('header.csv'))).rejects.toThrow(`${f('header.csv')}:1: the header row must name the columns 'path' and 'label'`);
    await expect(readCsvManifest(f('quote.csv'))).rejects.toThrow(`${f('quote.csv')}:2: unterminated quoted field`);
    await expect(readCsvManifest(f('empty.csv'))).rejects.toThrow(/is empty\. Expected a header row/);
    await expect(readCsvManifest(f('missing.csv'))).rejects.toThrow(/cannot read .*missing\.csv/);
  });
});
