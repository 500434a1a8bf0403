/** The NCHWc depthwise path equals onnxruntime's plain grouped Conv: strides, asymmetric pads, dilations, large kernels. */
import * as ort from 'onnxruntime-node';
import { uniformArray } from '@mobilenets/random';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import { fromNchwc, nchwcBlockSize, nchwcDepthwiseBlocked, nchwcFilter, toNchwc } from './nchwc';
import { StepOps } from './ops';

const CASES = [
  { name: '3×3 stride 1', channels: 32, size: 16, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], out: 16 },
  { name: '3×3 stride 2, TF SAME pads (bottom/right)', channels: 32, size: 16, kernel: [3, 3], strides: [1, 1].map(() => 2), pads: [0, 0, 1, 1], dilations: [1, 1], out: 8 },
  { name: 'a filter gradient: 4×4 kernel, dilation 2', channels: 64, size: 8, kernel: [4, 4], strides: [1, 1], pads: [0, 0, 1, 1], dilations: [2, 2], out: 3 },
  { name: '8×8 kernel', channels: 64, size: 8, kernel: [8, 8], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], out: 3 },
];

test.each(CASES)('$name', async ({ channels, size, kernel, strides, pads, dilations, out }) => {
  const block = await nchwcBlockSize();
  expect(block === null || [4, 8, 16].includes(block)).toBe(true);
  if (block === null) return; // no NCHWc kernels on this machine: the engine uses plain Conv
  const g = new OnnxGraphBuilder();
  const ops = new StepOps(g);
  g.addInput('x', [2, channels, size, size]);
  g.addInput('w', [channels, 1, ...kernel]);
  const plain = ops.node('Conv', ['x', 'w'], 'plain', { kernel_shape: { ints: kernel }, strides: { ints: strides }, pads: { ints: pads }, dilations: { ints: dilations }, group: { int: channels } });
  const filter = nchwcFilter(ops, 'w', channels, kernel, block, 'blocked');
  const blocked = fromNchwc(ops, nchwcDepthwiseBlocked(ops, toNchwc(ops, 'x', 'blocked_in'), filter, channels, kernel, { strides, pads, dilations }, 'blocked_conv'), channels, 'blocked');
  g.addOutput(plain, 'plain_out', [2, channels, out, out]);
  g.addOutput(blocked, 'blocked_out', [2, channels, out, out]);
  const session = await ort.InferenceSession.create(g.toBytes('nchwc_check', {}));
  const x = uniformArray(2 * channels * size * size, 1, -1, 1);
  const w = uniformArray(channels * kernel[0] * kernel[1], 2, -1, 1);
  const result = await session.run({ x: new ort.Tensor('float32', x, [2, channels, size, size]), w: new ort.Tensor('float32', w, [channels, 1, ...kernel]) });
  await session.release();
  const [a, b] = [result.plain_out.data as Float32Array, result.blocked_out.data as Float32Array];
  expect(result.blocked_out.dims).toEqual([2, channels, out, out]);
  let diff = 0;
  a.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - b[i]))));
  expect(diff).toBeLessThan(1e-5);
});
