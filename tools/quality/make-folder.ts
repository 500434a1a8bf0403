/**
 * "User-style" image folders for the training-quality comparison (issue 8, item 4): the procedural
 * drawn-pattern classes of @mobilenets/datasets (generate.ts), written the way a user's folder looks
 * rather than the way the generator writes it:
 *
 * - a fixed split: `<out>/train/<class>/…` and `<out>/val/<class>/…` (mobilenet-classify reads the two
 *   subfolders as the split; the PyTorch reference script reads the same files);
 * - mixed formats: about 55% JPEG (quality 70–95), the rest PNG;
 * - about 6% grayscale files (one channel) and 5% RGBA PNGs whose alpha fades towards the corners;
 * - odd sizes and aspect ratios: each image is drawn at 0.75–1.6 × `--size`, and half of them are then
 *   stretched or centre-cropped to an aspect ratio in [0.7, 1.4];
 * - one corrupt file (a PNG cut after 60 bytes, as an interrupted download) in the first class of train/.
 *
 * Every file is a function of (seed, class, index): the same arguments give the same bytes.
 *
 * Usage:
 *   node -r ./tools/ts-register.js tools/quality/make-folder.ts --out /tmp/q/f6 \
 *       --classes 6 --train 150 --val 40 --size 96 --seed 1
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { generatedClassNames, renderClassificationImage } from '@mobilenets/datasets';
import { hashSeed, mulberry32, type Random } from '@mobilenets/random';

export interface UserFolderOptions {
  out: string;
  classes: number;
  /** Training images per class. */
  train: number;
  /** Validation images per class. */
  val: number;
  /** Typical image side in pixels (each image is drawn at 0.75–1.6 × this). */
  size: number;
  seed: number;
}

export interface UserFolderReport {
  dir: string;
  classes: string[];
  files: { train: number; val: number };
  jpeg: number;
  png: number;
  grayscale: number;
  rgba: number;
  corrupt: string;
}

const uniform = (random: Random, low: number, high: number) => low + (high - low) * random();

/** Alpha that is opaque in the middle and fades to ~10% at the corners. */
function vignetteAlpha(width: number, height: number): Uint8Array {
  const alpha = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (2 * x) / (width - 1) - 1;
      const dy = (2 * y) / (height - 1) - 1;
      const r = Math.min(1, Math.hypot(dx, dy) / Math.SQRT2);
      alpha[y * width + x] = Math.round(255 * (r < 0.6 ? 1 : 1 - 0.9 * ((r - 0.6) / 0.4)));
    }
  }
  return alpha;
}

/** One file: drawn, reshaped and encoded as the draws for (seed, class, index) say. Returns its name and kind. */
async function writeImage(dir: string, classIndex: number, index: number, o: UserFolderOptions): Promise<{ format: 'jpeg' | 'png'; grayscale: boolean; rgba: boolean }> {
  const random = mulberry32(hashSeed(o.seed, 0x05e7, classIndex, index));
  const side = Math.max(16, Math.round(o.size * uniform(random, 0.75, 1.6)));
  const pixels = renderClassificationImage(classIndex, index, { classes: o.classes, size: side, seed: o.seed });
  let image = sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 3 } });
  let width = side;
  let height = side;
  if (random() < 0.5) {
    const aspect = Math.exp(uniform(random, Math.log(0.7), Math.log(1.4)));
    if (random() < 0.5) {
      // Stretched to the aspect ratio (keeping the area).
      width = Math.max(16, Math.round(side * Math.sqrt(aspect)));
      height = Math.max(16, Math.round(side / Math.sqrt(aspect)));
      image = sharp(await image.resize(width, height, { fit: 'fill' }).raw().toBuffer(), { raw: { width, height, channels: 3 } });
    } else {
      // Centre-cropped to the aspect ratio (the longer side stays).
      width = aspect >= 1 ? side : Math.max(16, Math.round(side * aspect));
      height = aspect >= 1 ? Math.max(16, Math.round(side / aspect)) : side;
      image = sharp(await image.extract({ left: Math.floor((side - width) / 2), top: Math.floor((side - height) / 2), width, height }).raw().toBuffer(), { raw: { width, height, channels: 3 } });
    }
  }
  const kind = random();
  const grayscale = kind < 0.06;
  const rgba = !grayscale && kind < 0.11;
  const jpeg = !rgba && random() < 0.55;
  const quality = Math.round(uniform(random, 70, 95));
  const digits = 4;
  const base = path.join(dir, `img_${String(index).padStart(digits, '0')}`);
  if (rgba) {
    const rgb = await image.raw().toBuffer();
    const alpha = vignetteAlpha(width, height);
    const rgbaPixels = Buffer.alloc(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      rgbaPixels[4 * i] = rgb[3 * i];
      rgbaPixels[4 * i + 1] = rgb[3 * i + 1];
      rgbaPixels[4 * i + 2] = rgb[3 * i + 2];
      rgbaPixels[4 * i + 3] = alpha[i];
    }
    await sharp(rgbaPixels, { raw: { width, height, channels: 4 } }).png().toFile(`${base}.png`);
    return { format: 'png', grayscale: false, rgba: true };
  }
  if (grayscale) image = image.toColourspace('b-w');
  if (jpeg) await image.jpeg({ quality }).toFile(`${base}.jpg`);
  else await image.png().toFile(`${base}.png`);
  return { format: jpeg ? 'jpeg' : 'png', grayscale, rgba: false };
}

export async function makeUserFolder(o: UserFolderOptions): Promise<UserFolderReport> {
  const names = generatedClassNames(o.classes);
  const root = path.resolve(o.out);
  fs.rmSync(root, { recursive: true, force: true });
  const report: UserFolderReport = { dir: root, classes: [...names].sort(), files: { train: 0, val: 0 }, jpeg: 0, png: 0, grayscale: 0, rgba: 0, corrupt: '' };
  for (const split of ['train', 'val'] as const) {
    for (let c = 0; c < o.classes; c++) {
      const dir = path.join(root, split, names[c]);
      fs.mkdirSync(dir, { recursive: true });
      const first = split === 'train' ? 0 : o.train; // val images are other draws of the same class
      const count = split === 'train' ? o.train : o.val;
      const pending: Promise<void>[] = [];
      for (let n = first; n < first + count; n++) {
        pending.push(
          writeImage(dir, c, n, o).then((kind) => {
            report.files[split] += 1;
            report[kind.format] += 1;
            if (kind.grayscale) report.grayscale += 1;
            if (kind.rgba) report.rgba += 1;
          }),
        );
        if (pending.length >= 8) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    }
  }
  // One corrupt file: a PNG cut off after 60 bytes (the header survives, the pixels do not).
  const whole = await sharp(Buffer.from(renderClassificationImage(0, 99_999, { classes: o.classes, size: o.size, seed: o.seed })), { raw: { width: o.size, height: o.size, channels: 3 } }).png().toBuffer();
  report.corrupt = path.join(root, 'train', names[0], 'img_download.png');
  fs.writeFileSync(report.corrupt, whole.subarray(0, 60));
  fs.writeFileSync(path.join(root, 'folder.json'), `${JSON.stringify({ generator: 'tools/quality/make-folder.ts', options: { ...o, out: undefined }, ...report, dir: undefined }, null, 1)}\n`);
  return report;
}

function parseArgs(argv: string[]): UserFolderOptions {
  const get = (name: string, fallback?: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) {
      if (fallback === undefined) throw new Error(`--${name} is required`);
      return fallback;
    }
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v)) throw new Error(`--${name} must be an integer. Received ${argv[i + 1]}.`);
    return v;
  };
  const outIndex = argv.indexOf('--out');
  if (outIndex < 0 || argv[outIndex + 1] === undefined) throw new Error('usage: make-folder.ts --out <dir> --classes <n> --train <n> --val <n> [--size 96] [--seed 0]');
  return { out: argv[outIndex + 1], classes: get('classes'), train: get('train'), val: get('val'), size: get('size', 96), seed: get('seed', 0) };
}

if (require.main === module) {
  makeUserFolder(parseArgs(process.argv.slice(2)))
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((error) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
