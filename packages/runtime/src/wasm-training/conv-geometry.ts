/** Convolution geometry shared by the gradient kernels: tfjs' own conv info, validated for what we support. */
import * as tf from '@tensorflow/tfjs-core';

export type Conv2DInfo = tf.backend_util.Conv2DInfo;

export function convInfo(
  kernel: string,
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number] | null | undefined,
  pad: unknown,
  dimRoundingMode: unknown,
  depthwise: boolean,
  dataFormat: unknown = 'NHWC',
): Conv2DInfo {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports NHWC only; received dataFormat '${String(dataFormat)}'`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad as 'same' | 'valid' | number,
    dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    'channelsLast',
  );
}

export function isPlainPointwise(info: Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1 &&
    p.top === 0 && p.left === 0 && p.bottom === 0 && p.right === 0;
}
