import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readGeoCsv } from './geo-csv';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-geo-csv-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes `csv` as <name>/photos.csv and an empty file for each of `images` (relative to <name>/). */
function manifest(name: string, csv: string, images: string[] = []): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const image of images) {
    fs.mkdirSync(path.dirname(path.join(dir, image)), { recursive: true });
    fs.writeFileSync(path.join(dir, image), 'x');
  }
  const file = path.join(dir, 'photos.csv');
  fs.writeFileSync(file, csv);
  return file;
}

describe('readGeoCsv', () => {
  it('reads path,lat,lon rows with absolute paths relative to the CSV folder, and their line numbers', async () => {
    const file = manifest('good', 'path,lat,lon\nimages/a.png,48.8584,2.2945\n\nimages/b.png,-33.8568,151.2153\r\nc.jpg,0,-180\n', ['images/a.png', 'images/b.png', 'c.jpg']);
    const dir = path.dirname(file);
    const { records, badRows } = await readGeoCsv(file);
    expect(badRows).toEqual([]);
    expect(records).toEqual([
      { path: path.join(dir, 'images/a.png'), lat: 48.8584, lon: 2.2945, line: 2 },
      { path: path.join(dir, 'images/b.png'), lat: -33.8568, lon: 151.2153, line: 4 },
      { path: path.join(dir, 'c.jpg'), lat: 0, lon: -180, line: 5 },
    ]);
  });

  it('takes the columns in any order and case, ignores extra columns, accepts latitude/lng aliases, quoted fields and a BOM', async () => {
    const file = manifest('order', '\uFEFF id , Longitude,LATITUDE, File \n7,"2.5",-1e1,"a, b.png"\n', ['a, b.png']);
    const { records, badRows } = await readGeoCsv(file);
    expect(badRows).toEqual([]);
    expect(records).toEqual([{ path: path.join(path.dirname(file), 'a, b.png'), lat: -10, lon: 2.5, line: 2 }]);
  });

  it('resolves relative paths against imagesDir and keeps absolute ones', async () => {
    const elsewhere = path.join(tmp, 'elsewhere');
    fs.mkdirSync(elsewhere, { recursive: true });
    fs.writeFileSync(path.join(elsewhere, 'x.png'), 'x');
    const absolute = path.join(tmp, 'abs.png');
    fs.writeFileSync(absolute, 'x');
    const file = manifest('dirs', `path,lat,lon\nx.png,1,2\n${absolute},3,4\n`);
    const { records, badRows } = await readGeoCsv(file, { imagesDir: elsewhere });
    expect(badRows).toEqual([]);
    expect(records.map((r) => r.path)).toEqual([path.join(elsewhere, 'x.png'), absolute]);
  });

  it('reports each bad row by line, naming the field, the value and what was expected, and keeps the good rows', async () => {
    const rows = [
      'path,lat,lon', // 1
      'ok.png,10,20', // 2
      'ok.png,95.2,20', // 3
      'ok.png,-90.5,20', // 4
      'ok.png,10,180.01', // 5
      'ok.png,10,-200', // 6
      'ok.png,,20', // 7
      'ok.png,abc,20', // 8
      'ok.png,NaN,20', // 9
      'ok.png,10,Infinity', // 10
      'ok.png,0x10,20', // 11
      ',10,20', // 12
      'ok.png,10', // 13
      'ok.png,10,20,30', // 14
      'ok.png,"10,20', // 15
      'ok.png,95,abc', // 16
      'missing.png,1,2', // 17
      'ok.png,90,-180', // 18
    ];
    const file = manifest('bad', `${rows.join('\n')}\n`, ['ok.png']);
    const { records, badRows } = await readGeoCsv(file);
    expect(records.map((r) => r.line)).toEqual([2, 18]);
    expect(records[1]).toMatchObject({ lat: 90, lon: -180 });
    const message = new Map(badRows.map((b) => [b.line, b.message]));
    expect([...message.keys()]).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(message.get(3)).toBe(`${file}:3: lat 95.2 is outside [-90, 90]`);
    expect(message.get(4)).toBe(`${file}:4: lat -90.5 is outside [-90, 90]`);
    expect(message.get(5)).toBe(`${file}:5: lon 180.01 is outside [-180, 180]`);
    expect(message.get(6)).toBe(`${file}:6: lon -200 is outside [-180, 180]`);
    expect(message.get(7)).toBe(`${file}:7: lat is empty; expected decimal degrees in [-90, 90]`);
    expect(message.get(8)).toBe(`${file}:8: lat 'abc' is not a number; expected decimal degrees in [-90, 90]`);
    expect(message.get(9)).toBe(`${file}:9: lat 'NaN' is not a number; expected decimal degrees in [-90, 90]`);
    expect(message.get(10)).toBe(`${file}:10: lon 'Infinity' is not a number; expected decimal degrees in [-180, 180]`);
    expect(message.get(11)).toContain("lat '0x10' is not a number");
    expect(message.get(12)).toBe(`${file}:12: path is empty; expected the image file path`);
    expect(message.get(13)).toBe(`${file}:13: expected 3 fields like the header (path,lat,lon), found 2: 'ok.png,10'`);
    expect(message.get(14)).toContain('expected 3 fields like the header (path,lat,lon), found 4');
    expect(message.get(15)).toBe(`${file}:15: unterminated quoted field (quoted fields may not span lines).`);
    expect(message.get(16)).toBe(`${file}:16: lat 95 is outside [-90, 90]; lon 'abc' is not a number; expected decimal degrees in [-180, 180]`);
    expect(message.get(17)).toBe(`${file}:17: path 'missing.png' does not exist (looked for ${path.join(path.dirname(file), 'missing.png')}, relative to the CSV's folder; pass imagesDir if the images are elsewhere); expected an image file`);
  });

  it('reports a folder given as an image, and skips the file check when checkFiles is false', async () => {
    const file = manifest('files', 'path,lat,lon\nsub,1,2\nnone.png,3,4\n', ['sub/inner.png']);
    const checked = await readGeoCsv(file);
    expect(checked.records).toEqual([]);
    expect(checked.badRows.map((b) => b.message)).toEqual([
      expect.stringContaining(":2: path 'sub' is not a file"),
      expect.stringContaining(":3: path 'none.png' does not exist"),
    ]);
    const unchecked = await readGeoCsv(file, { checkFiles: false });
    expect(unchecked.badRows).toEqual([]);
    expect(unchecked.records.map((r) => r.line)).toEqual([2, 3]);
  });

  it('throws, naming the file, when the file is missing or is a folder', async () => {
    const missing = path.join(tmp, 'nope', 'photos.csv');
    await expect(readGeoCsv(missing)).rejects.toThrow(`readGeoCsv: cannot read the CSV file ${missing}: it does not exist.`);
    await expect(readGeoCsv(tmp)).rejects.toThrow(`cannot read the CSV file ${tmp}: it is a directory`);
  });

  it('throws on a header without the needed columns, saying which are missing and showing the header found', async () => {
    const noLon = manifest('no-lon', 'path,lat,altitude\na.png,1,2\n');
    await expect(readGeoCsv(noLon)).rejects.toThrow(`${noLon}:1: the header row must name the columns path, lat and lon (any order, any case). Missing: lon ('lon', 'lng', 'long', 'longitude'). Found the header 'path,lat,altitude'.`);
    const noHeader = manifest('no-header', '\n\na.png,48.1,2.3\nb.png,1,2\n');
    const error = readGeoCsv(noHeader);
    await expect(error).rejects.toThrow(`${noHeader}:3: the header row must name the columns path, lat and lon`);
    await expect(readGeoCsv(noHeader)).rejects.toThrow("Missing: path ('path', 'file', 'filename', 'image'), lat ('lat', 'latitude'), lon ('lon', 'lng', 'long', 'longitude'). Found the header 'a.png,48.1,2.3'. The first row looks like data: add a header row such as 'path,lat,lon' above it.");
    const twice = manifest('twice', 'path,lat,lon,lng\na.png,1,2,3\n');
    await expect(readGeoCsv(twice)).rejects.toThrow(`${twice}:1: the header names the lon column 2 times ('lon', 'lng'); expected one.`);
  });

  it('throws on an empty file and on a header without rows', async () => {
    const empty = manifest('empty', ' \n\n');
    await expect(readGeoCsv(empty)).rejects.toThrow(`readGeoCsv: ${empty} is empty. Expected a header row 'path,lat,lon'`);
    const headerOnly = manifest('header-only', 'path,lat,lon\n\n');
    await expect(readGeoCsv(headerOnly)).rejects.toThrow(`readGeoCsv: ${headerOnly} has a header but no rows.`);
  });

  it('rejects bad arguments by name', async () => {
    await expect(readGeoCsv('')).rejects.toThrow(TypeError);
    const file = manifest('args', 'path,lat,lon\na.png,1,2\n');
    await expect(readGeoCsv(file, { imagesDir: '' })).rejects.toThrow('readGeoCsv: imagesDir must be a non-empty string');
    await expect(readGeoCsv(file, { checkFiles: 'no' as unknown as boolean })).rejects.toThrow('readGeoCsv: checkFiles must be true or false. Received no.');
  });
});
