/**
 * Importing the backbone changes no global tfjs state: the gradient registry, the serialization map
 * (which decides the classes of layers loaded from model.json), the registered backends and the flags
 * stay tfjs' own. installFusedLayers() — which runtime's setup() calls — is what changes them.
 * This file imports nothing at the top, so the module registry and tfjs' globals start fresh.
 */
import type * as TfCore from '@tensorflow/tfjs-core';

const KERNELS = ['Relu', 'Relu6', 'FusedBatchNorm', 'MobileNetsBatchNormTraining', 'MobileNetsReluGrad', 'MobileNetsRelu6Grad'];

function snapshot(tf: typeof TfCore) {
  return {
    classes: Object.fromEntries(Object.entries(tf.serialization.SerializationMap.getMap().classNameMap).map(([name, [cls]]) => [name, cls])),
    gradients: Object.fromEntries(KERNELS.map((name) => [name, tf.getGradient(name)])),
    backends: Object.keys(tf.engine().registryFactory),
    flags: { ...tf.env().getFlags() },
  };
}

describe('importing @mobilenets/backbone', () => {
  it("leaves tfjs' registries and flags as they were; installFusedLayers() is what changes them", () => {
    jest.isolateModules(() => {
      const tf = require('@tensorflow/tfjs-core') as typeof TfCore;
      require('@tensorflow/tfjs-layers');
      require('@tensorflow/tfjs-backend-cpu'); // building a model below needs a backend
      const tfjsOwn = snapshot(tf);
      const tfjsBatchNormalization = tfjsOwn.classes.BatchNormalization;
      const tfjsReluGradient = tfjsOwn.gradients.Relu;
      expect(tfjsBatchNormalization).toBeDefined();
      expect(tfjsReluGradient).toBeDefined();

      const backbone = require('./index') as typeof import('./index');
      expect(snapshot(tf)).toEqual(tfjsOwn);

      // Building a model changes nothing either (but tfjs' flags, which tfjs evaluates on first use).
      const model = backbone.mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 2 });
      const afterBuild = snapshot(tf);
      expect(afterBuild.classes).toEqual(tfjsOwn.classes);
      expect(afterBuild.classes.BatchNormalization).toBe(tfjsBatchNormalization);
      expect(afterBuild.gradients).toEqual(tfjsOwn.gradients);
      expect(afterBuild.gradients.Relu).toBe(tfjsReluGradient);
      expect(afterBuild.backends).toEqual(tfjsOwn.backends);
      model.dispose();

      backbone.installFusedLayers();
      const installed = snapshot(tf);
      expect(installed.classes.BatchNormalization).toBe(backbone.BatchNormalization);
      expect(installed.classes.BatchNormalization).not.toBe(tfjsBatchNormalization);
      expect(installed.classes.relu6).not.toBe(tfjsOwn.classes.relu6);
      expect(installed.gradients.Relu).not.toBe(tfjsReluGradient);
      expect(installed.gradients.MobileNetsBatchNormTraining).toBeDefined();
    });
  });
});
