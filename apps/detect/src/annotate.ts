/**
 * Detections drawn on their image: a box in the class's colour and a filled tag with the class name
 * and score, as an SVG overlay that sharp composites onto the pixels and writes as PNG.
 */
import sharp from 'sharp';

/** One box to draw, in image pixels. */
export interface Annotation {
  box: [number, number, number, number];
  label: string;
  /** Picks the colour: the class index. */
  classIndex: number;
  score: number;
}

/** Distinct colours (Tableau 10, then 10 more), one a class, repeating after 20 classes. */
export const CLASS_COLOURS: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#e7ba52', '#637939', '#ad494a', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363',
];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Black or white, whichever reads better on `hex`. */
function textColour(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return 0.299 * r + 0.587 * g + 0.114 * b > 0.55 ? '#000000' : '#ffffff';
}

/** DejaVu Sans Mono advances 0.602 em a character: the tag fits its text exactly. */
const MONOSPACE_ADVANCE = 0.602;

/** The overlay for a width × height image: line width and text size grow with the image. */
export function annotationSvg(width: number, height: number, annotations: readonly Annotation[]): string {
  const side = Math.max(width, height);
  const stroke = Math.max(2, Math.round(side / 400));
  const fontSize = Math.max(12, Math.round(side / 60));
  const padding = Math.round(fontSize * 0.3);
  const tagHeight = Math.round(fontSize * 1.25);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans Mono, monospace" font-size="${fontSize}">`];
  // Lowest score first, so that the best detections are drawn on top.
  for (const a of [...annotations].sort((p, q) => p.score - q.score)) {
    const colour = CLASS_COLOURS[a.classIndex % CLASS_COLOURS.length];
    const [x1, y1, x2, y2] = a.box;
    out.push(`<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${Math.max(0, x2 - x1).toFixed(1)}" height="${Math.max(0, y2 - y1).toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`);
    // Truncated, so that 1.00 means a score of 1 (0.995 shows as 0.99).
    const text = `${a.label} ${(Math.floor(a.score * 100) / 100).toFixed(2)}`;
    const tagWidth = Math.ceil(text.length * fontSize * MONOSPACE_ADVANCE) + 2 * padding;
    // Above the box when it fits, else just inside its top; never past the image's right edge.
    const tagX = Math.max(0, Math.min(x1 - stroke / 2, width - tagWidth));
    const tagY = y1 - stroke / 2 - tagHeight >= 0 ? y1 - stroke / 2 - tagHeight : Math.max(0, Math.min(y1 + stroke / 2, height - tagHeight));
    out.push(`<rect x="${tagX.toFixed(1)}" y="${tagY.toFixed(1)}" width="${tagWidth}" height="${tagHeight}" fill="${colour}"/>`);
    // Baseline 0.9 em down a 1.25 em tag: DejaVu's ascent (0.76 em) and descent (0.24 em) centred.
    out.push(`<text x="${(tagX + padding).toFixed(1)}" y="${(tagY + 0.9 * fontSize).toFixed(1)}" fill="${textColour(colour)}">${escape(text)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/** Writes `rgb` (width × height × 3 bytes) with the annotations drawn on it as a PNG file. */
export async function writeAnnotatedPng(file: string, rgb: Uint8Array, width: number, height: number, annotations: readonly Annotation[]): Promise<void> {
  await sharp(rgb, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(annotationSvg(width, height, annotations)), top: 0, left: 0 }])
    .png({ compressionLevel: 6 })
    .toFile(file);
}
