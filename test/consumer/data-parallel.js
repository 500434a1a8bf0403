// One data-parallel training step in two worker threads: the installed runtime starts its workers
// from its own dist/ (parallel/worker-entry.js → worker.js), which load the installed backbone and training.
const { mobilenetV1 } = require('@mobilenets/backbone');
const { DataParallelTrainer, PAPER_RMSPROP, setup } = require('@mobilenets/runtime');

async function main() {
  await setup({ backend: 'wasm', log: null });
  const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 2 });
  const trainer = await DataParallelTrainer.create(model, { workers: 2, backend: 'wasm', optimizer: PAPER_RMSPROP });
  try {
    const batch = 4;
    const x = Float32Array.from({ length: batch * 32 * 32 * 3 }, (_, i) => Math.sin(i));
    const labels = Float32Array.from({ length: batch * 2 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0));
    const { loss, examples } = await trainer.step(x, [batch, 32, 32, 3], labels, [batch, 2]);
    console.log(JSON.stringify({ workers: trainer.workers, loss, examples }));
  } finally {
    await trainer.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
