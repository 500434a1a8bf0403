/**
 * `mobilenet-classify train` as a run folder: reproducible from its seed, resumable from the folder
 * alone (dropout included), stoppable by SIGTERM without losing work, and guarded against damaging data
 * or a busy folder.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './run-cli';

const classify = (...args: string[]) => runCli('mobilenet-classify', args);
const json = (r: { status: number | null; stdout: string; stderr: string }) => {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const stepLosses = (run: string) =>
  fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'step').map((l) => [l.step, l.loss]);

/** Every file under `dir` with its size and modification time: a fingerprint that changes if anything is written. */
function fingerprint(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.join('\n');
}

describe('mobilenet-classify train: runs', () => {
  let tmp: string;
  let data: string;
  // The default model (V1, dropout 0.001) at its smallest; a higher dropout makes masks matter to the losses.
  const arch = ['--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '8', '--dropout', '0.3'];

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classify-train-'));
    data = path.join(tmp, 'data');
    expect(classify('generate', '--out', data, '--classes', '3', '--images-per-class', '10', '--size', '32').status).toBe(0);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the same command twice gives the same loss curve; another --seed another one', () => {
    const run = (name: string, seed: string) => {
      json(classify('train', '--data', data, ...arch, '--steps', '4', '--seed', seed, '--out', path.join(tmp, name), '--json'));
      return stepLosses(path.join(tmp, name));
    };
    const a = run('seed-a', '5');
    expect(run('seed-b', '5')).toEqual(a);
    expect(run('seed-c', '6')).not.toEqual(a);
  });

  it.each([
    ['the onnx engine (the default)', [] as string[]],
    ['the tfjs engine over two workers', ['--engine', 'tfjs', '--workers', '2']],
  ])('a run stopped by SIGTERM saves a checkpoint, exits 143, and resumes from the folder alone to the losses of an uninterrupted run: %s', async (engineName, engine) => {
    const full = path.join(tmp, `uninterrupted-${engine.length}`);
    json(classify('train', '--data', data, ...arch, '--steps', '8', '--seed', '2', ...engine, '--out', full, '--json'));
    const expected = stepLosses(full);

    const run = path.join(tmp, `stopped-${engine.length}`);
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'apps/classify/bin/mobilenet-classify.js'), 'train', '--data', data, ...arch, '--steps', '8', '--seed', '2', ...engine, '--out', run], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!signalled && /^step [23]\//m.test(stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toContain('received SIGTERM: stopping after this step and saving a checkpoint');
    expect(status).toBe(143);
    const stoppedAt = stepLosses(run).length;
    expect(stoppedAt).toBeGreaterThanOrEqual(2);
    expect(stoppedAt).toBeLessThan(8);
    expect(fs.existsSync(path.join(run, '.lock'))).toBe(false);

    const resumed = json(classify('train', '--resume', run, ...engine, '--json'));
    expect(resumed.engine).toBe(engine.length === 0 ? 'onnx' : 'tfjs');
    expect(resumed.workers).toBe(engine.length === 0 ? 1 : 2);
    expect(engineName).toBeTruthy();
    expect(resumed.resumedFrom).toBe(stoppedAt);
    expect(resumed.steps).toBe(8);
    expect(stepLosses(run)).toEqual(expected);
  });

  it('keeps a second run out of a busy folder', async () => {
    const run = path.join(tmp, 'busy');
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'apps/classify/bin/mobilenet-classify.js'), 'train', '--data', data, ...arch, '--steps', '40', '--out', run], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), /^step 1\//m.test(stderr) && resolve())));
    const second = classify('train', '--resume', run, '--steps', '50');
    child.kill('SIGINT');
    await new Promise((resolve) => child.on('close', resolve));
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`${run} is in use by another run (mobilenet-classify, process ${child.pid}`);
  });

  it('never writes into the data: --out inside --data (or the reverse) is refused, and the data is unchanged', () => {
    const before = fingerprint(data);
    const inner = classify('train', '--data', data, ...arch, '--steps', '1', '--out', path.join(data, 'run'));
    expect(inner.status).toBe(2);
    expect(inner.stderr).toContain(`--out ${path.join(data, 'run')} is inside --data ${data}: the run's model/ and checkpoints/ would become classes of the data`);
    const outer = classify('train', '--data', data, ...arch, '--steps', '1', '--out', tmp);
    expect(outer.status).toBe(2);
    expect(outer.stderr).toContain(`--data ${data} is inside --out ${tmp}`);
    expect(fingerprint(data)).toBe(before);
  });

  it('says what is wrong with the data in the user\'s terms: one class, only unreadable images', () => {
    const one = path.join(tmp, 'one-class');
    fs.mkdirSync(path.join(one, 'cats'), { recursive: true });
    for (const f of fs.readdirSync(path.join(data, fs.readdirSync(data)[0]))) fs.copyFileSync(path.join(data, fs.readdirSync(data)[0], f), path.join(one, 'cats', f));
    const r1 = classify('train', '--data', one, ...arch, '--steps', '1', '--out', path.join(tmp, 'r1'));
    expect(r1.status).toBe(2);
    expect(r1.stderr).toContain(`found 1 class folder ('cats'); a classifier needs at least 2 classes`);
    expect(r1.stderr).not.toMatch(/oneHot|depth/);

    const broken = path.join(tmp, 'broken');
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(broken, c), { recursive: true });
      for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(broken, c, `${i}.jpg`), 'not a jpeg');
    }
    const r2 = classify('train', '--data', broken, ...arch, '--steps', '1', '--val-fraction', '0', '--out', path.join(tmp, 'r2'));
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain(`none of the 10 training images could be read (10 skipped, see the warnings above)`);
    expect(r2.stderr).not.toMatch(/batches yielded|data\.batches/);
  });

  it.each([
    ['onnx', 'onnxruntime'],
    ['tfjs', 'wasm'],
  ])('a model that cannot fit in memory is refused before training, saying what fits (--engine %s)', (engine, where) => {
    const r = classify('train', '--data', data, '--arch', 'v1', '--alpha', '1', '--input-size', '4096', '--batch', '8', '--steps', '1', '--engine', engine, '--out', path.join(tmp, `huge-${engine}`));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`at input 4096 needs about \\d+ GiB to train (even )?one image at a time on ${where}.*The largest input size that fits is \\d+`, 's'));
    expect(r.stderr).not.toMatch(/Aborted|memory access out of bounds/);
  });

  it('--init that matches no layer is an error, not a fresh model; --freeze-backbone needs --init', () => {
    const source = path.join(tmp, 'seed-a', 'model');
    const wrong = classify('train', '--data', data, '--arch', 'v2', '--alpha', '0.35', '--input-size', '32', '--batch', '8', '--steps', '1', '--init', source, '--freeze-backbone', '--out', path.join(tmp, 'wrong-init'));
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/--init .*: none of its layers fits this v2 α=0.35 model/);
    const bare = classify('train', '--data', data, ...arch, '--steps', '1', '--freeze-backbone', '--out', path.join(tmp, 'bare'));
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('--freeze-backbone trains only the classifier on top of a trained backbone');
  });
});
