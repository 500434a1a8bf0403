import { S2CellId } from 'nodes2ts';
import { S2Hierarchy } from './hierarchy';
import { GeoCell, S2Partition } from './partition';
import { photoLocations } from './testing';

/** A cell of a hand-made partition: its S2 centre as both centre and mean unless a mean is given. */
function cell(id: S2CellId, count = 10, mean?: [number, number]): GeoCell {
  const c = id.toLatLng();
  return { token: id.toToken(), level: id.level(), count, center: [c.latDegrees, c.lngDegrees], mean: mean ?? [c.latDegrees, c.lngDegrees] };
}

const children = (id: S2CellId) => {
  const out: S2CellId[] = [];
  for (let c = id.childBegin(); !c.equals(id.childEnd()); c = c.next()) out.push(c);
  return out;
};

const face0 = S2CellId.fromFace(0);
const face1 = S2CellId.fromFace(1);
const [a, b, c, d] = children(face0);
const partition = (cells: GeoCell[]) => S2Partition.fromJson({ tMax: 100, tMin: 1, maxLevel: 30, cells }, 'test');

// coarse: face 0, face 1. middle: the four quarters of face 0 (face 1 has no cell). fine: the quarters of
// quarter a, quarter b whole, and a cell deep in face 1.
const coarse = partition([cell(face1), cell(face0)]);
const middle = partition([cell(a), cell(b), cell(c), cell(d)]);
const deep = face1.childBeginL(5);
const fineCells = [...children(a).map((x) => cell(x)), cell(b), cell(deep)];
const fine = partition(fineCells);

describe('S2Hierarchy', () => {
  const hierarchy = new S2Hierarchy([coarse, middle, fine]);

  it("finds each fine cell's cell in every partition by the fine cell's mean", () => {
    expect(Array.from(hierarchy.ancestors[0])).toEqual([1, 1, 1, 1, 1, 0]);
    expect(Array.from(hierarchy.ancestors[1])).toEqual([0, 0, 0, 0, 1, -1]);
    expect(Array.from(hierarchy.ancestors[2])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(hierarchy.fine).toBe(fine);
  });

  it('uses the mean, not the cell: a fine cell whose photos sit in another coarse cell follows them', () => {
    // Fine cell 0 lies in quarter a, but give it a mean in quarter c (GeoEstimation's rule looks up the mean).
    const inC = c.toLatLng();
    const moved = partition([cell(children(a)[0], 10, [inC.latDegrees, inC.lngDegrees])]);
    expect(Array.from(new S2Hierarchy([middle, moved]).ancestors[0])).toEqual([2]);
  });

  it('multiplies each partition\'s probability of the fine cell\'s ancestors, and scores 0 where a partition has no cell', () => {
    // Two images. coarse: [face1, face0]; middle: [a, b, c, d]; fine: [a0, a1, a2, a3, b, deep].
    const pCoarse = Float32Array.from([0.2, 0.8, /* image 2 */ 0.9, 0.1]);
    const pMiddle = Float32Array.from([0.5, 0.25, 0.125, 0.125, /* image 2 */ 0.1, 0.6, 0.2, 0.1]);
    const pFine = Float32Array.from([0.1, 0.2, 0.3, 0.1, 0.2, 0.1, /* image 2 */ 0.05, 0.05, 0.05, 0.05, 0.3, 0.5]);
    const out = hierarchy.combine([pCoarse, pMiddle, pFine], 2);
    const expected = [
      0.8 * 0.5 * 0.1, 0.8 * 0.5 * 0.2, 0.8 * 0.5 * 0.3, 0.8 * 0.5 * 0.1, 0.8 * 0.25 * 0.2, 0,
      0.1 * 0.1 * 0.05, 0.1 * 0.1 * 0.05, 0.1 * 0.1 * 0.05, 0.1 * 0.1 * 0.05, 0.1 * 0.6 * 0.3, 0,
    ];
    expect(out).toHaveLength(12);
    expected.forEach((e, i) => expect(out[i]).toBeCloseTo(e, 7));
    // Without the middle partition, the deep cell of face 1 gets its coarse probability times its own.
    const twoLevels = new S2Hierarchy([coarse, fine]).combine([pCoarse, pFine], 2);
    expect(twoLevels[5]).toBeCloseTo(0.2 * 0.1, 7);
    expect(twoLevels[11]).toBeCloseTo(0.9 * 0.5, 7);
  });

  it('round-trips through JSON and names the partition of a bad field', () => {
    const json = JSON.parse(JSON.stringify(hierarchy.toJson()));
    expect(Object.keys(json)).toEqual(['partitions']);
    const back = S2Hierarchy.fromJson(json, 'hierarchy.json');
    expect(back.toJson()).toEqual(hierarchy.toJson());
    expect(back.ancestors.map((x) => Array.from(x))).toEqual(hierarchy.ancestors.map((x) => Array.from(x)));
    json.partitions[1].cells[2].token = 'nope';
    expect(() => S2Hierarchy.fromJson(json, 'hierarchy.json')).toThrow(/^hierarchy\.json: partitions\[1\]\.cells\[2\]\.token must be an S2 cell token/);
    json.partitions[1] = 7;
    expect(() => S2Hierarchy.fromJson(json, 'hierarchy.json')).toThrow(new TypeError('hierarchy.json: partitions[1] must be an object { tMax, tMin, maxLevel, cells } (an S2 partition). Received 7.'));
    expect(() => S2Hierarchy.fromJson({ partitions: [] }, 'hierarchy.json')).toThrow(/at least one partition/);
    expect(() => S2Hierarchy.fromJson([], 'hierarchy.json')).toThrow(TypeError);
  });

  it('rejects probabilities of the wrong number or size', () => {
    const ok = [new Float32Array(2), new Float32Array(4), new Float32Array(6)];
    expect(() => hierarchy.combine(ok.slice(0, 2), 1)).toThrow(/expected one probability array per partition \(3, coarse to fine\)\. Received 2/);
    expect(() => hierarchy.combine([ok[0], new Float32Array(5), ok[2]], 1)).toThrow(new RangeError('S2Hierarchy.combine: probabilities[1] must be a Float32Array of images × cells = 1 × 4 = 4 values. Received Float32Array of length 5.'));
    expect(() => hierarchy.combine(ok, 0)).toThrow(/images must be an integer ≥ 1/);
    expect(() => new S2Hierarchy([])).toThrow(TypeError);
  });
});

it('built from the same photos with decreasing tMax, every fine cell lies inside its cell of each coarser partition', () => {
  const points = photoLocations(6000, 21);
  const partitions = [400, 200, 100].map((tMax) => S2Partition.build(points, { tMax, tMin: 5 }).partition);
  expect(partitions.map((p) => p.cells.length)).toEqual([...partitions.map((p) => p.cells.length)].sort((x, y) => x - y));
  const hierarchy = new S2Hierarchy(partitions);
  const fineCells = hierarchy.fine.cells;
  partitions.forEach((p, k) => {
    fineCells.forEach((f, j) => {
      const ancestor = hierarchy.ancestors[k][j];
      expect(ancestor).toBeGreaterThanOrEqual(0);
      expect(S2CellId.fromToken(p.cells[ancestor].token).contains(S2CellId.fromToken(f.token))).toBe(true);
    });
  });
});
