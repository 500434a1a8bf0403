import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  ERROR_BANDS,
  baseMapSvg,
  centralAngleDeg,
  equirectangular,
  greatCirclePoints,
  partitionMapSvg,
  predictionsMapSvg,
  ringShifts,
  splitAtAntimeridian,
  unwrapRing,
  writeSvgAsPng,
} from './maps';

const WIDTH = 400;

/** The subpaths of an SVG path's `d` (M… L… Z), each as its list of points. */
function subpaths(d: string): { x: number; y: number }[][] {
  return d
    .split('M')
    .filter((s) => s.trim() !== '')
    .map((s) =>
      s
        .replace(/Z/g, '')
        .split('L')
        .map((pair) => {
          const [x, y] = pair.split(',').map(Number);
          return { x, y };
        }),
    );
}

/** The `d` of every `<path class="…">` of that class. */
function pathsOfClass(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<path class="${cls}" d="([^"]*)"`, 'g'))].map((m) => m[1]);
}

const extent = (points: { x: number }[]) => Math.max(...points.map((p) => p.x)) - Math.min(...points.map((p) => p.x));
const svgSize = (svg: string) => {
  const m = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  return { width: Number(m[1]), height: Number(m[2]) };
};
/** The top of the map in a partition or prediction picture: the y of the frame's clip rectangle. */
const mapTop = (svg: string) => Number(/<clipPath id="map-frame"><rect x="0" y="(\d+)"/.exec(svg)![1]);

describe('equirectangular', () => {
  it('puts the corners at the frame corners and (0, 0) at the centre', () => {
    expect(equirectangular({ lat: 90, lon: -180 }, WIDTH)).toEqual({ x: 0, y: 0 });
    expect(equirectangular({ lat: -90, lon: 180 }, WIDTH)).toEqual({ x: WIDTH, y: WIDTH / 2 });
    expect(equirectangular({ lat: 90, lon: 180 }, WIDTH)).toEqual({ x: WIDTH, y: 0 });
    expect(equirectangular({ lat: 0, lon: 0 }, WIDTH)).toEqual({ x: WIDTH / 2, y: WIDTH / 4 });
    expect(equirectangular({ lat: 45, lon: 90 }, WIDTH)).toEqual({ x: 300, y: 50 });
  });
});

describe('rings across the antimeridian and around the poles', () => {
  const dateLineCell = [
    { lat: 10, lon: 170 },
    { lat: 10, lon: -170 },
    { lat: 20, lon: -170 },
    { lat: 20, lon: 170 },
  ];

  it('unwraps a cell from lon 170 to -170 as 20° wide and draws it once on each side', () => {
    const ring = unwrapRing(dateLineCell);
    expect(ring.maxLon - ring.minLon).toBeCloseTo(20, 12);
    expect(ring.pole).toBeNull();
    expect(ringShifts(ring.minLon, ring.maxLon)).toEqual([-360, 0]);
    expect(ringShifts(10, 20)).toEqual([0]);
    expect(ringShifts(-200, -160)).toEqual([0, 360]);
  });

  it('draws the date-line cell as two 20°-wide pieces at the two edges, not one 340° band', () => {
    const svg = partitionMapSvg([{ vertices: dateLineCell, count: 5 }], { widthPx: WIDTH });
    const [d] = pathsOfClass(svg, 'cell');
    const pieces = subpaths(d);
    expect(pieces).toHaveLength(2);
    for (const piece of pieces) expect(extent(piece)).toBeCloseTo((20 / 360) * WIDTH, 0);
    // One piece reaches past the right edge, the other past the left (the clip path trims both).
    expect(Math.max(...pieces.map((p) => Math.max(...p.map((q) => q.x))))).toBeGreaterThan(WIDTH);
    expect(Math.min(...pieces.map((p) => Math.min(...p.map((q) => q.x))))).toBeLessThan(0);
  });

  it('closes a ring around the north pole along the top edge (and one around the south pole along the bottom)', () => {
    const north = unwrapRing([0, 90, 180, -90].map((lon) => ({ lat: 80, lon })));
    expect(north.pole).toBe('north');
    expect(north.maxLon - north.minLon).toBe(360);
    const atPole = north.points.filter((p) => p.lat === 90);
    expect(atPole.map((p) => p.lon).sort((a, b) => a - b)).toEqual([north.minLon, north.maxLon]);

    const south = unwrapRing([0, -90, 180, 90].map((lon) => ({ lat: -75, lon })));
    expect(south.pole).toBe('south');
    expect(south.points.filter((p) => p.lat === -90)).toHaveLength(2);

    // Drawn: two copies of the 360°-wide polygon, each with a stretch along the map's top (y = mapTop).
    const svg = partitionMapSvg([{ vertices: [0, 90, 180, -90].map((lon) => ({ lat: 80, lon })), count: 3 }], { widthPx: WIDTH });
    const top = mapTop(svg);
    const pieces = subpaths(pathsOfClass(svg, 'cell')[0]);
    expect(pieces.length).toBeGreaterThanOrEqual(1);
    for (const piece of pieces) {
      expect(piece.filter((p) => Math.abs(p.y - top) < 0.06)).toHaveLength(2);
      expect(extent(piece)).toBeCloseTo(WIDTH, 0);
      // Everything else sits at or above lat 80 (its edges bulge poleward), never down across the map.
      for (const p of piece) expect(p.y).toBeLessThanOrEqual(top + (10 / 180) * (WIDTH / 2) + 0.06);
    }
  });

  it('turns a vertex at a pole into the stretch of the pole edge between its neighbours', () => {
    const wedge = unwrapRing([
      { lat: 90, lon: 0 },
      { lat: 60, lon: 0 },
      { lat: 60, lon: 90 },
    ]);
    expect(wedge.pole).toBeNull();
    expect(wedge.points.filter((p) => p.lat === 90).map((p) => p.lon)).toEqual([90, 0]);
    expect(wedge.maxLon - wedge.minLon).toBe(90);
  });

  it('draws Antarctica closed along the bottom edge', () => {
    const svg = baseMapSvg(WIDTH);
    const [land] = pathsOfClass(svg, 'land');
    const bottom = subpaths(land).filter((piece) => piece.some((p) => p.y === WIDTH / 2));
    expect(bottom.length).toBeGreaterThanOrEqual(1);
    for (const piece of bottom) expect(piece.every((p) => p.y > WIDTH / 4)).toBe(true);
  });
});

describe('great circles', () => {
  it('has the midpoint of two equatorial points on the equator halfway between them', () => {
    const [a, mid, b] = greatCirclePoints({ lat: 0, lon: 0 }, { lat: 0, lon: 90 }, 2);
    expect(a).toEqual({ lat: 0, lon: 0 });
    expect(b).toEqual({ lat: 0, lon: 90 });
    expect(mid.lat).toBeCloseTo(0, 10);
    expect(mid.lon).toBeCloseTo(45, 10);
    const across = greatCirclePoints({ lat: 0, lon: 170 }, { lat: 0, lon: -170 }, 2)[1];
    expect(Math.abs(across.lon)).toBeCloseTo(180, 10);
  });

  it('goes over the pole between opposite meridians, in equal steps', () => {
    const points = greatCirclePoints({ lat: 45, lon: 0 }, { lat: 45, lon: 180 }, 4);
    expect(points[2].lat).toBeCloseTo(90, 8);
    for (let i = 1; i < points.length; i++) expect(centralAngleDeg(points[i - 1], points[i])).toBeCloseTo(22.5, 8);
  });

  it('splits a line at the antimeridian at the interpolated latitude', () => {
    const pieces = splitAtAntimeridian([
      { lat: 0, lon: 160 },
      { lat: 0, lon: 170 },
      { lat: 10, lon: -170 },
    ]);
    expect(pieces).toHaveLength(2);
    expect(pieces[0][pieces[0].length - 1]).toEqual({ lat: 5, lon: 180 });
    expect(pieces[1][0]).toEqual({ lat: 5, lon: -180 });
    expect(splitAtAntimeridian([{ lat: 0, lon: -10 }, { lat: 0, lon: 10 }])).toHaveLength(1);
  });
});

describe('partitionMapSvg', () => {
  const square = (lat: number, lon: number, side: number) => [
    { lat, lon },
    { lat, lon: lon + side },
    { lat: lat + side, lon: lon + side },
    { lat: lat + side, lon },
  ];

  it('draws one polygon per cell, coloured by count, with the counts and the number of cells in the legend', () => {
    const cells = [
      { vertices: square(40, -5, 5), count: 12, label: 'a' },
      { vertices: square(30, 100, 10), count: 4500 },
      { vertices: square(-35, 140, 8), count: 310 },
    ];
    const svg = partitionMapSvg(cells, { widthPx: WIDTH });
    expect(pathsOfClass(svg, 'cell')).toHaveLength(3);
    expect(svg).toMatch(/class="legend-min"[^>]*>12</);
    expect(svg).toMatch(/class="legend-max"[^>]*>4,500</);
    expect(svg).toMatch(/class="legend-cells"[^>]*>3 cells · 4,822 photos</);
    // Log scale: the fewest photos take viridis' first colour, the most its last.
    const fills = [...svg.matchAll(/<path class="cell" d="[^"]*" fill="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
    expect(fills[0]).toBe('#440154');
    expect(fills[1]).toBe('#fde725');
    expect(new Set(fills).size).toBe(3);
  });

  it('draws a great-circle edge of a large cell through the points between its corners', () => {
    const svg = partitionMapSvg([{ vertices: square(0, 0, 40), count: 1 }], { widthPx: WIDTH });
    const [piece] = subpaths(pathsOfClass(svg, 'cell')[0]);
    expect(piece.length).toBeGreaterThan(4 * 10);
  });

  it('escapes labels and titles', () => {
    const svg = partitionMapSvg([{ vertices: square(0, 0, 5), count: 2, label: '<token & co>' }], { widthPx: WIDTH, title: 'cells < 5 & more' });
    expect(svg).toContain('cells &lt; 5 &amp; more');
    expect(svg).toContain('&lt;token &amp; co&gt;: 2 photos');
    expect(svg).not.toContain('<token');
    expect(svg).not.toContain('< 5 & more');
  });
});

describe('predictionsMapSvg', () => {
  // Offsets in latitude of 0, 0.1, 1, 5, 20 and 60 degrees: 0, 11, 111, 556, 2224, 6672 km, one a band.
  const items = [0, 0.1, 1, 5, 20, 60].map((dLat, i) => ({ truth: { lat: -10, lon: -60 + i * 20 }, predicted: { lat: -10 + dLat, lon: -60 + i * 20 } }));

  it('gives each band its share of the items in the legend, the shares adding up to 1', () => {
    const svg = predictionsMapSvg([...items, items[5]], { widthPx: WIDTH });
    const rows = [...svg.matchAll(/class="legend-band" data-band="(\w+)" data-count="(\d+)" data-share="([^"]+)"/g)];
    expect(rows.map((m) => m[1])).toEqual(ERROR_BANDS.map((b) => b.name));
    expect(rows.map((m) => Number(m[2]))).toEqual([1, 1, 1, 1, 1, 2]);
    expect(rows.reduce((sum, m) => sum + Number(m[3]), 0)).toBeCloseTo(1, 12);
    expect(svg).toContain('beyond &gt; 2,500 km: 28.6 %');
    expect(pathsOfClass(svg, 'gc')).toHaveLength(7);
    expect(svg.match(/<circle class="truth"/g)).toHaveLength(7);
    expect(pathsOfClass(svg, 'predicted')).toHaveLength(7);
  });

  it('draws at most maxLines items, the same ones every time, and splits lines at the antimeridian', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ truth: { lat: i - 20, lon: 175 }, predicted: { lat: i - 20, lon: -175 } }));
    const svg = predictionsMapSvg(many, { widthPx: WIDTH, maxLines: 7, title: 'A < B & C' });
    expect(predictionsMapSvg(many, { widthPx: WIDTH, maxLines: 7, title: 'A < B & C' })).toBe(svg);
    const lines = pathsOfClass(svg, 'gc');
    expect(lines).toHaveLength(7);
    for (const d of lines) {
      const pieces = subpaths(d);
      expect(pieces).toHaveLength(2);
      for (const piece of pieces) expect(extent(piece)).toBeLessThan((6 / 360) * WIDTH);
    }
    expect(svg).toContain('7 of 40 (evenly sampled) drawn');
    expect(svg).toContain('A &lt; B &amp; C');
  });
});

describe('writeSvgAsPng', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geo-maps-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a PNG of the picture’s size through a temporary file', async () => {
    const svg = partitionMapSvg([{ vertices: [{ lat: 0, lon: 0 }, { lat: 0, lon: 10 }, { lat: 10, lon: 10 }], count: 7, label: 'x & <y>' }], { widthPx: WIDTH, title: '<&>' });
    const file = path.join(dir, 'partition.png');
    await writeSvgAsPng(svg, file);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(WIDTH);
    expect(meta.height).toBe(svgSize(svg).height);
    expect(svgSize(svg).height).toBeGreaterThan(WIDTH / 2);
    expect(fs.readdirSync(dir)).toEqual(['partition.png']);
  });

  it('renders the base map at width × width / 2 and leaves no file when the SVG is broken', async () => {
    const file = path.join(dir, 'base.png');
    await writeSvgAsPng(baseMapSvg(WIDTH), file);
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height]).toEqual([WIDTH, WIDTH / 2]);
    await expect(writeSvgAsPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>a & b</text></svg>', path.join(dir, 'broken.png'))).rejects.toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(['base.png', 'partition.png']);
  });
});
