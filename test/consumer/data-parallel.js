// One data-parallel training step in two worker threads: the installed runtime starts its workers
// from its own dist/ (parallel/worker-entry.js → worker.js), which load the installed backbone and
// training, and the classification task's step from the installed training package.
const { mobilenetV1 } = require('@mobilenets/backbone');
const { classificationTask, paperOptimizer } = require('@mobilenets/training');
const { DataParallelRunner, setup } = require('@mobilenets/runtime');

async function main() {
  await setup({ backend: 'wasm', log: null });
  const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 2 });
  const optimizer = paperOptimizer();
  const runner = await DataParallelRunner.create({ model, optimizer, task: classificationTask(), weightDecay: 4e-5, accumulate: 1, seed: 0 }, { workers: 2, backend: 'wasm' });
  try {
    const batch = 4;
    const images = Float32Array.from({ length: batch * 32 * 32 * 3 }, (_, i) => Math.sin(i));
    const labels = Int32Array.from({ length: batch }, (_, i) => i % 2);
    const step = { tensors: { images: { data: images, shape: [batch, 32, 32, 3] }, labels: { data: labels, shape: [batch] } }, examples: batch };
    const { loss, examples } = await runner.step(step, { lr: 0.045, step: 0 });
    console.log(JSON.stringify({ workers: runner.workers, loss, examples }));
  } finally {
    await runner.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
