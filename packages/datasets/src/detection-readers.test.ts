import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AnnotationError, readCocoDetection, readVocDetection } from './detection-readers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-detection-readers-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

const coco = () => ({
  images: [
    { id: 7, file_name: 'b.png', width: 100, height: 50 },
    { id: 3, file_name: 'a.png', width: 40, height: 40 },
    { id: 9, file_name: 'gone.png', width: 10, height: 10 },
  ],
  categories: [{ id: 18, name: 'dog' }, { id: 1, name: 'person' }],
  annotations: [
    { id: 1, image_id: 7, category_id: 18, bbox: [10, 5, 20, 30], area: 600, iscrowd: 0 },
    { id: 2, image_id: 7, category_id: 1, bbox: [0, 0, 100, 50], area: 5000, iscrowd: 1 },
    { id: 3, image_id: 3, category_id: 1, bbox: [1.5, 2.5, 3, 4], area: 12, iscrowd: 0 },
    { id: 4, image_id: 3, category_id: 1, bbox: [5, 5, 0, 4], area: 0, iscrowd: 0 },
  ],
});

describe('readCocoDetection', () => {
  it('reads images, boxes (xywh → xyxy), classes in category-id order, crowds as ignore; reports missing images', async () => {
    const dir = path.join(tmp, 'coco');
    write(path.join(dir, 'a.png'), 'x');
    write(path.join(dir, 'b.png'), 'x');
    const file = write(path.join(dir, 'instances.json'), JSON.stringify(coco()));
    const ds = await readCocoDetection(file);
    expect(ds.classes).toEqual(['person', 'dog']);
    expect(ds.categoryIds).toEqual([1, 18]);
    expect(ds.records.map((r) => [path.basename(r.path), r.imageId, r.width, r.height])).toEqual([['a.png', 3, 40, 40], ['b.png', 7, 100, 50]]);
    const [a, b] = ds.records;
    expect(Array.from(a.boxesXyxy)).toEqual([1.5, 2.5, 4.5, 6.5]);
    expect(Array.from(a.labels)).toEqual([0]);
    expect(Array.from(b.boxesXyxy)).toEqual([10, 5, 30, 35, 0, 0, 100, 50]);
    expect(Array.from(b.labels)).toEqual([1, 0]);
    expect(Array.from(b.ignore)).toEqual([0, 1]);
    expect(Array.from(a.areas!)).toEqual([12]);
    expect(Array.from(b.areas!)).toEqual([600, 5000]);
    expect(ds.missing).toEqual({ files: 1, examples: [path.join(dir, 'gone.png')] });
    expect(ds.warnings).toEqual(['1 annotation(s) with zero width or height left out.']);
  });

  it('keeps each annotation\'s own area (a segmentation\'s, below the box\'s), and the box\'s where there is none', async () => {
    const dir = path.join(tmp, 'coco-areas');
    write(path.join(dir, 'a.png'), 'x');
    const json = { images: [{ id: 1, file_name: 'a.png', width: 40, height: 40 }], categories: [{ id: 1, name: 'shape' }], annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 20], area: 57, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 1, bbox: [5, 5, 4, 3], iscrowd: 0 },
    ] };
    const ds = await readCocoDetection(write(path.join(dir, 'instances.json'), JSON.stringify(json)));
    expect(Array.from(ds.records[0].areas!)).toEqual([57, 12]);
  });

  it.each([
    ['negative area', (j: ReturnType<typeof coco>) => { j.annotations[2].area = -1; }, 'annotations[2].area: expected a finite number ≥ 0, received -1.'],
    ['bbox of 3 numbers', (j: ReturnType<typeof coco>) => { (j.annotations[2] as { bbox: number[] }).bbox = [1, 2, 3]; }, 'annotations[2].bbox: expected [x, y, width, height], 4 finite numbers with width and height ≥ 0, received [1,2,3].'],
    ['negative width', (j: ReturnType<typeof coco>) => { j.annotations[0].bbox = [1, 2, -3, 4]; }, 'annotations[0].bbox: expected [x, y, width, height]'],
    ['unknown image', (j: ReturnType<typeof coco>) => { j.annotations[1].image_id = 99; }, 'annotations[1].image_id: 99 is not the id of an entry in images.'],
    ['unknown category', (j: ReturnType<typeof coco>) => { j.annotations[0].category_id = 5; }, 'annotations[0].category_id: 5 is not the id of an entry in categories.'],
    ['missing category_id', (j: ReturnType<typeof coco>) => { delete (j.annotations[3] as Partial<(typeof j.annotations)[0]>).category_id; }, 'annotations[3].category_id: expected a finite number, received undefined.'],
    ['image without file_name', (j: ReturnType<typeof coco>) => { (j.images[1] as { file_name?: string }).file_name = undefined; }, 'images[1].file_name: expected a non-empty string'],
    ['duplicate image id', (j: ReturnType<typeof coco>) => { j.images[2].id = 7; }, 'images[2].id: 7 is used by an earlier image too.'],
    ['no annotations array', (j: ReturnType<typeof coco>) => { (j as { annotations?: unknown }).annotations = {}; }, 'annotations: expected an array, received {}. Is this a COCO instances file?'],
  ])('names the file, entry and field: %s', async (_name, damage, message) => {
    const json = coco();
    damage(json);
    const file = write(path.join(tmp, 'bad', 'instances.json'), JSON.stringify(json));
    const read = readCocoDetection(file);
    await expect(read).rejects.toThrow(AnnotationError);
    await expect(readCocoDetection(file)).rejects.toThrow(`${file}: ${message}`);
  });

  it('says when the file is not JSON', async () => {
    const file = write(path.join(tmp, 'bad', 'text.json'), 'images: []');
    await expect(readCocoDetection(file)).rejects.toThrow(/text\.json: not valid JSON/);
  });
});

const vocXml = (file: string, objects: string) =>
  `<annotation><folder>VOC</folder><filename>${file}</filename><size><width>50</width><height>40</height><depth>3</depth></size>${objects}</annotation>`;
const vocObject = (name: string, box: number[], difficult = 0) =>
  `<object><name>${name}</name><pose>Left</pose><difficult>${difficult}</difficult><bndbox><xmin>${box[0]}</xmin><ymin>${box[1]}</ymin><xmax>${box[2]}</xmax><ymax>${box[3]}</ymax></bndbox></object>`;

describe('readVocDetection', () => {
  it('reads Annotations/*.xml: 1-based inclusive corners → continuous xyxy, difficult → ignore, sorted classes, an image set', async () => {
    const dir = path.join(tmp, 'voc');
    write(path.join(dir, 'Annotations', '001.xml'), vocXml('001.jpg', vocObject('dog', [1, 1, 10, 20]) + vocObject('cat', [5, 6, 60, 30], 1)));
    write(path.join(dir, 'Annotations', '002.xml'), vocXml('002.jpg', vocObject('bird', [2, 3, 4, 5])));
    write(path.join(dir, 'JPEGImages', '001.jpg'), 'x');
    write(path.join(dir, 'ImageSets', 'Main', 'val.txt'), '002\n');
    const ds = await readVocDetection(dir);
    expect(ds.classes).toEqual(['bird', 'cat', 'dog']);
    expect(ds.records).toHaveLength(1);
    expect(Array.from(ds.records[0].boxesXyxy)).toEqual([0, 0, 10, 20, 4, 5, 50, 30]); // xmax 60 clipped to the width 50
    expect(Array.from(ds.records[0].labels)).toEqual([2, 1]);
    expect(Array.from(ds.records[0].ignore)).toEqual([0, 1]);
    expect(Array.from(ds.records[0].areas!)).toEqual([200, 1150]); // VOC has no areas: the boxes'
    expect(ds.missing.files).toBe(1);
    expect(ds.warnings).toEqual(['1 box(es) reached outside their image and were clipped to it.']);
    const val = await readVocDetection(dir, { split: 'val' });
    expect(val.classes).toEqual(['bird']);
    expect(val.missing.examples).toEqual([path.join(dir, 'JPEGImages', '002.jpg')]);
  });

  it('names the file and object for a bad box, and the folder when it is not VOC', async () => {
    const dir = path.join(tmp, 'voc-bad');
    const xml = write(path.join(dir, 'Annotations', '001.xml'), vocXml('001.jpg', vocObject('dog', [10, 1, 5, 20])));
    await expect(readVocDetection(dir)).rejects.toThrow(`${xml}: object 1 (dog) bndbox: expected numbers xmin ≤ xmax and ymin ≤ ymax`);
    await expect(readVocDetection(tmp)).rejects.toThrow('no Annotations/ folder');
    await expect(readVocDetection(dir, { split: 'test' })).rejects.toThrow('no such image set: expected ImageSets/Main/test.txt');
  });
});
