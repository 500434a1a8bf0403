/** The options that name an architecture (--arch, --alpha, --input-size, …) and the model they build. */
import { Command, Option } from 'commander';
import * as tfl from '@tensorflow/tfjs-layers';
import { MOBILENET_V1_VARIANTS, MobileNetV1Variant, mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { UsageError, parseChoiceOption, parseIntegerOption, parseNumberOption } from '@mobilenets/cli-kit';

export type Arch = 'v1' | 'v2';

export interface ArchitectureOptions {
  arch: Arch;
  alpha: number;
  inputSize: number;
  classes: number;
  variant: MobileNetV1Variant;
  activation: 'relu' | 'relu6';
  top: boolean;
}

export function addArchitectureOptions(command: Command): Command {
  return command
    .addOption(new Option('--arch <arch>', 'MobileNet version').choices(['v1', 'v2']).default('v1'))
    .addOption(new Option('--alpha <α>', 'width multiplier α: (0, 1] for v1, > 0 for v2').argParser(parseNumberOption('--alpha')).default(1))
    .addOption(new Option('--input-size <pixels>', 'input resolution, a multiple of 32 (224, 192, 160, 128, 96)').argParser(parseIntegerOption('--input-size')).default(224))
    .addOption(new Option('--classes <n>', 'classifier outputs').argParser(parseIntegerOption('--classes')).default(1000))
    .addOption(new Option('--variant <variant>', "v1 only: the paper's full-convolution (Table 4) or shallow (Table 5) model").argParser(parseChoiceOption('--variant', MOBILENET_V1_VARIANTS)).default('standard'))
    .addOption(new Option('--activation <fn>', "'relu6' (official code, Keras) or 'relu' (the V1 paper)").choices(['relu', 'relu6']).default('relu6'))
    .option('--no-top', 'leave out pooling and the classifier');
}

/** A builder's RangeError names its config field; the user typed a flag. */
const FLAG_OF_FIELD: readonly [RegExp, string][] = [
  [/^widthMultiplier \(α\)/, '--alpha'],
  [/^inputSize/, '--input-size'],
  [/^classes/, '--classes'],
  [/^dropout/, '--dropout'],
];

function asUsageError(error: unknown): unknown {
  if (!(error instanceof RangeError || error instanceof TypeError)) return error;
  const body = error.message.replace(/^mobilenetV[12]: /, '');
  const match = FLAG_OF_FIELD.find(([field]) => field.test(body));
  return new UsageError(match ? body.replace(match[0], match[1]) : error.message);
}

export function buildModel(o: ArchitectureOptions): tfl.LayersModel {
  const common = { widthMultiplier: o.alpha, inputSize: o.inputSize, classes: o.classes, activation: o.activation, includeTop: o.top };
  if (o.arch === 'v2' && o.variant !== 'standard') throw new UsageError(`--variant ${o.variant} exists only for --arch v1 (the V1 paper's Tables 4 and 5).`);
  try {
    return o.arch === 'v2' ? mobilenetV2(common) : mobilenetV1({ ...common, variant: o.variant });
  } catch (error) {
    throw asUsageError(error);
  }
}
