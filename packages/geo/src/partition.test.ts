import { S2CellId, S2LatLng } from 'nodes2ts';
import { haversineKm } from './distance';
import { S2Partition, S2PartitionJson, defaultThresholds } from './partition';
import { meanDirection } from './sphere';
import { photoLocations, shuffled } from './testing';
import type { LatLonDegrees } from './distance';

const leafOf = (p: LatLonDegrees) => S2CellId.fromPoint(S2LatLng.fromDegrees(p.lat, p.lon).toPoint());
const idOf = (token: string) => S2CellId.fromToken(token);

/**
 * The rule written the slow, obvious way: count the photos of every ancestor of every photo; a photo's
 * cell is its coarsest ancestor holding at most tMax photos (or its ancestor at maxLevel), and the photo
 * is kept when that cell holds at least tMin.
 */
function referenceCells(points: readonly LatLonDegrees[], tMax: number, tMin: number, maxLevel: number): { tokens: (string | null)[]; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const leaves = points.map(leafOf);
  for (const leaf of leaves) {
    for (let level = 0; level <= maxLevel; level++) {
      const token = leaf.parentL(level).toToken();
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
  }
  const tokens = leaves.map((leaf) => {
    for (let level = 0; level <= maxLevel; level++) {
      const token = leaf.parentL(level).toToken();
      const count = counts.get(token)!;
      if (count <= tMax || level === maxLevel) return count >= tMin ? token : null;
    }
    throw new Error('unreachable');
  });
  return { tokens, counts };
}

describe('S2Partition.build', () => {
  const points = photoLocations(4000, 3);
  const options = { tMax: 120, tMin: 6, maxLevel: 16 };
  const { partition, classOfPoint } = S2Partition.build(points, options);
  const cells = partition.cells;

  it('keeps cells of [tMin, tMax] photos, ordered by S2 cell id, and cells at maxLevel whatever their count', () => {
    expect(cells.length).toBeGreaterThan(20);
    for (const c of cells) {
      expect(c.count).toBeGreaterThanOrEqual(options.tMin);
      if (c.level < options.maxLevel) expect(c.count).toBeLessThanOrEqual(options.tMax);
      expect(idOf(c.token).level()).toBe(c.level);
    }
    for (let i = 1; i < cells.length; i++) expect(idOf(cells[i - 1].token).lessThan(idOf(cells[i].token))).toBe(true);
    expect(partition.toJson()).toMatchObject(options);
  });

  it('gives pairwise disjoint cells: none contains another', () => {
    for (let i = 0; i < cells.length; i++) {
      for (let j = 0; j < cells.length; j++) {
        if (i !== j) expect(idOf(cells[i].token).intersects(idOf(cells[j].token))).toBe(false);
      }
    }
  });

  it('puts every photo in exactly the cell the rule gives, or drops it exactly when its cell is discarded', () => {
    const reference = referenceCells(points, options.tMax, options.tMin, options.maxLevel);
    expect(cells.map((c) => c.token).sort()).toEqual([...new Set(reference.tokens.filter((t) => t !== null))].sort());
    let dropped = 0;
    points.forEach((p, i) => {
      const c = classOfPoint[i];
      expect(partition.classOf(p)).toBe(c);
      if (c < 0) {
        dropped += 1;
        expect(reference.tokens[i]).toBeNull();
        return;
      }
      expect(cells[c].token).toBe(reference.tokens[i]);
      expect(idOf(cells[c].token).contains(leafOf(p))).toBe(true);
    });
    expect(dropped).toBeGreaterThan(0); // the scattered background leaves sparse cells to discard
    expect(dropped).toBeLessThan(points.length / 4);
  });

  it('counts each cell\'s photos; the counts sum to the kept photos', () => {
    const perCell = new Array<number>(cells.length).fill(0);
    classOfPoint.forEach((c) => c >= 0 && (perCell[c] += 1));
    expect(cells.map((c) => c.count)).toEqual(perCell);
    expect(perCell.reduce((a, b) => a + b, 0)).toBe(classOfPoint.filter((c) => c >= 0).length);
  });

  it("gives each cell its S2 centre and its photos' mean on the sphere", () => {
    cells.forEach((c, k) => {
      const center = idOf(c.token).toLatLng();
      expect(c.center[0]).toBeCloseTo(center.latDegrees, 12);
      expect(c.center[1]).toBeCloseTo(center.lngDegrees, 12);
      const mine = points.filter((_, i) => classOfPoint[i] === k);
      const mean = meanDirection(mine)!;
      expect(haversineKm({ lat: c.mean[0], lon: c.mean[1] }, mean)).toBeLessThan(1e-4); // 10 cm
      expect(idOf(c.token).contains(leafOf({ lat: c.mean[0], lon: c.mean[1] }))).toBe(true);
    });
  });

  it('is deterministic: the same photos in any order give the same JSON', () => {
    const again = S2Partition.build(points, options);
    expect(again.partition.toJson()).toEqual(partition.toJson());
    const mixed = shuffled(points, 77);
    const other = S2Partition.build(mixed.items, options);
    expect(JSON.stringify(other.partition.toJson())).toBe(JSON.stringify(partition.toJson()));
    mixed.order.forEach((from, to) => expect(other.classOfPoint[to]).toBe(classOfPoint[from]));
  });

  it('finds cells by token and gives their locations', () => {
    const k = Math.floor(cells.length / 2);
    expect(partition.classOfToken(cells[k].token)).toBe(k);
    expect(partition.classOfToken(idOf(cells[k].token).parent().toToken())).toBe(-1);
    expect(partition.classOfToken('zz')).toBe(-1);
    expect(partition.locationOf(k, 'mean')).toEqual({ lat: cells[k].mean[0], lon: cells[k].mean[1] });
    expect(partition.locationOf(k, 'center')).toEqual({ lat: cells[k].center[0], lon: cells[k].center[1] });
    expect(() => partition.locationOf(cells.length, 'mean')).toThrow(new RangeError(`S2Partition.locationOf: index must be a class index in [0, ${cells.length}) (the partition's cells). Received ${cells.length}.`));
    expect(() => partition.locationOf(0, 'middle' as 'mean')).toThrow(/mode must be 'mean' .* or 'center' .* Received "middle"/);
    expect(() => partition.classOf({ lat: 91, lon: 0 })).toThrow(/S2Partition.classOf: point.lat must be a latitude in degrees in \[-90, 90\]. Received 91/);
  });

  it('counts cells per level', () => {
    const histogram = partition.levelHistogram();
    expect(histogram.reduce((a, h) => a + h.cells, 0)).toBe(cells.length);
    for (const { level, cells: n } of histogram) expect(cells.filter((c) => c.level === level).length).toBe(n);
    expect(histogram.map((h) => h.level)).toEqual([...histogram.map((h) => h.level)].sort((a, b) => a - b));
    expect(histogram.length).toBeGreaterThan(3);
  });
});

describe('S2Partition.build on hand-made photos', () => {
  it('averages locations on the sphere: photos on both sides of the antimeridian have a mean near 180°, not 0°', () => {
    const points = [
      { lat: 30, lon: 179 },
      { lat: 30, lon: 179 },
      { lat: 30, lon: 179 },
      { lat: 30, lon: -179 },
    ];
    const { partition } = S2Partition.build(points, { tMax: 10, tMin: 1 });
    expect(partition.cells).toHaveLength(1);
    const [cell] = partition.cells;
    expect(cell.level).toBe(0); // face 3, centred on (0°, 180°)
    expect(cell.center[0]).toBeCloseTo(0, 9);
    expect(Math.abs(cell.center[1])).toBeCloseTo(180, 9);
    const mean = partition.locationOf(0, 'mean');
    expect(mean.lat).toBeGreaterThan(30); // the great circle bulges towards the pole
    expect(mean.lat).toBeLessThan(30.1);
    expect(mean.lon).toBeCloseTo(179.5, 1); // the plain average of the longitudes would be 89.5
    expect(haversineKm(partition.locationOf(0, 'center'), mean)).toBeGreaterThan(3000);
  });

  it('splits a crowded cell down to maxLevel and keeps it there however many photos it holds', () => {
    const points = [...Array.from({ length: 50 }, () => ({ lat: 10, lon: 10 })), { lat: -40, lon: -100 }, { lat: -40.0001, lon: -100.0001 }];
    const { partition, classOfPoint } = S2Partition.build(points, { tMax: 5, tMin: 2, maxLevel: 7 });
    expect(partition.cells.map((c) => [c.level, c.count])).toEqual(expect.arrayContaining([[7, 50]]));
    // The two photos far away share a face with nothing else: their face holds 2 ≤ tMax and is kept whole.
    const far = partition.cells.find((c) => c.count === 2)!;
    expect(far.level).toBe(0);
    expect(classOfPoint[50]).toBe(classOfPoint[51]);
  });

  it('discards cells with fewer than tMin photos and keeps one with exactly tMin', () => {
    const points = [{ lat: 0, lon: 0 }, { lat: 0, lon: 0.001 }, { lat: 0, lon: 0.002 }, { lat: 0, lon: 90 }, { lat: 0, lon: 90.001 }];
    const { partition, classOfPoint } = S2Partition.build(points, { tMax: 100, tMin: 3 });
    expect(partition.cells).toHaveLength(1);
    expect(partition.cells[0].count).toBe(3);
    expect(Array.from(classOfPoint)).toEqual([0, 0, 0, -1, -1]);
    expect(partition.classOf({ lat: 0, lon: 90 })).toBe(-1);
    expect(() => S2Partition.build(points, { tMax: 100, tMin: 4 })).toThrow(/every cell held fewer than tMin = 4 photos, so none is kept/);
  });

  it('rejects bad photos and options, naming them', () => {
    expect(() => S2Partition.build([{ lat: 0, lon: 0 }, { lat: 0, lon: 200 }], { tMax: 10, tMin: 1 })).toThrow(
      new RangeError('S2Partition.build: points[1].lon must be a longitude in degrees in [-180, 180]. Received 200.'),
    );
    expect(() => S2Partition.build([{ lat: NaN, lon: 0 }], { tMax: 10, tMin: 1 })).toThrow(/points\[0\]\.lat must be .* Received null/);
    expect(() => S2Partition.build([], { tMax: 10, tMin: 1 })).toThrow(/points must be a non-empty array/);
    expect(() => S2Partition.build([{ lat: 0, lon: 0 }], { tMax: 10, tMin: 11 })).toThrow(/tMin must be an integer in \[1, tMax = 10\].*Received 11/);
    expect(() => S2Partition.build([{ lat: 0, lon: 0 }], { tMax: 0, tMin: 1 })).toThrow(/tMax must be an integer ≥ 1.*Received 0/);
    expect(() => S2Partition.build([{ lat: 0, lon: 0 }], { tMax: 10, tMin: 1, maxLevel: 31 })).toThrow(/maxLevel must be an integer S2 level in \[0, 30\]. Received 31/);
  });
});

describe('S2Partition cell outlines', () => {
  it('gives the corners of a cube face counter-clockwise, and points along its great-circle edges', () => {
    const { partition } = S2Partition.build([{ lat: 0, lon: 0 }], { tMax: 10, tMin: 1 }); // face 0, centred on (0°, 0°)
    const corner = (Math.atan(1 / Math.SQRT2) * 180) / Math.PI; // 35.26°
    const round = (ps: LatLonDegrees[]) => ps.map((p) => [Math.round(p.lat * 1e6) / 1e6, Math.round(p.lon * 1e6) / 1e6]);
    const r = (x: number) => Math.round(x * 1e6) / 1e6;
    const corners = round(partition.cellVerticesDegrees(0));
    expect(corners).toEqual([
      [r(-corner), -45],
      [r(-corner), 45],
      [r(corner), 45],
      [r(corner), -45],
    ]);
    const outline = round(partition.cellVerticesDegrees(0, 2));
    expect(outline).toHaveLength(8);
    // Edge midpoints: the edge from (-35°, -45°) to (-35°, 45°) bulges to -45° latitude on the great circle.
    expect(outline).toEqual([[r(-corner), -45], [-45, 0], [r(-corner), 45], [0, 45], [r(corner), 45], [45, 0], [r(corner), -45], [0, -45]]);
    expect(() => partition.cellVerticesDegrees(0, 0)).toThrow(/pointsPerEdge must be an integer ≥ 1/);
  });

  it('subdivides a small cell into points inside its bounds', () => {
    const { partition } = S2Partition.build(photoLocations(500, 9), { tMax: 20, tMin: 2 });
    const k = partition.cells.findIndex((c) => c.level >= 8);
    const outline = partition.cellVerticesDegrees(k, 5);
    expect(outline).toHaveLength(20);
    const cell = idOf(partition.cells[k].token);
    // Points on an edge lie on the boundary: nudged towards the centre by a hair, they fall inside the cell.
    const center = partition.locationOf(k, 'center');
    for (const p of outline) expect(cell.contains(leafOf({ lat: p.lat + (center.lat - p.lat) * 1e-6, lon: p.lon + (center.lon - p.lon) * 1e-6 }))).toBe(true);
  });
});

describe('S2Partition JSON', () => {
  const { partition } = S2Partition.build(photoLocations(1500, 5), { tMax: 60, tMin: 3 });
  const json = () => JSON.parse(JSON.stringify(partition.toJson())) as S2PartitionJson;

  it('round-trips: the same cells, classes and lookups', () => {
    const back = S2Partition.fromJson(json(), 'partition.json');
    expect(back.toJson()).toEqual(partition.toJson());
    for (const p of photoLocations(300, 6)) expect(back.classOf(p)).toBe(partition.classOf(p));
  });

  it('keeps the order of the cells it reads: class i is cells[i]', () => {
    const j = json();
    j.cells.reverse();
    const back = S2Partition.fromJson(j, 'partition.json');
    const last = partition.cells.length - 1;
    expect(back.cells[0].token).toBe(partition.cells[last].token);
    const p = partition.locationOf(last, 'mean');
    expect(back.classOf(p)).toBe(0);
  });

  const cases: [string, (j: S2PartitionJson & Record<string, unknown>) => unknown, RegExp][] = [
    ['a missing field', (j) => delete (j as Partial<S2PartitionJson>).tMax, /^partition\.json: tMax must be a number\. Received undefined \(the field is missing\)\.$/],
    ['a non-number threshold', (j) => (j.tMin = '3' as unknown as number), /^partition\.json: tMin must be a number\. Received "3"\.$/],
    ['tMin above tMax', (j) => (j.tMin = 100), /^partition\.json: tMin must be an integer in \[1, tMax = 60\]/],
    ['no cells', (j) => (j.cells = []), /^partition\.json: cells must be a non-empty array/],
    ['a cell that is no object', (j) => (j.cells[2] = 'x' as unknown as S2PartitionJson['cells'][0]), /^partition\.json: cells\[2\] must be an object/],
    ['a bad token', (j) => (j.cells[3].token = 'xyz'), /^partition\.json: cells\[3\]\.token must be an S2 cell token .* Received "xyz"\.$/],
    ['a non-canonical token', (j) => (j.cells[3].token = `${j.cells[3].token}0`), /^partition\.json: cells\[3\]\.token must be an S2 cell token/],
    ['an invalid cell id', (j) => (j.cells[3].token = 'f'), /^partition\.json: cells\[3\]\.token must be an S2 cell token .* Received "f"/],
    ['a missing token', (j) => delete (j.cells[1] as Partial<S2PartitionJson['cells'][0]>).token, /^partition\.json: cells\[1\]\.token must be an S2 cell token .* Received undefined/],
    ['a level that is not the token\'s', (j) => (j.cells[0].level += 1), /^partition\.json: cells\[0\]\.level must be the level of token "[0-9a-f]+", \d+\. Received \d+\.$/],
    ['a non-number count', (j) => (j.cells[4].count = null as unknown as number), /^partition\.json: cells\[4\]\.count must be a number\. Received null\.$/],
    ['a negative count', (j) => (j.cells[4].count = -1), /^partition\.json: cells\[4\]\.count must be an integer ≥ 0 \(photos in the cell\)\. Received -1\.$/],
    ['a fractional count', (j) => (j.cells[4].count = 2.5), /cells\[4\]\.count must be an integer ≥ 0/],
    ['a centre that is not the cell\'s', (j) => (j.cells[5].center = [j.cells[5].center[0] + 0.5, j.cells[5].center[1]]), /^partition\.json: cells\[5\]\.center must be the centre of cell "[0-9a-f]+"/],
    ['a mean that is no pair', (j) => (j.cells[5].mean = [1] as unknown as [number, number]), /^partition\.json: cells\[5\]\.mean must be \[lat, lon\], two numbers in degrees\. Received \[1\]\.$/],
    ['a mean off the earth', (j) => (j.cells[5].mean = [0, 181]), /^partition\.json: cells\[5\]\.mean\[1\] must be a longitude in degrees in \[-180, 180\]\. Received 181\.$/],
    ['a duplicate token', (j) => (j.cells[6] = { ...j.cells[2] }), /^partition\.json: cells\[6\]\.token "[0-9a-f]+" repeats cells\[2\]\.token; every cell appears once\.$/],
    [
      'overlapping cells',
      (j) => {
        const parent = idOf(j.cells[4].token).parent();
        const c = parent.toLatLng();
        j.cells[7] = { token: parent.toToken(), level: parent.level(), count: 10, center: [c.latDegrees, c.lngDegrees], mean: [c.latDegrees, c.lngDegrees] };
      },
      /^partition\.json: cells\[4\]\.token "[0-9a-f]+" \(level \d+\) lies inside cells\[7\]\.token "[0-9a-f]+" \(level \d+\); the cells of a partition must not overlap\.$/,
    ],
  ];
  it.each(cases)('rejects %s, naming the field', (_name, spoil, message) => {
    const j = json() as S2PartitionJson & Record<string, unknown>;
    spoil(j);
    expect(() => S2Partition.fromJson(j, 'partition.json')).toThrow(message);
  });

  it('rejects what is not a partition, with the error kinds of the conventions', () => {
    expect(() => S2Partition.fromJson(null, 'p.json')).toThrow(new TypeError('p.json: the partition must be an object { tMax, tMin, maxLevel, cells } (an S2 partition). Received null.'));
    expect(() => S2Partition.fromJson([], 'p.json')).toThrow(TypeError);
    const j = json();
    j.cells[0].count = -1;
    expect(() => S2Partition.fromJson(j, 'p.json')).toThrow(RangeError);
  });
});

describe('defaultThresholds', () => {
  it("grows tMax as the square root of the photos (PlaNet's 10,000 at its 91 M) and takes tMin = tMax / 20", () => {
    expect(defaultThresholds(91_000_000)).toEqual({ tMax: 9539, tMin: 477 });
    expect(defaultThresholds(4_723_695)).toEqual({ tMax: 2173, tMin: 109 });
    expect(defaultThresholds(10_000)).toEqual({ tMax: 100, tMin: 5 });
    expect(defaultThresholds(50)).toEqual({ tMax: 10, tMin: 2 });
    expect(() => defaultThresholds(0)).toThrow(/photos must be an integer ≥ 1.*Received 0/);
  });
});

it('partitions 200,000 photos (a million take a few seconds)', () => {
  const points = photoLocations(200_000, 11);
  const { tMax, tMin } = defaultThresholds(points.length);
  const { partition, classOfPoint } = S2Partition.build(points, { tMax, tMin });
  const kept = classOfPoint.reduce((a, c) => a + (c >= 0 ? 1 : 0), 0);
  expect(partition.cells.reduce((a, c) => a + c.count, 0)).toBe(kept);
  expect(partition.cells.length).toBeGreaterThan(100);
});
