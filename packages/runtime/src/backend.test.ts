import * as tf from '@tensorflow/tfjs-core';
import { availableBackends, parseBackendEnv, setup } from './backend';

describe('setup()', () => {
  const savedEnv = process.env.MOBILENETS_BACKEND;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.MOBILENETS_BACKEND;
    else process.env.MOBILENETS_BACKEND = savedEnv;
  });

  it('lists what loads, in order of preference, always ending with cpu', () => {
    const available = availableBackends();
    expect(available).toContain('wasm'); // a dependency of the workspace
    expect(available[available.length - 1]).toBe('cpu');
  });

  it('picks the first available backend and logs the choice once', async () => {
    delete process.env.MOBILENETS_BACKEND;
    const lines: string[] = [];
    const info = await setup({ log: (m) => lines.push(m) });
    expect(info.backend).toBe(availableBackends()[0]);
    expect(tf.getBackend()).toBe(info.backend);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`tfjs backend '${info.backend}'`);
    await setup({ log: (m) => lines.push(m) });
    expect(lines).toHaveLength(1);
  });

  it('honours MOBILENETS_BACKEND, and an explicit option over it', async () => {
    process.env.MOBILENETS_BACKEND = 'cpu';
    expect((await setup({ log: null })).backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await setup({ backend: 'wasm', log: null })).backend).toBe('wasm');
  });

  it('rejects an unknown MOBILENETS_BACKEND with the allowed values', () => {
    expect(() => parseBackendEnv('gpu')).toThrow("MOBILENETS_BACKEND must be one of tensorflow, wasm, cpu. Received 'gpu'.");
    expect(parseBackendEnv('')).toBeUndefined();
  });

  it('uses tfjs-node where it loads, and explains its absence where it does not', async () => {
    if (availableBackends().includes('tensorflow')) {
      expect((await setup({ backend: 'tensorflow', log: null })).backend).toBe('tensorflow');
      expect(tf.getBackend()).toBe('tensorflow');
    } else {
      await expect(setup({ backend: 'tensorflow', log: null })).rejects.toThrow(/'tensorflow' is not available here.*optional dependency that needs libtensorflow/);
    }
  });
});
