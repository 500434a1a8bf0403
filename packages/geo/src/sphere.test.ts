import { meanDirection, pointOfVector, slerp, unitVector } from './sphere';

describe('points on the unit sphere', () => {
  it('turns latitude/longitude into unit vectors and back', () => {
    const [x, y, z] = unitVector({ lat: 0, lon: 90 });
    expect([x, y, z].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([0, 1, 0]);
    expect(unitVector({ lat: 90, lon: 33 })[2]).toBe(1);
    const p = pointOfVector(unitVector({ lat: -33.8688, lon: 151.2093 }))!;
    expect(p.lat).toBeCloseTo(-33.8688, 10);
    expect(p.lon).toBeCloseTo(151.2093, 10);
    expect(pointOfVector([0, 0, 2])).toEqual({ lat: 90, lon: 0 });
    expect(pointOfVector([0, 0, 0])).toBeNull();
  });

  it('averages directions, across the antimeridian and with weights, and has no mean for cancelling points', () => {
    const across = meanDirection([{ lat: 0, lon: 179 }, { lat: 0, lon: -179 }])!;
    expect(across.lat).toBeCloseTo(0, 12);
    expect(Math.abs(across.lon)).toBeCloseTo(180, 12);
    const weighted = meanDirection([{ lat: 0, lon: 0 }, { lat: 0, lon: 90 }], [1, 1])!;
    expect(weighted.lon).toBeCloseTo(45, 12);
    const heavier = meanDirection([{ lat: 0, lon: 0 }, { lat: 0, lon: 90 }], [Math.sqrt(3), 1])!;
    expect(heavier.lon).toBeCloseTo(30, 12); // atan(1/√3)
    expect(meanDirection([{ lat: 0, lon: 0 }, { lat: 0, lon: 180 }])).toBeNull();
    expect(meanDirection([{ lat: 10, lon: 10 }], [0])).toBeNull();
  });

  it('interpolates along the great circle: the ends for t = 0 and 1, equal angles between', () => {
    const a = unitVector({ lat: 0, lon: 0 });
    const b = unitVector({ lat: 0, lon: 90 });
    expect(pointOfVector(slerp(a, b, 0))!.lon).toBeCloseTo(0, 12);
    expect(pointOfVector(slerp(a, b, 1))!.lon).toBeCloseTo(90, 12);
    const third = slerp(a, b, 1 / 3);
    expect(Math.hypot(...third)).toBeCloseTo(1, 12);
    expect(pointOfVector(third)!.lon).toBeCloseTo(30, 12); // 30°, where a straight chord would give 26.6°
    const same = slerp(a, a, 0.5);
    expect(same.map((v) => Math.round(v * 1e12) / 1e12)).toEqual([1, 0, 0]);
  });
});
