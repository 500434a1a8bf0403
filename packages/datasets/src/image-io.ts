/**
 * Image files to MobileNet input and back, on sharp (libvips): decode JPEG/PNG/WebP, apply the EXIF
 * orientation, convert any colour model and bit depth to 8-bit sRGB, resize, and scale to [-1, 1]
 * (x / 127.5 − 1, as the official MobileNet checkpoints expect). Pixels are HWC RGB Float32Arrays;
 * nothing here touches tfjs.
 *
 * Transparency is composited onto black by default (`background: 'white'` to change it): black is what
 * premultiplied alpha and sharp's own `flatten()` give, so fully transparent pixels become −1.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';
import type { Sharp } from 'sharp';

/** Largest image accepted by default: 100 megapixels (a 10000 × 10000 photo, ≈ 300 MB decoded). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Extensions the readers accept as images (compared lower-case). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

/** How a non-square image becomes size × size. */
export type ResizeMode = 'crop' | 'stretch';

/** A rectangle in the oriented image, in pixels. */
export interface Region {
  /** Left column, ≥ 0. */
  left: number;
  /** Top row, ≥ 0. */
  top: number;
  /** Width, ≥ 1. */
  width: number;
  /** Height, ≥ 1. */
  height: number;
}

export interface DecodeOptions {
  /** Output side in pixels: the result is size × size. Omitted: the image's own (oriented) size. */
  size?: number;
  /** 'crop' (default): the shorter side becomes `size` and the centre is cut out; 'stretch': both sides become `size`. */
  resize?: ResizeMode;
  /**
   * In 'crop' mode, the central fraction of the square kept (TF-slim evaluates on the central 0.875).
   * Default 1: the whole centre square.
   */
  centralFraction?: number;
  /** Images with more than this many pixels (width × height) are rejected before decoding. Default 100e6. */
  maxPixels?: number;
  /** Colour that transparent pixels are composited onto. Default 'black'. */
  background?: 'black' | 'white';
  /** Name used in error messages for in-memory data. Default '<buffer>'. */
  name?: string;
}

/** Options of {@link loadImage}: like {@link DecodeOptions} without `name` (the path names the image). */
export type LoadOptions = Omit<DecodeOptions, 'name'>;

export interface DecodedImage {
  /** HWC RGB, row-major, scaled to [-1, 1] (x / 127.5 − 1); length width · height · 3. */
  pixels: Float32Array;
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
}

/** An image that could not be read or decoded. `path` names the file ('<buffer>' for in-memory data). */
export class ImageDecodeError extends Error {
  /** The file, or the `name` given for in-memory data. */
  readonly path: string;
  /** The underlying error (sharp's, or the file system's), if any. */
  override readonly cause: unknown;

  constructor(path: string, message: string, cause?: unknown) {
    super(`${path}: ${message}`, { cause });
    this.name = 'ImageDecodeError';
    this.path = path;
    this.cause = cause;
  }
}

type ImageInput = string | Buffer | Uint8Array;

/** byte → [-1, 1], precomputed once. */
const TO_UNIT = new Float32Array(256).map((_, i) => i / 127.5 - 1);

/** 8-bit values (any layout) to MobileNet's [-1, 1] scale. */
export function uint8ToFloat(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = TO_UNIT[bytes[i]];
  return out;
}

/** [-1, 1] floats back to rounded, clamped 8-bit values (to save or inspect an augmented image). */
export function floatToUint8(pixels: Float32Array): Uint8Array {
  const out = new Uint8ClampedArray(pixels.length); // rounds half to even and clamps to [0, 255]
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] + 1) * 127.5;
  return new Uint8Array(out.buffer);
}

function checkSize(what: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 16384)) {
    throw new RangeError(`${what}: size must be an integer in [1, 16384] (the output side in pixels). Received ${value}.`);
  }
}

function checkOptions(what: string, options: DecodeOptions): void {
  checkSize(what, options.size);
  const { resize = 'crop', centralFraction = 1, maxPixels = DEFAULT_MAX_PIXELS, background = 'black' } = options;
  if (resize !== 'crop' && resize !== 'stretch') throw new RangeError(`${what}: resize must be 'crop' or 'stretch'. Received ${String(resize)}.`);
  if (!(centralFraction > 0 && centralFraction <= 1)) throw new RangeError(`${what}: centralFraction must be in (0, 1]. Received ${centralFraction}.`);
  if (!(maxPixels >= 1)) throw new RangeError(`${what}: maxPixels must be a positive number (Infinity for no limit). Received ${maxPixels}.`);
  if (background !== 'black' && background !== 'white') throw new RangeError(`${what}: background must be 'black' or 'white'. Received ${String(background)}.`);
}

function limitOf(maxPixels: number): number | false {
  return Number.isFinite(maxPixels) ? Math.max(1, Math.floor(maxPixels)) : false;
}

/** 4e8 → '400.0 megapixels'; small limits (tests, a deliberately low --max-pixels) in pixels. */
function megapixels(pixels: number): string {
  return pixels >= 1e5 ? `${(pixels / 1e6).toFixed(1)} megapixels` : `${pixels} pixels`;
}

async function isFolder(file: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

/** Turns sharp's errors into ImageDecodeErrors that name the file and say what to do. */
async function explain(input: ImageInput, name: string, maxPixels: number, error: unknown): Promise<ImageDecodeError> {
  if (error instanceof ImageDecodeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    let dims = '';
    let pixels = 0;
    try {
      const m = await sharp(input, { limitInputPixels: false }).metadata();
      pixels = (m.width ?? 0) * (m.height ?? 0);
      dims = ` (${m.width}×${m.height} = ${megapixels(pixels)})`;
    } catch {
      // The dimensions are only a courtesy in the message.
    }
    const needed = pixels > 0 ? `${pixels}` : 'a larger number';
    return new ImageDecodeError(
      name,
      `image is too large${dims}: the limit is ${megapixels(maxPixels)}, which keeps one image from taking gigabytes of memory. ` +
        `Shrink the image, or raise the limit to at least ${needed} pixels (--max-pixels ${needed} on the command line, the maxPixels option in code).`,
      error,
    );
  }
  if (typeof input === 'string' && (await isFolder(input))) return new ImageDecodeError(name, 'this is a folder, not an image file', error);
  if (/missing|ENOENT|no such file/i.test(message)) return new ImageDecodeError(name, 'file not found', error);
  if (/unsupported image format/i.test(message)) {
    return new ImageDecodeError(name, `not a decodable image (expected JPEG, PNG or WebP; sharp says: ${message})`, error);
  }
  return new ImageDecodeError(name, `could not decode the image: ${message}`, error);
}

function pipeline(input: ImageInput, options: DecodeOptions): Sharp {
  return sharp(input, { autoOrient: true, limitInputPixels: limitOf(options.maxPixels ?? DEFAULT_MAX_PIXELS) })
    .flatten({ background: options.background === 'white' ? '#ffffff' : '#000000' });
}

async function finish(image: Sharp, name: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await image.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageDecodeError(name, `decoded to ${info.channels} channels and ${data.length} bytes; expected 3 channels of 8-bit values`);
  }
  return { data, width: info.width, height: info.height };
}

async function decode(input: ImageInput, options: DecodeOptions, region?: Region): Promise<DecodedImage> {
  const name = options.name ?? (typeof input === 'string' ? input : '<buffer>');
  const { size, resize = 'crop', centralFraction = 1, maxPixels = DEFAULT_MAX_PIXELS } = options;
  try {
    let image = pipeline(input, options);
    if (region) image = image.extract(region);
    if (size !== undefined) {
      if (resize === 'stretch') {
        image = image.resize(size, size, { fit: 'fill' });
      } else if (centralFraction < 1) {
        const outer = Math.max(size, Math.round(size / centralFraction));
        const offset = Math.floor((outer - size) / 2);
        image = image.resize(outer, outer, { fit: 'cover', position: 'centre' }).extract({ left: offset, top: offset, width: size, height: size });
      } else {
        image = image.resize(size, size, { fit: 'cover', position: 'centre' });
      }
    }
    const { data, width, height } = await finish(image, name);
    return { pixels: uint8ToFloat(data), width, height };
  } catch (error) {
    throw await explain(input, name, maxPixels, error);
  }
}

/**
 * Reads an image file as MobileNet input: EXIF-oriented 8-bit RGB in [-1, 1], resized to
 * `size × size` (shorter side to `size` and centre crop by default) when `size` is given.
 * Throws {@link ImageDecodeError} naming the file when it is missing, not an image, damaged or larger
 * than `maxPixels`; RangeError for bad options.
 */
export async function loadImage(path: string, options: LoadOptions = {}): Promise<DecodedImage> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`loadImage: path must be a non-empty string. Received ${String(path)}.`);
  checkOptions('loadImage', options);
  return decode(path, options);
}

/** {@link loadImage} for an encoded image in memory (a JPEG/PNG/WebP file's bytes). */
export async function decodeImage(buffer: Buffer | Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  if (!(buffer instanceof Uint8Array)) throw new TypeError(`decodeImage: buffer must be a Buffer or Uint8Array of encoded image bytes. Received ${typeof buffer}.`);
  checkOptions('decodeImage', options);
  return decode(buffer, options);
}

/**
 * Width and height after EXIF orientation, read from the header only (no pixel decoding), with the
 * same pixel limit and errors as {@link loadImage}.
 */
export async function imageSize(input: string | Buffer | Uint8Array, options: Pick<DecodeOptions, 'maxPixels' | 'name'> = {}): Promise<{ width: number; height: number }> {
  const name = options.name ?? (typeof input === 'string' ? input : '<buffer>');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    const m = await sharp(input, { limitInputPixels: false }).metadata();
    const width = m.autoOrient?.width ?? m.width;
    const height = m.autoOrient?.height ?? m.height;
    if (!width || !height) throw new ImageDecodeError(name, `the header gives no size (format ${m.format ?? 'unknown'})`);
    if (width * height > maxPixels) throw await explain(input, name, maxPixels, new Error('Input image exceeds pixel limit'));
    return { width, height };
  } catch (error) {
    throw await explain(input, name, maxPixels, error);
  }
}

/**
 * An image decoded once, before any crop: EXIF-oriented, transparency composited, 8-bit sRGB, 3 channels
 * (HWC, row-major). {@link decodeRegion} cuts every augmentation crop from one; keeping it spares the
 * file's decoding in later epochs.
 */
export interface DecodedSource {
  data: Uint8Array;
  width: number;
  height: number;
  /** The name errors give (the path, or '<buffer>'). */
  name: string;
}

/** Decodes a whole image to a {@link DecodedSource}, with {@link loadImage}'s pixel limit and errors. */
export async function decodeSource(input: string | Buffer | Uint8Array, options: Omit<DecodeOptions, 'size' | 'resize' | 'centralFraction'> = {}): Promise<DecodedSource> {
  checkOptions('decodeSource', options);
  const name = options.name ?? (typeof input === 'string' ? input : '<buffer>');
  try {
    const { data, width, height } = await finish(pipeline(input, options), name);
    return { data, width, height, name };
  } catch (error) {
    throw await explain(input, name, options.maxPixels ?? DEFAULT_MAX_PIXELS, error);
  }
}

/**
 * The `region` of a decoded image (in oriented coordinates) resized to exactly `size × size` (stretched:
 * the region's aspect ratio is the caller's choice), in [-1, 1]. The augmentation's crop-and-resize.
 */
export async function regionOfSource(source: DecodedSource, region: Region, size: number): Promise<DecodedImage> {
  checkSize('regionOfSource', size);
  checkRegion('regionOfSource', region);
  const { left, top, width, height } = region;
  if (left + width > source.width || top + height > source.height) {
    throw new ImageDecodeError(source.name, `the crop ${width}×${height} at (${left}, ${top}) leaves the ${source.width}×${source.height} image`);
  }
  const data = await sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } }).extract(region).resize(size, size, { fit: 'fill' }).raw().toBuffer();
  return { pixels: uint8ToFloat(data), width: size, height: size };
}

function checkRegion(what: string, { left, top, width, height }: Region): void {
  if (![left, top, width, height].every(Number.isInteger) || left < 0 || top < 0 || width < 1 || height < 1) {
    throw new RangeError(`${what}: region must have integer left, top ≥ 0 and width, height ≥ 1. Received ${JSON.stringify({ left, top, width, height })}.`);
  }
}

/**
 * Decodes the `region` of an image (in oriented coordinates) resized to exactly `size × size`
 * (stretched: the region's aspect ratio is the caller's choice): {@link decodeSource}, then
 * {@link regionOfSource} — so a crop from a kept source has the same pixels as one from the file.
 */
export async function decodeRegion(input: string | Buffer | Uint8Array, region: Region, size: number, options: Omit<DecodeOptions, 'size' | 'resize' | 'centralFraction'> = {}): Promise<DecodedImage> {
  checkOptions('decodeRegion', { ...options, size });
  checkRegion('decodeRegion', region);
  return regionOfSource(await decodeSource(input, options), region, size);
}

/** Encodes 8-bit pixels (HWC, 1–4 channels, RGB by default) as a PNG file's bytes. */
function checkRawPixels(what: string, pixels: Uint8Array, width: number, height: number, channels: number): void {
  if (!(pixels instanceof Uint8Array)) throw new TypeError(`${what}: pixels must be a Uint8Array of 8-bit values. Received ${Object.prototype.toString.call(pixels)}.`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what}: width and height must be positive integers. Received ${width}×${height}.`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`${what}: expected ${width}×${height}×${channels} = ${width * height * channels} values. Received ${pixels.length}.`);
  }
}

export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3): Promise<Buffer> {
  checkRawPixels('encodePng', pixels, width, height, channels);
  return sharp(pixels, { raw: { width, height, channels } }).png({ compressionLevel: 6 }).toBuffer();
}

/** RGB (or grey) bytes as a baseline JPEG of the given quality (1–100). */
export async function encodeJpeg(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 3, quality = 90): Promise<Buffer> {
  checkRawPixels('encodeJpeg', pixels, width, height, channels);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`encodeJpeg: quality must be an integer in [1, 100]. Received ${quality}.`);
  return sharp(pixels, { raw: { width, height, channels } }).jpeg({ quality }).toBuffer();
}
