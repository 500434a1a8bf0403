import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { buildClassifier, freezeBackbone, initFromModel, saveClassifier } from './model-io';
import { learningCurveFromLog } from './charts';

let tmp: string;
beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classify-unit-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const arch = { arch: 'v1' as const, alpha: 0.25, inputSize: 32 };

it('--freeze-backbone leaves only the Logits layer trainable', () => {
  const model = buildClassifier(arch, 3);
  freezeBackbone(model);
  expect(model.trainableWeights.map((w) => w.originalName).sort()).toEqual(['Logits/bias', 'Logits/kernel']);
  model.dispose();
});

it('--init copies layers by name where shapes match and skips the head of a model with other classes', async () => {
  const source = buildClassifier(arch, 5);
  const dir = path.join(tmp, 'source');
  await saveClassifier(dir, source, ['a', 'b', 'c', 'd', 'e']);
  const target = buildClassifier(arch, 3);
  const report = await initFromModel(target, dir);
  expect(report.copied).toBe(report.layers - 1);
  expect(report.skipped.map((s) => s.layer)).toEqual(['Logits']);
  const w = (m: typeof source, name: string) => Array.from(m.getLayer(name).getWeights()[0].dataSync());
  expect(w(target, 'Conv2d_0')).toEqual(w(source, 'Conv2d_0'));
  await expect(initFromModel(target, path.join(tmp, 'missing'))).rejects.toThrow(/--init .*missing: no such directory/);
  source.dispose();
  target.dispose();
});

it('reads the learning curve from metrics.jsonl, keeping the last entry of a step logged twice', () => {
  const lines = [
    { type: 'step', step: 1, loss: 2, metrics: { accuracy: 0.1 } },
    { type: 'step', step: 2, loss: 1.5, metrics: { accuracy: 0.2 } },
    { type: 'step', step: 2, loss: 1.4, metrics: { accuracy: 0.3 } },
    { type: 'epoch', epoch: 0, step: 2, val: { top1: 0.5, loss: 1.2 } },
  ];
  const curve = learningCurveFromLog(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"type":"st`);
  expect(curve.accuracy).toEqual([{ step: 1, value: 0.1 }, { step: 2, value: 0.3 }]);
  expect(curve.loss).toEqual([{ step: 1, value: 2 }, { step: 2, value: 1.4 }]);
  expect(curve.valTop1).toEqual([{ step: 2, value: 0.5 }]);
});
