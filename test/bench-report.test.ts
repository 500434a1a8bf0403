/**
 * tools/bench/report.ts (npm run bench) without measuring: --render draws report.md and the plot from a
 * hand-made report.json, and the command line refuses what it should. Its measuring runs are manual
 * (`npm run bench -- --quick`, ~1 min): too slow for the suite.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

const bench = (...args: string[]) => spawnSync(process.execPath, ['-r', './tools/ts-register.js', 'tools/bench/report.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

const REPORT = {
  kind: 'mobilenets-bench-report',
  date: '2026-12-01T10:00:00.000Z',
  quick: false,
  machine: { cpu: 'Test CPU', vectorExtensions: ['avx', 'avx2', 'fma'], cores: 2, memoryGiB: 8, os: 'Linux', node: 'v20.0.0', onnxruntime: '1.30.0', tfjs: '4.22.0', tfjsBackends: ['wasm', 'cpu'], loadAverageAtStart: 0.1 },
  sections: [
    { section: 'inference', seconds: 90, budgetSeconds: 600, skipped: [] },
    { section: 'training', seconds: 30, budgetSeconds: 600, skipped: ['V1 1.0-224 b16: tfjs wasm, 2 workers'] },
    { section: 'detection', seconds: 12, budgetSeconds: 240, skipped: [] },
  ],
  inference: {
    threads: 2,
    warmup: 5,
    runs: 50,
    budgetMsPerEngine: { 'onnxruntime fp32': 10000, 'tfjs wasm': 15000 },
    cpuModels: ['V1 0.25-128'],
    models: [
      { model: 'V1 1.0-224', arch: 'v1', alpha: 1, inputSize: 224, multAdds: 569e6, params: 4.2e6, latency: [{ engine: 'onnxruntime fp32', msPerImage: 2, runs: 50 }, { engine: 'onnxruntime int8', msPerImage: 1, runs: 50 }, { engine: 'tfjs wasm', msPerImage: 20, runs: 50 }] },
      { model: 'V1 0.25-128', arch: 'v1', alpha: 0.25, inputSize: 128, multAdds: 14e6, params: 0.47e6, latency: [{ engine: 'onnxruntime fp32', msPerImage: 0.5, runs: 50 }, { engine: 'tfjs cpu', msPerImage: 100, runs: 4 }] },
    ],
  },
  training: {
    rows: [
      { model: 'V1 0.25-128', batch: 32, engine: 'onnxruntime engine', warmupSteps: 2, steps: 20, imagesPerSecond: 100, msPerStep: 320 },
      { model: 'V1 0.25-128', batch: 32, engine: 'tfjs wasm, in process', warmupSteps: 2, steps: 20, imagesPerSecond: 50, msPerStep: 640 },
      { model: 'V1 0.25-128', batch: 4, engine: 'tfjs cpu', warmupSteps: 0, steps: 1, imagesPerSecond: 0.2, msPerStep: 20000 },
    ],
  },
  detection: {
    image: 'sample1.jpg 1920×1280',
    runs: 30,
    warmup: 3,
    minScore: 0.5,
    rows: [{ model: 'SSDLite 320, V1 α 0.5', inputSize: 320, anchors: 2034, multAdds: 320e6, params: 1.04e6, preprocessMs: 1, networkMs: 10, endToEndMs: 15 }],
  },
};

describe('npm run bench (tools/bench/report.ts)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-bench-report-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('--render writes report.md with one table per section and ratios to the reference engine, and the plot as a 900×600 PNG', () => {
    const input = path.join(tmp, 'input.json');
    fs.writeFileSync(input, JSON.stringify(REPORT));
    const out = path.join(tmp, 'report');
    const r = bench('--render', input, '--out', out, '--json');
    expect(r.stderr).toContain('wrote');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(REPORT);
    expect(fs.readdirSync(out).sort()).toEqual(['latency-vs-multadds.png', 'report.json', 'report.md']);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('| CPU | Test CPU |');
    expect(md).toContain('| vector extensions | avx, avx2, fma |');
    expect(md).toContain('| training | 30.0 s | 10 min 0 s | V1 1.0-224 b16: tfjs wasm, 2 workers |');
    expect(md).toContain('| model | Mult-Adds | params | onnxruntime fp32 ms | onnxruntime int8 ms | × fp32 | tfjs wasm ms | × fp32 | tfjs cpu ms | × fp32 |');
    expect(md).toContain('| V1 1.0-224 | 569.0M | 4.20M | 2.00 | 1.00 | 0.50× | 20.0 | 10× | — | — |');
    expect(md).toContain('| V1 0.25-128 | 14.0M | 0.47M | 0.50 | — | — | — | — | 100 | 200× |');
    expect(md).toContain('| V1 0.25-128 | tfjs wasm, in process | 32 | 20 (2) | 50.0 | 640 | 0.50× |');
    expect(md).toContain('| V1 0.25-128 | tfjs cpu | 4 | 1 (0) | 0.20 | 20000 | 0.0020× |');
    expect(md).toContain('| SSDLite 320, V1 α 0.5 | 320 | 2034 | 320.0M | 1.04M | 1.00 | 10.0 | 4.00 | 15.0 | 1.50× |');
    const png = fs.readFileSync(path.join(out, 'latency-vs-multadds.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([900, 600]);
  });

  it('refuses, with exit 2 and nothing written, a non-empty folder that holds no previous report', () => {
    const folder = path.join(tmp, 'notes');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'mine');
    const refused = bench('--quick', '--out', folder);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/is not empty and holds no previous report .* --overwrite/);
    expect(fs.readdirSync(folder)).toEqual(['notes.txt']);
  });
});
