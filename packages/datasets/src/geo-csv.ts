/**
 * The geolocation manifest users already have: a CSV of photos and where they were taken.
 *
 * ```csv
 * path,lat,lon
 * images/000001.jpg,48.8584,2.2945
 * /data/trip/IMG_0042.jpg,-33.8568,151.2153
 * ```
 *
 * A header row is required. It names the columns in any order, case-insensitively and with spaces
 * trimmed; other columns are ignored. Accepted names: `path` (or `file`, `filename`, `image`), `lat`
 * (or `latitude`), `lon` (or `lng`, `long`, `longitude`). Coordinates are decimal degrees (WGS 84,
 * north and east positive). Relative paths resolve against `imagesDir`, by default the CSV's folder.
 *
 * A row that cannot be used is reported in `badRows` (by line, naming the field, the value and what was
 * expected) and left out; reading goes on. What makes the whole file unusable throws: the file cannot be
 * read, it has no header naming the three columns, or it has no rows below the header.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCsvLine } from './csv';
import { Limiter } from './limiter';

/** One geotagged photo of a manifest. */
export interface GeoRecord {
  /** Absolute path of the image file. */
  path: string;
  /** Latitude in decimal degrees, [-90, 90], north positive. */
  lat: number;
  /** Longitude in decimal degrees, [-180, 180], east positive. */
  lon: number;
  /** The row's line in the CSV file, counting from 1 (the header is line 1 when it is the first line). */
  line: number;
}

/** A row left out, and why. */
export interface GeoBadRow {
  /** Line in the CSV file, counting from 1. */
  line: number;
  /** `file:line: <field> <value> <problem>; expected <what>`, one clause per problem of the row. */
  message: string;
}

export interface ReadGeoCsvOptions {
  /** Folder that relative paths resolve against. Default: the CSV file's folder. */
  imagesDir?: string;
  /** Check that every image file exists (a row whose file is missing becomes a bad row). Default true. */
  checkFiles?: boolean;
}

export interface GeoCsv {
  /** The usable rows, in file order. */
  records: GeoRecord[];
  /** The rows left out, in file order. Empty when every row is usable. */
  badRows: GeoBadRow[];
}

/** Header names accepted for each column (compared trimmed and lower-case). */
export const GEO_CSV_COLUMNS: Readonly<Record<'path' | 'lat' | 'lon', readonly string[]>> = {
  path: ['path', 'file', 'filename', 'image'],
  lat: ['lat', 'latitude'],
  lon: ['lon', 'lng', 'long', 'longitude'],
};

/** Files checked at once when `checkFiles` is on. */
const STAT_CONCURRENCY = 64;

/** A decimal number as people write coordinates: 12, -0.5, .5, 1e-3. Not hex, not Infinity, not NaN. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses one coordinate field; returns the number, or the problem ("lat 'abc' is not a number; …").
 * `limit` is 90 for latitude, 180 for longitude.
 */
function parseDegrees(field: 'lat' | 'lon', text: string, limit: number): number | string {
  const range = `[-${limit}, ${limit}]`;
  const expected = `expected decimal degrees in ${range}`;
  const value = text.trim();
  if (value === '') return `${field} is empty; ${expected}`;
  if (!DECIMAL.test(value)) return `${field} '${value}' is not a number; ${expected}`;
  const degrees = Number(value);
  if (!Number.isFinite(degrees)) return `${field} '${value}' is not a finite number; ${expected}`;
  if (degrees < -limit || degrees > limit) return `${field} ${value} is outside ${range}`;
  return degrees;
}

/** Column indices of path, lat and lon in the header; throws naming what is missing and what was found. */
function headerColumns(file: string, line: number, fields: string[]): Record<'path' | 'lat' | 'lon', number> {
  const names = fields.map((f) => f.replace(/^\uFEFF/, '').trim().toLowerCase());
  const found = `Found the header '${fields.join(',')}'`;
  const columns = { path: -1, lat: -1, lon: -1 };
  const missing: ('path' | 'lat' | 'lon')[] = [];
  for (const key of ['path', 'lat', 'lon'] as const) {
    const at = names.flatMap((name, i) => (GEO_CSV_COLUMNS[key].includes(name) ? [i] : []));
    if (at.length > 1) {
      throw new Error(`${file}:${line}: the header names the ${key} column ${at.length} times (${at.map((i) => `'${fields[i].trim()}'`).join(', ')}); expected one. ${found}.`);
    }
    if (at.length === 0) missing.push(key);
    else columns[key] = at[0];
  }
  if (missing.length > 0) {
    const accepted = missing.map((key) => `${key} (${GEO_CSV_COLUMNS[key].map((n) => `'${n}'`).join(', ')})`).join(', ');
    const looksLikeData = fields.some((f) => DECIMAL.test(f.trim()));
    const hint = looksLikeData ? ' The first row looks like data: add a header row such as \'path,lat,lon\' above it.' : '';
    throw new Error(`${file}:${line}: the header row must name the columns path, lat and lon (any order, any case). Missing: ${accepted}. ${found}.${hint}`);
  }
  return columns;
}

/** What is wrong with the file at `full`, or null when it is a readable file. */
async function fileProblem(full: string): Promise<string | null> {
  try {
    const stats = await fs.promises.stat(full);
    return stats.isFile() ? null : 'is not a file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be checked (${(error as Error).message})`;
  }
}

/**
 * Reads a geotagged photo manifest (see the module comment for the format). Rows with a problem —
 * a wrong number of fields, an empty path, a coordinate that is empty, not a finite decimal number or
 * out of range, an unterminated quote, or (with `checkFiles`) a missing image file — are returned in
 * `badRows` and left out of `records`; a file where every row is bad gives no records and does not throw.
 */
export async function readGeoCsv(file: string, options: ReadGeoCsvOptions = {}): Promise<GeoCsv> {
  const what = 'readGeoCsv';
  if (typeof file !== 'string' || file === '') throw new TypeError(`${what}: file must be a non-empty string (the CSV's path). Received ${String(file)}.`);
  const { imagesDir, checkFiles = true } = options;
  if (imagesDir !== undefined && (typeof imagesDir !== 'string' || imagesDir === '')) {
    throw new TypeError(`${what}: imagesDir must be a non-empty string (the folder relative paths resolve against). Received ${String(imagesDir)}.`);
  }
  if (typeof checkFiles !== 'boolean') throw new TypeError(`${what}: checkFiles must be true or false. Received ${String(checkFiles)}.`);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new Error(`${what}: cannot read the CSV file ${file}: ${reason}. Expected a CSV with the header 'path,lat,lon' and one row per photo.`, { cause: error });
  }
  const root = path.resolve(imagesDir ?? path.dirname(file));

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  if (headerIndex < 0) throw new Error(`${what}: ${file} is empty. Expected a header row 'path,lat,lon' and one row per photo.`);
  const header = parseCsvLine(lines[headerIndex], file, headerIndex + 1);
  const col = headerColumns(file, headerIndex + 1, header);

  const candidates: { record: GeoRecord; written: string }[] = [];
  const badRows: GeoBadRow[] = [];
  let rows = 0;
  for (let i = headerIndex + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    rows++;
    const line = i + 1;
    let fields: string[];
    try {
      fields = parseCsvLine(lines[i], file, line);
    } catch (error) {
      badRows.push({ line, message: (error as Error).message });
      continue;
    }
    if (fields.length !== header.length) {
      badRows.push({ line, message: `${file}:${line}: expected ${header.length} fields like the header (${header.join(',')}), found ${fields.length}: '${lines[i]}'` });
      continue;
    }
    const problems: string[] = [];
    const p = fields[col.path].trim();
    if (p === '') problems.push('path is empty; expected the image file path');
    const lat = parseDegrees('lat', fields[col.lat], 90);
    const lon = parseDegrees('lon', fields[col.lon], 180);
    if (typeof lat === 'string') problems.push(lat);
    if (typeof lon === 'string') problems.push(lon);
    if (typeof lat === 'string' || typeof lon === 'string' || problems.length > 0) {
      badRows.push({ line, message: `${file}:${line}: ${problems.join('; ')}` });
      continue;
    }
    candidates.push({ record: { path: path.resolve(root, p), lat, lon, line }, written: p });
  }
  if (rows === 0) throw new Error(`${what}: ${file} has a header but no rows. Expected one row per photo below '${header.join(',')}'.`);

  if (!checkFiles) return { records: candidates.map((c) => c.record), badRows };
  const limiter = new Limiter(STAT_CONCURRENCY);
  const fileProblems = await Promise.all(candidates.map((c) => limiter.run(() => fileProblem(c.record.path))));
  const records: GeoRecord[] = [];
  candidates.forEach(({ record, written }, k) => {
    const problem = fileProblems[k];
    if (problem === null) {
      records.push(record);
      return;
    }
    const relativeTo = imagesDir === undefined ? ", relative to the CSV's folder; pass imagesDir if the images are elsewhere" : ', relative to imagesDir';
    const where = path.isAbsolute(written) ? '' : ` (looked for ${record.path}${relativeTo})`;
    badRows.push({ line: record.line, message: `${file}:${record.line}: path '${written}' ${problem}${where}; expected an image file` });
  });
  badRows.sort((a, b) => a.line - b.line);
  return { records, badRows };
}
