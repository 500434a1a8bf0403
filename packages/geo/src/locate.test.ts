import { S2CellId } from 'nodes2ts';
import { locate, mostPopulousCell } from './locate';
import { S2Partition } from './partition';

/** Cells: the cube faces 0, 1 and 3 (centred on (0°, 0°), (0°, 90°), (0°, 180°)), with hand-set means and counts. */
function handMade(means: [number, number][], counts = [5, 9, 9]): S2Partition {
  const cells = [0, 1, 3].map((face, i) => {
    const id = S2CellId.fromFace(face);
    const c = id.toLatLng();
    return { token: id.toToken(), level: 0, count: counts[i], center: [c.latDegrees, c.lngDegrees], mean: means[i] };
  });
  return S2Partition.fromJson({ tMax: 10, tMin: 1, maxLevel: 30, cells }, 'test');
}

const RAD = Math.PI / 180;

describe('locate', () => {
  const partition = handMade([
    [10, 10],
    [20, 80],
    [-5, 170],
  ]);

  it("puts the image at the most probable cell's location, the photos' mean by default", () => {
    const p = locate([0.1, 0.7, 0.2], partition);
    expect(p.cell).toBe(1);
    expect(p.token).toBe('3');
    expect(p.confidence).toBeCloseTo(0.7, 9);
    expect(p.location).toEqual({ lat: 20, lon: 80 });
    expect(p.top.map((t) => [t.cell, t.token, t.probability])).toEqual([
      [1, '3', 0.7],
      [2, '7', 0.2],
      [0, '1', 0.1],
    ]);
    expect(p.top[1].location).toEqual({ lat: -5, lon: 170 });
    const centre = locate([0.1, 0.7, 0.2], partition, { mode: 'center' });
    expect(centre.location.lat).toBeCloseTo(0, 9);
    expect(centre.location.lon).toBeCloseTo(90, 9);
  });

  it('reports as many cells as asked, and ranks ties by the lower index', () => {
    expect(locate([0.4, 0.4, 0.2], partition).cell).toBe(0);
    expect(locate([0.2, 0.4, 0.4], partition, { report: 2 }).top.map((t) => t.cell)).toEqual([1, 2]);
    expect(locate(Float32Array.from([0.3, 0.3, 0.3]), partition).top.map((t) => t.cell)).toEqual([0, 1, 2]);
    expect(locate([0, 0, 1], partition, { report: 1 }).top).toHaveLength(1);
  });

  it('with topK > 1, weights the k most probable locations on the sphere', () => {
    const equator = handMade([
      [0, 10],
      [0, 40],
      [0, -170],
    ]);
    // 0.6 and 0.2 on (0°, 10°) and (0°, 40°): the direction of 0.6·v₁ + 0.2·v₂ (the linear average would be 17.5°).
    const expectedLon = Math.atan2(0.6 * Math.sin(10 * RAD) + 0.2 * Math.sin(40 * RAD), 0.6 * Math.cos(10 * RAD) + 0.2 * Math.cos(40 * RAD)) / RAD;
    const p = locate([0.6, 0.2, 0.15], equator, { topK: 2 });
    expect(p.location.lat).toBeCloseTo(0, 9);
    expect(p.location.lon).toBeCloseTo(expectedLon, 9);
    expect(expectedLon).toBeCloseTo(17.37, 2);
    expect(p.cell).toBe(0);
    expect(p.confidence).toBeCloseTo(0.6, 6);
    expect(locate([0.6, 0.2, 0.15], equator, { topK: 1 }).location).toEqual({ lat: 0, lon: 10 });
    // Across the antimeridian: 170° and -170° with equal weights average to 180°, not 0°.
    const across = handMade([
      [0, 0],
      [0, 170],
      [0, -170],
    ]);
    const q = locate([0, 0.5, 0.5], across, { topK: 2 });
    expect(Math.abs(q.location.lon)).toBeCloseTo(180, 9);
  });

  it('rejects probabilities of the wrong length or not finite, and bad options', () => {
    expect(() => locate([0.5, 0.5], partition)).toThrow(new RangeError('locate: probabilities must hold one value per cell of the partition (3) for one image. Received 2 values.'));
    expect(() => locate(new Float32Array(4), partition)).toThrow(/one value per cell of the partition \(3\).*Received 4 values/);
    expect(() => locate([0.5, NaN, 0.5], partition)).toThrow(/probabilities\[1\] must be a finite number/);
    expect(() => locate([1, 0, 0], partition, { topK: 4 })).toThrow(/topK must be an integer in \[1, 3\].*Received 4/);
    expect(() => locate([1, 0, 0], partition, { report: 0 })).toThrow(/report must be an integer in \[1, 3\].*Received 0/);
    expect(() => locate([1, 0, 0], partition, { mode: 'centre' as 'center' })).toThrow(/mode must be 'mean'/);
    expect(() => locate([1, 0, 0], {} as S2Partition)).toThrow(TypeError);
  });
});

describe('mostPopulousCell', () => {
  it('gives the cell with the most photos (the lower index on a tie) and its location', () => {
    const partition = handMade(
      [
        [10, 10],
        [20, 80],
        [-5, 170],
      ],
      [5, 9, 9],
    );
    expect(mostPopulousCell(partition)).toEqual({ cell: 1, location: { lat: 20, lon: 80 } });
    const centre = mostPopulousCell(partition, 'center');
    expect(centre.cell).toBe(1);
    expect(centre.location.lon).toBeCloseTo(90, 9);
    expect(mostPopulousCell(handMade([[10, 10], [20, 80], [-5, 170]], [1, 2, 30])).cell).toBe(2);
  });
});
