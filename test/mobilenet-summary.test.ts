import { runCli } from './run-cli';

describe('mobilenet summary (end to end)', () => {
  it('prints the V1 1.0-224 layer table with the paper totals', () => {
    const r = runCli('mobilenet', ['summary', '--arch', 'v1', '--alpha', '1', '--input-size', '224']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Conv2d_13_pointwise');
    expect(r.stdout).toContain('568,740,352 Mult-Adds');
    expect(r.stdout).toContain('4,210,088 params');
  });

  it('--json prints one object with the profile fields', () => {
    const r = runCli('mobilenet', ['summary', '--arch', 'v2', '--alpha', '0.35', '--input-size', '96', '--json']);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(Number.isInteger(result.multAdds)).toBe(true);
    expect(Math.floor(result.multAdds / 1e6)).toBe(11);
    expect(Math.round(result.params / 1e4) / 100).toBe(1.66);
    expect(result.bnParams).toBeGreaterThan(0);
    expect(result.layers.length).toBeGreaterThan(50);
    expect(Object.keys(result.byType).sort()).toEqual(['conv', 'depthwise', 'fc', 'pointwise']);
  });

  it('reproduces Table 5 with --variant shallow', () => {
    const r = runCli('mobilenet', ['summary', '--variant', 'shallow', '--json']);
    expect(Math.round(JSON.parse(r.stdout).multAdds / 1e6)).toBe(307);
  });

  it('rejects a bad width multiplier with a clear message and no stack trace', () => {
    const r = runCli('mobilenet', ['summary', '--arch', 'v1', '--alpha', '1.5']);
    expect(r.status).toBe(2); // a usage error
    expect(r.stderr).toContain('--alpha must be a value in (0, 1]');
    expect(r.stderr).toContain('Received 1.5');
    expect(r.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });

  it('rejects a non-numeric option value naming the option', () => {
    const r = runCli('mobilenet', ['summary', '--input-size', 'big']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--input-size');
  });

  it('rejects --variant for V2', () => {
    const r = runCli('mobilenet', ['summary', '--arch', 'v2', '--variant', 'shallow']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exists only for --arch v1');
  });
});
