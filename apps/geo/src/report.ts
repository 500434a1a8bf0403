/**
 * What the geo app's commands share after the model has run: photos labelled with their cells, the
 * five-scale table (model against the most-populous-cell baseline), the JSON form of the scores, metric
 * formatting for progress lines, and the run's map pictures.
 */
import * as path from 'node:path';
import { formatTable } from '@mobilenets/cli-kit';
import type * as datasets from '@mobilenets/datasets';
import { GEO_SCALES, type GeoScores, type GeoValidation, type LatLonDegrees, type S2Partition, haversineKm } from '@mobilenets/geo';
import { partitionMapSvg, predictionsMapSvg, writeSvgAsPng } from './maps';

/** The classifier's class names: the cells' S2 tokens, class = index. */
export function cellLabels(partition: S2Partition): string[] {
  return partition.cells.map((c) => c.token);
}

/** The cell whose mean location is nearest to `point` (great-circle distance). */
export function nearestCell(point: LatLonDegrees, partition: S2Partition): number {
  let best = -1;
  let bestKm = Infinity;
  partition.cells.forEach((c, i) => {
    const km = haversineKm(point, { lat: c.mean[0], lon: c.mean[1] });
    if (km < bestKm) [best, bestKm] = [i, km];
  });
  return best;
}

/**
 * Photos as classification records (label = the cell holding the photo). A photo in no cell of the
 * partition is left out (`'drop'`, for training) or labelled with the nearest cell (`'nearest'`, for
 * validation: its distance error still counts, and its top-1 is judged against the nearest cell).
 */
export function labelledRecords(photos: readonly datasets.GeoRecord[], partition: S2Partition, outside: 'drop' | 'nearest'): { records: datasets.ImageRecord[]; dropped: number } {
  const records: datasets.ImageRecord[] = [];
  let dropped = 0;
  for (const p of photos) {
    let label = partition.classOf(p);
    if (label < 0 && outside === 'nearest') label = nearestCell(p, partition);
    if (label < 0) dropped += 1;
    else records.push({ path: p.path, label });
  }
  return { records, dropped };
}

/** Progress-line formatting of the geo task's metrics: shares as percentages, distances in km. */
export function formatGeoMetric(name: string, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (/^within\d+km$/.test(name) || name === 'top1' || name === 'accuracy') return `${(100 * value).toFixed(1)}%`;
  if (/Km$/.test(name)) return `${value.toFixed(0)} km`;
  return value.toFixed(4);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The five scales of MobileNet's Table 11 for the model and the most-populous-cell baseline, and the median error. */
export function formatScaleTable(v: Pick<GeoValidation, 'scores' | 'baseline'>): string {
  const rows: { scale: string; model: string; baseline: string }[] = GEO_SCALES.map((s) => ({
    scale: `${s.name} (${s.km} km)`,
    model: pct(v.scores.withinKm[String(s.km)]),
    baseline: pct(v.baseline.withinKm[String(s.km)]),
  }));
  rows.push({ scale: 'median error', model: `${v.scores.medianKm.toFixed(0)} km`, baseline: `${v.baseline.medianKm.toFixed(0)} km` });
  return formatTable(rows, [
    { header: 'scale', value: (r) => r.scale },
    { header: 'model', value: (r) => r.model, align: 'right' },
    { header: 'most populous cell', value: (r) => r.baseline, align: 'right' },
  ]);
}

const jsonScores = (s: GeoScores) => ({ withinKm: s.withinKm, medianKm: s.medianKm, meanKm: s.meanKm });

/** `{ withinKm: {"1", "25", "200", "750", "2500"}, medianKm, meanKm, images, baseline: {…} }` for --json. */
export function geoJsonScores(v: Pick<GeoValidation, 'scores' | 'baseline'>): Record<string, unknown> {
  return { ...jsonScores(v.scores), images: v.scores.count, baseline: jsonScores(v.baseline) };
}

/** The partition's cells as map polygons, coloured by their training photos. */
export function partitionPicture(partition: S2Partition, title: string): string {
  const cells = partition.cells.map((c, i) => ({ vertices: partition.cellVerticesDegrees(i), count: c.count, label: c.token }));
  return partitionMapSvg(cells, { title });
}

/**
 * Writes `<out>/partition-map.png` and, with validation details, `<out>/predictions-map.png`; returns the
 * files written. A picture that cannot be drawn is a warning, never a failed run.
 */
export async function writeRunMaps(out: string, partition: S2Partition, details: GeoValidation | null, log: (line: string) => void): Promise<string[]> {
  const written: string[] = [];
  const pictures: [string, () => string][] = [['partition-map.png', () => partitionPicture(partition, `${partition.cells.length} S2 cells (t-max ${partition.tMax}, t-min ${partition.tMin}), coloured by training photos`)]];
  if (details !== null) {
    const title = `validation: ${details.predictions.length} photos, median error ${details.scores.medianKm.toFixed(0)} km`;
    pictures.push(['predictions-map.png', () => predictionsMapSvg(details.predictions.map((p) => ({ truth: p.truth, predicted: p.predicted })), { title })]);
  }
  for (const [name, svg] of pictures) {
    const file = path.join(out, name);
    try {
      await writeSvgAsPng(svg(), file);
      written.push(file);
    } catch (error) {
      log(`warning: could not draw ${file}: ${(error as Error).message}`);
    }
  }
  return written;
}
