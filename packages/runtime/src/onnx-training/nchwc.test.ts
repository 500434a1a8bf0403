/** The NCHWc depthwise path equals onnxruntime's plain grouped Conv: strides, asymmetric pads, dilations, large kernels. */
import * as ort from 'onnxruntime-node';
import { uniformArray } from '@mobilenets/random';
import { OnnxGraphBuilder } from '../onnx/graph-builder';
import { fromNchwc, nchwcBlockSize, nchwcDepthwiseBlocked, nchwcFilter, nchwcStridedInputGradient, toNchwc } from './nchwc';
import { StepOps } from './ops';

const CASES = [
  { name: '3×3 stride 1', channels: 32, size: 16, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], out: 16 },
  { name: '3×3 stride 2, TF SAME pads (bottom/right)', channels: 32, size: 16, kernel: [3, 3], strides: [1, 1].map(() => 2), pads: [0, 0, 1, 1], dilations: [1, 1], out: 8 },
  { name: 'a filter gradient: 4×4 kernel, dilation 2', channels: 64, size: 8, kernel: [4, 4], strides: [1, 1], pads: [0, 0, 1, 1], dilations: [2, 2], out: 3 },
  { name: '8×8 kernel', channels: 64, size: 8, kernel: [8, 8], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], out: 3 },
];


/** Runs graph `g` and checks that its output 'blocked_out' has `dims` and equals its output `reference` within 1e-5. */
async function expectSameOutputs(g: OnnxGraphBuilder, feeds: Record<string, ort.Tensor>, reference: string, dims: number[]): Promise<void> {
  const session = await ort.InferenceSession.create(g.toBytes('nchwc_check', {}));
  const result = await session.run(feeds);
  await session.release();
  const [a, b] = [result[reference].data as Float32Array, result.blocked_out.data as Float32Array];
  expect(result.blocked_out.dims).toEqual(dims);
  let diff = 0;
  a.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - b[i]))));
  expect(diff).toBeLessThan(1e-5);
}

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
  const x = uniformArray(2 * channels * size * size, 1, -1, 1);
  const w = uniformArray(channels * kernel[0] * kernel[1], 2, -1, 1);
  await expectSameOutputs(g, { x: new ort.Tensor('float32', x, [2, channels, size, size]), w: new ort.Tensor('float32', w, [channels, 1, ...kernel]) }, 'plain_out', [2, channels, out, out]);
});

/** The blocked input gradient of a strided depthwise convolution equals onnxruntime's ConvTranspose: TF SAME pads on even and odd maps, 'valid' with rows left unread. */
const STRIDED = [
  { name: 'stride 2, SAME, even map', channels: 32, size: 16, pads: [0, 0, 1, 1], out: 8 },
  { name: 'stride 2, SAME, odd map', channels: 32, size: 7, pads: [1, 1, 1, 1], out: 4 },
  { name: 'stride 2, valid, a row unread', channels: 16, size: 8, pads: [0, 0, 0, 0], out: 3 },
];

test.each(STRIDED)('input gradient, $name', async ({ channels, size, pads, out }) => {
  const block = await nchwcBlockSize();
  if (block === null || channels % block !== 0) return;
  const g = new OnnxGraphBuilder();
  const ops = new StepOps(g);
  g.addInput('dz', [2, channels, out, out]);
  g.addInput('w', [channels, 1, 3, 3]);
  const full = 2 * (out - 1) + 3 - pads[0] - pads[2];
  const reference = ops.node('ConvTranspose', ['dz', 'w'], 'reference', {
    kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: pads }, group: { int: channels }, output_padding: { ints: [size - full, size - full] },
  });
  const flipped = ops.node('Slice', ['w', ops.int64s([-1, -1]), ops.int64s([-4, -4]), ops.int64s([2, 3]), ops.int64s([-1, -1])], 'flipped');
  const dims = { n: 2, channels, inHW: [size, size], outHW: [out, out], kernel: [3, 3], strides: [2, 2], pads };
  const blocked = nchwcStridedInputGradient(ops, toNchwc(ops, 'dz', 'dz_blocked'), nchwcFilter(ops, flipped, channels, [3, 3], block, 'f'), dims, block, 'dx');
  expect(blocked).not.toBeNull();
  g.addOutput(reference, 'reference_out', [2, channels, size, size]);
  g.addOutput(fromNchwc(ops, blocked as string, channels, 'dx_out'), 'blocked_out', [2, channels, size, size]);
  const dz = uniformArray(2 * channels * out * out, 3, -1, 1);
  const w = uniformArray(channels * 9, 4, -1, 1);
  await expectSameOutputs(g, { dz: new ort.Tensor('float32', dz, [2, channels, out, out]), w: new ort.Tensor('float32', w, [channels, 1, 3, 3]) }, 'reference_out', [2, channels, size, size]);
});
