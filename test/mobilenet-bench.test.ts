import { runCli } from './run-cli';

describe('mobilenet bench train (end to end)', () => {
  it('--json reports images/s, the backend, a kernel breakdown and no leaked tensors', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '2', '--warmup', '1', '--cpu-batch', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.backend).toBe('wasm');
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    expect(result.tensorGrowth).toBe(0);
    expect(result.kernels.map((k: { kernel: string }) => k.kernel)).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'MobileNetsBatchNormTrainingGrad']));
    expect(result.cpuImagesPerSecond).toBeGreaterThan(0);
    expect(result.speedupOverCpu).toBeCloseTo(result.imagesPerSecond / result.cpuImagesPerSecond, 6);
  });

  it('trains V2 over two data-parallel workers with accumulation', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--arch', 'v2', '--alpha', '0.35', '--input-size', '32', '--batch', '8', '--steps', '2', '--warmup', '1', '--workers', '2', '--accumulate', '2', '--no-cpu', '--json']);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.workers).toBe(2);
    expect(result.accumulate).toBe(2);
    expect(Number.isFinite(result.lastLoss)).toBe(true);
  });

  it('rejects a batch that cannot be split', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--alpha', '0.25', '--input-size', '32', '--batch', '2', '--workers', '2', '--accumulate', '2', '--no-cpu', '--steps', '1', '--warmup', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('a batch of 2 cannot be split over 2 workers × 2 micro-batches');
  });
});
