import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS, ImageDecodeError, decodeImage, decodeRegion, decodeSource, encodePng, floatToUint8, imageSize, loadImage, regionOfSource, uint8ToFloat } from './image-io';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-image-io-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 40 wide × 20 high: left half red, right half blue. */
function leftRedRightBlue(): Buffer {
  const w = 40;
  const h = 20;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
  return px;
}

/** The [r, g, b] at (x, y) of a decoded image. */
function at(img: { pixels: Float32Array; width: number }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]];
}

/** A PNG whose header declares width × height (the data is a tiny image's: only the header is read). */
async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29); // IHDR's CRC covers its type and data
  return png;
}

describe('loadImage', () => {
  it('scales 8-bit RGB to [-1, 1] as x / 127.5 − 1', async () => {
    const file = path.join(dir, 'levels.png');
    fs.writeFileSync(file, await encodePng(Uint8Array.from([0, 127.5, 255, 255, 0, 64]), 2, 1));
    const img = await loadImage(file);
    expect([img.width, img.height]).toEqual([2, 1]);
    expect(Array.from(img.pixels)).toEqual(Array.from(Uint8Array.from([0, 127, 255, 255, 0, 64]), (v) => Math.fround(v / 127.5 - 1)));
  });

  it("resizes the shorter side and centre-crops by default, or stretches with resize: 'stretch'", async () => {
    const file = path.join(dir, 'wide.png');
    fs.writeFileSync(file, await encodePng(leftRedRightBlue(), 40, 20));
    const crop = await loadImage(file, { size: 16 });
    expect([crop.width, crop.height, crop.pixels.length]).toEqual([16, 16, 16 * 16 * 3]);
    const stretch = await loadImage(file, { size: 16, resize: 'stretch' });
    expect([stretch.width, stretch.height]).toEqual([16, 16]);
    // Both keep red on the left and blue on the right; the crop keeps the middle, the stretch everything.
    expect(at(crop, 0, 8)[0]).toBeGreaterThan(0.9);
    expect(at(crop, 15, 8)[2]).toBeGreaterThan(0.9);
    expect(at(stretch, 0, 8)[0]).toBeGreaterThan(0.9);
    const central = await loadImage(file, { size: 16, centralFraction: 0.5 });
    expect([central.width, central.height]).toEqual([16, 16]);
  });

  it('applies the EXIF orientation (6: rotate 90° clockwise)', async () => {
    const file = path.join(dir, 'rotated.jpg');
    const jpeg = await sharp(leftRedRightBlue(), { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    fs.writeFileSync(file, jpeg);
    const img = await loadImage(file);
    expect([img.width, img.height]).toEqual([20, 40]);
    // Stored left (red) becomes the top; stored right (blue) the bottom.
    expect(at(img, 10, 5)[0]).toBeGreaterThan(0.8);
    expect(at(img, 10, 5)[2]).toBeLessThan(-0.8);
    expect(at(img, 10, 34)[2]).toBeGreaterThan(0.8);
    expect(await imageSize(file)).toEqual({ width: 20, height: 40 });
    const square = await loadImage(file, { size: 8, resize: 'stretch' });
    expect(at(square, 4, 0)[0]).toBeGreaterThan(0.8);
    expect(at(square, 4, 7)[2]).toBeGreaterThan(0.8);
  });

  it('turns grayscale into three equal channels', async () => {
    const file = path.join(dir, 'gray.png');
    fs.writeFileSync(file, await sharp(Buffer.alloc(6 * 4, 200), { raw: { width: 6, height: 4, channels: 1 } }).png().toBuffer());
    const img = await loadImage(file, { size: 4 });
    expect(img.pixels.length).toBe(4 * 4 * 3);
    expect(new Set(img.pixels).size).toBe(1);
    expect(img.pixels[0]).toBeCloseTo(200 / 127.5 - 1, 5);
  });

  it('flattens alpha onto black by default, or white', async () => {
    const rgba = Buffer.alloc(2 * 1 * 4);
    rgba.set([255, 0, 0, 0, 0, 255, 0, 255]); // transparent red, opaque green
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const black = await decodeImage(png);
    expect(Array.from(black.pixels)).toEqual([-1, -1, -1, -1, 1, -1]);
    const white = await decodeImage(png, { background: 'white' });
    expect(Array.from(white.pixels)).toEqual([1, 1, 1, -1, 1, -1]);
  });

  it('reads 16-bit PNGs as 8-bit', async () => {
    const png16 = await sharp(leftRedRightBlue(), { raw: { width: 40, height: 20, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const img = await decodeImage(png16, { size: 10, resize: 'stretch' });
    expect(img.pixels.length).toBe(10 * 10 * 3);
    expect(at(img, 0, 0)).toEqual([1, -1, -1]);
    expect(Math.max(...img.pixels)).toBeLessThanOrEqual(1);
  });

  it('converts CMYK JPEGs to RGB', async () => {
    const cmyk = await sharp(leftRedRightBlue(), { raw: { width: 40, height: 20, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const img = await decodeImage(cmyk);
    expect(img.pixels.length).toBe(40 * 20 * 3);
    const [r, , b] = at(img, 5, 10);
    expect(r).toBeGreaterThan(b);
  });

  it('reads WebP', async () => {
    const webp = await sharp(leftRedRightBlue(), { raw: { width: 40, height: 20, channels: 3 } }).webp({ lossless: true }).toBuffer();
    const img = await decodeImage(webp);
    expect(at(img, 0, 0)).toEqual([1, -1, -1]);
  });

  it('names the file in an ImageDecodeError for random bytes, a missing file and a truncated image', async () => {
    const corrupt = path.join(dir, 'corrupt.jpg');
    fs.writeFileSync(corrupt, Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 251)));
    const error = await loadImage(corrupt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as ImageDecodeError).path).toBe(corrupt);
    expect((error as ImageDecodeError).message).toContain(corrupt);
    expect((error as ImageDecodeError).message).toMatch(/JPEG, PNG or WebP/);
    expect((error as ImageDecodeError).cause).toBeInstanceOf(Error);

    await expect(loadImage(path.join(dir, 'missing.png'))).rejects.toThrow(/missing\.png: file not found$/);
    await expect(loadImage(dir)).rejects.toThrow(`${dir}: this is a folder, not an image file`);

    const truncated = path.join(dir, 'truncated.png');
    const png = await encodePng(new Uint8Array(64 * 64 * 3).map((_, i) => (i * 31) % 256), 64, 64);
    fs.writeFileSync(truncated, png.subarray(0, png.length >> 1));
    await expect(loadImage(truncated)).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(Buffer.from('not an image'), { name: 'upload #3' })).rejects.toThrow(/^upload #3: /);
  });

  it('rejects an image over the pixel limit before decoding it, naming the file and its size', async () => {
    const huge = path.join(dir, 'huge.png');
    fs.writeFileSync(huge, await pngDeclaring(20000, 20000));
    expect(20000 * 20000).toBeGreaterThan(DEFAULT_MAX_PIXELS);
    const error = (await loadImage(huge, { size: 96 }).catch((e: unknown) => e)) as ImageDecodeError;
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect(error.message).toContain(huge);
    expect(error.message).toMatch(/20000×20000 = 400\.0 megapixels.*limit is 100\.0 megapixels.*maxPixels/);
    expect(error.message).toContain('raise the limit to at least 400000000 pixels (--max-pixels 400000000 on the command line, the maxPixels option in code)');
    await expect(imageSize(huge)).rejects.toThrow(/too large/);

    const small = path.join(dir, 'small.png');
    fs.writeFileSync(small, await encodePng(new Uint8Array(50 * 50 * 3), 50, 50));
    await expect(loadImage(small, { maxPixels: 1000 })).rejects.toThrow(/small\.png: image is too large \(50×50/);
    await expect(loadImage(small, { maxPixels: 2500 })).resolves.toMatchObject({ width: 50, height: 50 });
  });

  it('rejects bad options with RangeError or TypeError', async () => {
    await expect(loadImage('x.png', { size: 0 })).rejects.toThrow(RangeError);
    await expect(loadImage('x.png', { size: 2.5 })).rejects.toThrow(/size must be an integer.*Received 2\.5/);
    await expect(loadImage('x.png', { resize: 'fit' as never })).rejects.toThrow(/'crop' or 'stretch'/);
    await expect(loadImage('x.png', { maxPixels: 0 })).rejects.toThrow(/maxPixels/);
    await expect(loadImage('')).rejects.toThrow(TypeError);
    await expect(decodeImage('x.png' as never)).rejects.toThrow(TypeError);
  });
});

describe('encodePng and the byte conversions', () => {
  it('round-trips 8-bit RGB', async () => {
    const px = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 37) % 256);
    const img = await decodeImage(await encodePng(px, 5, 3));
    expect(floatToUint8(img.pixels)).toEqual(px);
    expect(floatToUint8(uint8ToFloat(px))).toEqual(px);
  });

  it('checks the pixel count', async () => {
    await expect(encodePng(new Uint8Array(10), 2, 2)).rejects.toThrow(/expected 2×2×3 = 12 values. Received 10/);
  });

  it('clamps floats outside [-1, 1]', () => {
    expect(Array.from(floatToUint8(Float32Array.from([-2, 2, 0])))).toEqual([0, 255, 128]);
  });
});

describe('decodeSource and regionOfSource', () => {
  it("a crop of the kept source equals decodeRegion's from the encoded bytes, RGBA and grey included; a crop outside it is an error naming the image", async () => {
    const rgba = new Uint8Array(9 * 7 * 4).map((_, i) => (i * 37) % 256);
    const grey = new Uint8Array(9 * 7).map((_, i) => (i * 11) % 256);
    const inputs = [await encodePng(rgba, 9, 7, 4), await sharp(Buffer.from(grey), { raw: { width: 9, height: 7, channels: 1 } }).jpeg().toBuffer()];
    for (const input of inputs) {
      const source = await decodeSource(input, { name: 'pic.png' });
      expect([source.width, source.height, source.data.length, source.name]).toEqual([9, 7, 9 * 7 * 3, 'pic.png']);
      for (const region of [{ left: 0, top: 0, width: 9, height: 7 }, { left: 2, top: 1, width: 5, height: 6 }]) {
        expect((await regionOfSource(source, region, 4)).pixels).toEqual((await decodeRegion(input, region, 4)).pixels);
      }
      await expect(regionOfSource(source, { left: 5, top: 0, width: 5, height: 7 }, 4)).rejects.toThrow('pic.png: the crop 5×7 at (5, 0) leaves the 9×7 image');
    }
    await expect(regionOfSource(await decodeSource(inputs[0]), { left: -1, top: 0, width: 2, height: 2 }, 4)).rejects.toThrow(RangeError);
  });
});
