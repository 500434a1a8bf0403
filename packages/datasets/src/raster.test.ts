import { createCanvas, fillEllipse, fillPolygon, fillRect, type Canvas } from './raster';

const red = (canvas: Canvas, x: number, y: number) => canvas.data[(y * canvas.width + x) * 3];
const covered = (canvas: Canvas) => {
  let sum = 0;
  for (let i = 0; i < canvas.data.length; i += 3) sum += canvas.data[i] / 200;
  return sum;
};

describe('fillRect', () => {
  it('fills whole pixels fully and edge pixels by the share they cover, and clips to the canvas', () => {
    const canvas = createCanvas(8, 8);
    fillRect(canvas, 1.5, 2, 4, 3.25, [200, 0, 0]);
    expect(red(canvas, 1, 2)).toBe(100); // half the pixel
    expect(red(canvas, 2, 2)).toBe(200);
    expect(red(canvas, 3, 3)).toBe(50); // a quarter
    expect(red(canvas, 4, 2)).toBe(0);
    expect(red(canvas, 0, 2)).toBe(0);
    const clipped = createCanvas(4, 4);
    fillRect(clipped, -10, -10, 2, 10, [200, 0, 0], 0.5);
    expect(red(clipped, 0, 0)).toBe(100);
    expect(red(clipped, 1, 3)).toBe(100);
    expect(red(clipped, 2, 0)).toBe(0);
  });
});

describe('fillPolygon and fillEllipse', () => {
  it('cover about their area', () => {
    const triangle = createCanvas(40, 40);
    fillPolygon(triangle, [5, 5, 35, 5, 5, 35], [200, 0, 0]);
    expect(covered(triangle)).toBeCloseTo(450, -1); // ½ · 30 · 30, within a few pixels of rounding
    const ellipse = createCanvas(40, 40);
    fillEllipse(ellipse, 20, 20, 12, 6, [200, 0, 0]);
    expect(Math.abs(covered(ellipse) - Math.PI * 72)).toBeLessThan(6);
    expect(red(ellipse, 20, 20)).toBe(200);
    expect(red(ellipse, 20, 10)).toBe(0);
  });
});
