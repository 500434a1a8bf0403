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

  it('--model ssd: SSD 300 on V1 per part, as the V1 paper\'s Table 13 prints it (1.2B Mult-Adds, 6.8M params)', () => {
    const r = runCli('mobilenet', ['summary', '--model', 'ssd', '--arch', 'v1', '--input-size', '300', '--classes', '90', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ model: 'ssd', arch: 'v1', alpha: 1, inputSize: 300, classes: 90, anchors: 1917 });
    // Rounded as the paper prints them: 0.1B and 0.1M steps (measured 1,237,129,408 and 6,794,495).
    expect(Math.round(result.multAdds / 1e8) / 10).toBe(1.2);
    expect(Math.round(result.parameters / 1e5) / 10).toBe(6.8);
    expect(result.paper).toMatchObject({ multAdds: 1.2e9, parameters: 6.8e6, inputSize: 300, classes: 90, counts: 'model' });
    expect(result.parts.map((p: { part: string }) => p.part)).toEqual(['backbone', 'extra layers', 'box predictors']);
    const total = (key: 'multAdds' | 'parameters') => result.parts.reduce((n: number, p: Record<string, number>) => n + p[key], 0);
    expect([total('multAdds'), total('parameters')]).toEqual([result.multAdds, result.parameters]);
    // The backbone is MobileNetV1 1.0 at 300 px without its classifier: its 3.2M parameters.
    expect(result.parts[0]).toEqual({ part: 'backbone', layers: 27, multAdds: expect.any(Number), parameters: 3185088 });
  });

  it('--model ssdlite --arch v2 defaults to the V2 paper\'s SSDLite 320 (80 classes) and prints the parts, the paper\'s row and the difference', () => {
    const r = runCli('mobilenet', ['summary', '--model', 'ssdlite', '--arch', 'v2']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('SSDLite 320 on MobileNetV2 α 1, 80 classes + background');
    expect(r.stdout).toMatch(/\nbackbone +52 +611,212,800 \(0\.611B\) +2,189,760 \(2\.190M\)\n/);
    expect(r.stdout).toMatch(/\ntotal +88 +788,830,144 \(0\.789B\) +4,286,261 \(4\.286M\)\n/);
    expect(r.stdout).toContain('Paper: 0.8B Mult-Adds, 4.3M params (whole model) — MobileNetV2 paper, Table 6');
    expect(r.stdout).toContain('Difference: none beyond rounding');
    const noTop = runCli('mobilenet', ['summary', '--model', 'ssdlite', '--no-top']);
    expect(noTop.status).toBe(2);
    expect(noTop.stderr).toContain('--no-top is for the classifier');
  });

  it('--model faster-rcnn: Table 13\'s Faster R-CNN 300 and 600 on V1, the second stage counted for 300 proposals, and what the paper\'s count matches', () => {
    const r = runCli('mobilenet', ['summary', '--model', 'faster-rcnn', '--arch', 'v1', '--json']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ model: 'faster-rcnn', inputSize: 300, classes: 90, proposals: 300, featureMapSize: [19, 19], anchors: 19 * 19 * 12, cropSize: 14 });
    // A proposal through Conv2d_12–13 on the max-pooled 7×7 crop (stride 2 → 4×4): 16·9·512 + 16·512·1024 + 16·9·1024 + 16·1024·1024.
    expect(s.parts[2]).toMatchObject({ part: 'box classifier', per: 'proposal', multAddsPerProposal: 25387008, multAdds: 300 * 25387008 });
    // The box predictor: 1024 → 91 classes and 90 × 4 box codes, weights and biases.
    expect(s.parts[3]).toMatchObject({ part: 'box predictor', parameters: 1024 * 91 + 91 + 1024 * 360 + 360 });
    // Without the max-pool (on the 14×14 crops: 7×7 after the stride): the paper's 25.2B; the parameters, 6.0M against its 6.1M.
    expect(s.withoutCropPool.boxClassifierMultAddsPerProposal).toBe(49 * 9 * 512 + 49 * 512 * 1024 + 49 * 9 * 1024 + 49 * 1024 * 1024);
    expect(Math.round(s.withoutCropPool.multAdds / 1e8) / 10).toBe(25.2);
    expect(Math.round(s.parameters / 1e5) / 10).toBe(6);
    expect(s.paper).toMatchObject({ inputSize: 300, multAdds: 25.2e9, parameters: 6.1e6 });
    const at600 = runCli('mobilenet', ['summary', '--model', 'faster-rcnn', '--arch', 'v1', '--input-size', '600']);
    expect(at600.status).toBe(0);
    expect(at600.stdout).toMatch(/\nbox classifier \(×300\) +4 +7,616,102,400 \(7\.616B\) +25,387,008 /);
    expect(at600.stdout).toContain('Paper: 30.5B Mult-Adds, 6.1M params at 600 px');
    expect(at600.stdout).toMatch(/0\.078B a proposal → 30\.49\dB in all, which is the paper's count/);
    const ssd = runCli('mobilenet', ['summary', '--model', 'ssd', '--proposals', '100']);
    expect([ssd.status, ssd.stderr]).toEqual([2, expect.stringContaining("--proposals counts a Faster R-CNN's second stage")]);
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
