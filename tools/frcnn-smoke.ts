import { setup } from '@mobilenets/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV2 } from '@mobilenets/backbone';
import { batchGradients } from '@mobilenets/training';
import { createFasterRcnn, fasterRcnnAnchorsCxcywh, fasterRcnnTask } from '@mobilenets/detection-faster-rcnn';
(async () => {
  await setup({ backend: 'wasm' });
  const size = Number(process.argv[2] ?? 320);
  const n = Number(process.argv[3] ?? 4);
  const backbone = mobilenetV2({ widthMultiplier: 0.5, inputSize: size, includeTop: false, seed: 3 });
  const f = createFasterRcnn({ backbone, classes: 3, rpnDepth: 256, rpnHead: (process.argv[4] ?? 'separable') as 'conv', anchors: { height: 137, width: 137 }, seed: 3 });
  const task = fasterRcnnTask({ anchorsCxcywh: fasterRcnnAnchorsCxcywh(f), classes: 3 });
  const images = Float32Array.from({ length: n * size * size * 3 }, (_, i) => Math.sin(i));
  const b = Array.from({ length: n }, (_, i) => i);
  const batch = task.prepare({ images, shape: [n, size, size, 3], boxesXyxy: b.map(() => Float32Array.from([0.1, 0.1, 0.5, 0.5, 0.3, 0.3, 0.7, 0.9])), labels: b.map(() => Int32Array.from([0, 2])), ignore: b.map(() => new Uint8Array(2)), paths: b.map(String), imageIds: b, originalSizes: b.map(() => [size, size] as [number, number]) });
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const g = batchGradients(f.model, task, batch);
    console.log(i, Date.now() - t0, 'ms', JSON.stringify(g.losses), tf.memory().numTensors);
    tf.dispose(Object.values(g.grads));
  }
})();
