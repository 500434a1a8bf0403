import { runCli } from './run-cli';

describe('mobilenet bench train (end to end)', () => {
  it('--json reports images/s, the backend, a kernel breakdown and no leaked tensors; progress goes to stderr', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'tfjs', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '2', '--warmup', '1', '--cpu-batch', '2', '--json']);
    expect(r.status).toBe(0);
    // stderr (not a terminal here): each phase as it starts and ends.
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'training (in process): warm-up, 1 step…',
      expect.stringMatching(/^training \(in process\): warm-up: 1 step in \d+\.\d s \(\d+\.\d s\/step\)$/),
      'training (in process): timed steps, 2 steps…',
      expect.stringMatching(/^training \(in process\): timed steps: 2 steps in \d+\.\d s/),
      'training (in process): profiling one step…',
      expect.stringMatching(/^training \(in process\): profiling one step: done in /),
      'cpu backend, batch 2: timed steps, 1 step…',
      expect.stringMatching(/^cpu backend, batch 2: timed steps: 1 step in /),
    ]);
    const result = JSON.parse(r.stdout);
    expect(result.backend).toBe('wasm');
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    expect(result.tensorGrowth).toBe(0);
    expect(result.kernels.map((k: { kernel: string }) => k.kernel)).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'MobileNetsBatchNormTrainingGrad']));
    expect(result.cpuImagesPerSecond).toBeGreaterThan(0);
    expect(result.speedupOverCpu).toBeCloseTo(result.imagesPerSecond / result.cpuImagesPerSecond, 6);
    // The memory plan: the batch fits whole; the estimate is of the step's peak heap, which grew past its initial 16 MiB.
    expect(result.accumulate).toBe(1);
    expect(result.microBatch).toBe(4);
    expect(result.estimatedPeakMiB).toBeGreaterThan(0);
    expect(result.wasmHeapMiB).toBeGreaterThanOrEqual(16);
  });

  it('--engine onnx trains on onnxruntime: the loss on the repeated batch falls (at 32 px, batch 4, it rises on both engines), no memory plan, no wasm heap', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'onnx', '--arch', 'v2', '--alpha', '0.35', '--input-size', '64', '--batch', '8', '--steps', '6', '--warmup', '0', '--no-cpu', '--json']);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ engine: 'onnx', backend: 'onnxruntime', workers: 1, batch: 8, steps: 6, estimatedPeakMiB: null, wasmHeapMiB: null, kernels: [] });
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    expect(result.lastLoss).toBeLessThan(result.firstLoss);
    const text = runCli('mobilenet', ['bench', 'train', '--engine', 'onnx', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '1', '--warmup', '0', '--no-cpu']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/onnxruntime training engine \(one compiled graph per step\), 2 threads\n[\d.]+ images\/s/);
  });

  it('--engine both measures each engine in its own process and their ratio; --profile adds the compiled step\'s profile', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'both', '--profile', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '2', '--warmup', '0', '--workers', '2', '--no-cpu', '--json']);
    expect(r.status).toBe(0);
    const { onnx, tfjs, onnxOverTfjs } = JSON.parse(r.stdout);
    expect(onnx).toMatchObject({ engine: 'onnx', backend: 'onnxruntime', workers: 1, batch: 4, steps: 2 });
    expect(tfjs).toMatchObject({ engine: 'tfjs', workers: 2, batch: 4, steps: 2, profile: null });
    expect(onnxOverTfjs).toBeCloseTo(onnx.imagesPerSecond / tfjs.imagesPerSecond, 6);
    for (const e of [onnx, tfjs]) expect(e.peakRssMiB).toBeGreaterThan(50);
    expect(onnx.profile.byOperator.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['Conv', 'BatchNormalization']));
    expect(onnx.profile.byRole.reduce((sum: number, p: { percent: number }) => sum + p.percent, 0)).toBeCloseTo(100, 3);
  });

  it('refuses a model that does not fit even one image at a time, before training, with the input size that fits', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'tfjs', '--arch', 'v1', '--alpha', '1', '--input-size', '4096', '--batch', '1', '--no-cpu', '--json']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^error: 'mobilenet_v1_1.00_4096' at input 4096 needs about \d+ GiB to train even one image at a time on wasm, more than the wasm heap \(3\.9 GiB usable\)\. The largest input size that fits is \d+; train at \d+ or smaller\.\n/,
    );
    expect(r.stderr).not.toContain('training (in process)');
  });

  it('trains V2 over two data-parallel workers with accumulation', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'tfjs', '--arch', 'v2', '--alpha', '0.35', '--input-size', '32', '--batch', '8', '--steps', '2', '--warmup', '1', '--workers', '2', '--accumulate', '2', '--no-cpu', '--json']);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.workers).toBe(2);
    expect(result.accumulate).toBe(2);
    expect(Number.isFinite(result.lastLoss)).toBe(true);
  });

  it('measures the apps\' engine by default (onnx, or MOBILENETS_TRAINER), and refuses tfjs layout options without --engine tfjs', () => {
    const byDefault = runCli('mobilenet', ['bench', 'train', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '1', '--warmup', '0', '--json']);
    expect(byDefault.status).toBe(0);
    expect(JSON.parse(byDefault.stdout)).toMatchObject({ engine: 'onnx', backend: 'onnxruntime' });
    const workers = runCli('mobilenet', ['bench', 'train', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--workers', '2', '--steps', '1']);
    expect(workers.status).toBe(2);
    expect(workers.stderr).toContain('--workers 2: tfjs engine option, but this measures the onnxruntime engine (the default). Add --engine tfjs');
    const env = runCli('mobilenet', ['bench', 'train', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '4', '--steps', '1', '--warmup', '0', '--no-cpu', '--json'], { MOBILENETS_TRAINER: 'tfjs' });
    expect(env.status).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({ engine: 'tfjs', backend: 'wasm' });
    const bad = runCli('mobilenet', ['bench', 'train', '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--steps', '1'], { MOBILENETS_TRAINER: 'gpu' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("MOBILENETS_TRAINER=gpu: expected 'ort'");
  });

  it('rejects a batch that cannot be split', () => {
    const r = runCli('mobilenet', ['bench', 'train', '--engine', 'tfjs', '--alpha', '0.25', '--input-size', '32', '--batch', '2', '--workers', '2', '--accumulate', '2', '--no-cpu', '--steps', '1', '--warmup', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('a batch of 2 cannot be split over 2 workers × 2 micro-batches');
  });
});
