// The backbone and runtime as libraries, from plain JavaScript (the README's "Use as a library").
const tf = require('@tensorflow/tfjs-core');
const { mobilenetV1, profile } = require('@mobilenets/backbone');
const { createSession, exportOnnx, setup } = require('@mobilenets/runtime');

async function main() {
  const { backend } = await setup({ backend: 'wasm' }); // picks tfjs' backend; installs the fused layers and kernels
  const model = mobilenetV1({ widthMultiplier: 0.5, inputSize: 160 });
  const { multAdds, params } = profile(model);
  console.log(`MobileNetV1 0.5-160: ${(multAdds / 1e6).toFixed(1)}M Mult-Adds, ${(params / 1e6).toFixed(2)}M parameters`);

  const images = tf.randomUniform([2, 160, 160, 3], -1, 1, 'float32', 7); // RGB scaled to [-1, 1]
  const probabilities = await model.predict(images).data();

  await exportOnnx(model, 'mobilenet_v1_0.5_160.onnx');
  const onnx = await createSession('mobilenet_v1_0.5_160.onnx');
  const outputs = await onnx.run({ [onnx.inputNames[0]]: { data: await images.data(), dims: images.shape } });
  const fromOnnx = outputs[onnx.outputNames[0]].data;
  const maxDifference = Math.max(...probabilities.map((p, i) => Math.abs(p - fromOnnx[i])));
  const relativeDifference = maxDifference / Math.max(...probabilities);
  console.log(`tfjs (${backend}) and onnxruntime agree within ${relativeDifference.toExponential(1)} of the largest probability`);
  await onnx.dispose();

  // One line for test/consumer.test.ts to check.
  const sum = probabilities.slice(0, 1000).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ backend, multAdds, params, classes: probabilities.length / 2, sum, relativeDifference }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
