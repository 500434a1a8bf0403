/**
 * Crop-and-resize for the wasm backend, forward (tfjs' CropAndResize) and the image gradient
 * (`@mobilenets/backbone`'s CROP_AND_RESIZE_GRAD_IMAGE): the backbone's loops run on views of the tensors
 * in the wasm heap, with no copies. (tfjs' own wasm CropAndResize took 118 ms of a 1.5 s Faster R-CNN
 * training step, for 256 crops of 14×14×288.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { cropAndResizeGradImageInto, cropAndResizeInto } from '@mobilenets/backbone';
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

export function cropAndResize(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { image, boxes, boxInd } = args.inputs as Record<string, TensorInfo>;
  const { cropSize, method, extrapolationValue } = args.attrs as tf.CropAndResizeAttrs;
  const shape = image.shape as [number, number, number, number];
  const out = backend.makeOutput([boxes.shape[0], cropSize[0], cropSize[1], shape[3]], 'float32');
  const view = f32(backend, out);
  view.fill(0);
  cropAndResizeInto(f32(backend, image), f32(backend, boxes), backend.typedArrayFromHeap(boxInd), shape, cropSize, method, extrapolationValue, view);
  return out;
}
