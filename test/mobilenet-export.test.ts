import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateClassificationDataset } from '@mobilenets/datasets';
import { runCli } from './run-cli';

describe('mobilenet export and bench infer (end to end)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenet-export-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exports V2 and --check reports the tfjs/onnxruntime difference', () => {
    const out = path.join(dir, 'v2.onnx');
    const r = runCli('mobilenet', ['export', '--arch', 'v2', '--alpha', '0.35', '--input-size', '96', '--out', out, '--check', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.maxAbsDiff).toBeLessThan(1e-4);
    expect(fs.statSync(out).size).toBe(result.bytes);
  });

  it('--int8 calibrates on a folder of images and stays close to tfjs', async () => {
    const images = path.join(dir, 'calibration');
    await generateClassificationDataset({ classes: 3, imagesPerClass: 8, size: 64, seed: 1, dir: images });
    // A model with the batch-norm statistics of real images (a built one's activations fade to ~0).
    const run = path.join(dir, 'run');
    const trained = runCli('mobilenet-classify', ['train', '--data', images, '--arch', 'v1', '--alpha', '0.5', '--input-size', '64', '--batch', '8', '--steps', '2', '--seed', '0', '--out', run]);
    expect(trained.status).toBe(0);
    const out = path.join(dir, 'v1-int8.onnx');
    const r = runCli('mobilenet', ['export', '--model', run, '--int8', '--calibration', images, '--out', out, '--check', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.maxAbsDiff).toBeGreaterThan(1e-4); // quantized: not bit-exact
    expect(result.maxAbsDiff).toBeLessThan(2);
    const missing = runCli('mobilenet', ['export', '--int8', '--out', path.join(dir, 'x.onnx')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--int8 needs --calibration DIR');
  });

  it('bench infer --json times onnxruntime and each tfjs backend', () => {
    const r = runCli('mobilenet', ['bench', 'infer', '--arch', 'v1', '--alpha', '0.25', '--input-size', '96', '--runs', '5', '--json']);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.onnxMsPerImage).toBeGreaterThan(0);
    expect(result.onnx).toBeNull(); // the temporary export is gone: not named
    expect(Object.keys(result.msPerImage).sort()).toEqual(['cpu', 'wasm']);
  });

  it('a corrupt ONNX file is a clear error', () => {
    const bad = path.join(dir, 'bad.onnx');
    fs.writeFileSync(bad, 'garbage');
    const r = runCli('mobilenet', ['bench', 'infer', '--onnx', bad, '--no-tfjs']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('bad.onnx is not a valid ONNX model');
  });
});
