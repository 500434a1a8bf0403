/**
 * The image gradient of crop-and-resize (`@mobilenets/backbone`'s CROP_AND_RESIZE_GRAD_IMAGE) for the
 * wasm backend: the backbone's loop run on views of the tensors in the wasm heap, with no copies.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cropAndResizeGradImageInto } from '@mobilenets/backbone';
import { TensorInfo, WasmBackend, f32 } from './heap';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

export function cropAndResizeGradImage(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, boxes, boxInd } = args.inputs as Record<string, TensorInfo>;
  const { imageShape } = args.attrs as { imageShape: [number, number, number, number] };
  const out = backend.makeOutput([...imageShape], 'float32');
  // Views after the last allocation: growing the heap detaches earlier ones.
  const view = f32(backend, out);
  view.fill(0);
  cropAndResizeGradImageInto(f32(backend, dy), f32(backend, boxes), backend.typedArrayFromHeap(boxInd), imageShape, [dy.shape[1], dy.shape[2]], view);
  return out;
}
