/**
 * The options that name a MobileNet (--arch, --alpha, --input-size, …), for every app, and the model
 * they build. Apps choose which groups they offer: every app names an architecture; training apps add
 * dropout and batch-norm momentum; apps that build a bare classifier add --classes and --no-top.
 */
import { Command, Option } from 'commander';
import * as tfl from '@tensorflow/tfjs-layers';
import { MOBILENET_V1_DEFAULTS, MOBILENET_V1_VARIANTS, MobileNetV1Variant, mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { UsageError } from './errors';
import { parseChoiceOption, parseIntegerOption, parseNumberOption } from './options';

export type Arch = 'v1' | 'v2';

export interface ArchitectureOptions {
  arch: Arch;
  alpha: number;
  inputSize: number;
  variant: MobileNetV1Variant;
  activation: 'relu' | 'relu6';
  /** With `training`: undefined means the architecture's default. */
  dropout?: number;
  bnMomentum?: number;
  /** With `classes`. */
  classes?: number;
  /** With `head`: false leaves out pooling and the classifier. */
  top?: boolean;
}

export interface ArchitectureOptionGroups {
  /** --dropout and --bn-momentum. */
  training?: boolean;
  /** --classes (default 1000). */
  classes?: boolean;
  /** --no-top. */
  head?: boolean;
}

export function addArchitectureOptions(command: Command, groups: ArchitectureOptionGroups = {}): Command {
  command
    .addOption(new Option('--arch <arch>', 'MobileNet version').argParser(parseChoiceOption('--arch', ['v1', 'v2'] as const)).default('v1'))
    .addOption(new Option('--alpha <α>', 'width multiplier α: (0, 1] for v1, > 0 for v2').argParser(parseNumberOption('--alpha')).default(1))
    .addOption(new Option('--input-size <pixels>', 'input resolution, a multiple of 32 (224, 192, 160, 128, 96, 64); images are resized to it').argParser(parseIntegerOption('--input-size')).default(224))
    .addOption(new Option('--variant <variant>', "v1 only: the paper's full-convolution (Table 4) or shallow (Table 5) model").argParser(parseChoiceOption('--variant', MOBILENET_V1_VARIANTS)).default('standard'))
    .addOption(new Option('--activation <fn>', "'relu6' (official code, Keras) or 'relu' (the V1 paper)").argParser(parseChoiceOption('--activation', ['relu', 'relu6'] as const)).default('relu6'));
  if (groups.training) {
    command
      .addOption(new Option('--dropout <rate>', 'dropout before the classifier (default: 0.001 for v1, 0.2 for v2)').argParser(parseNumberOption('--dropout')))
      .addOption(new Option('--bn-momentum <m>', `batch-norm moving-average momentum (default ${MOBILENET_V1_DEFAULTS.batchNormMomentum})`).argParser(parseNumberOption('--bn-momentum')));
  }
  if (groups.classes) command.addOption(new Option('--classes <n>', 'classifier outputs').argParser(parseIntegerOption('--classes', 1)).default(1000));
  if (groups.head) command.option('--no-top', 'leave out pooling and the classifier');
  return command;
}

export interface BuildOverrides {
  classes?: number;
  /** Seed of the weight initialisers. */
  seed?: number | null;
}

/**
 * The MobileNet the options describe. An invalid combination (α out of range, an input size that is not
 * a multiple of 32…) is a UsageError that names the flag.
 */
export function buildMobileNet(o: ArchitectureOptions, overrides: BuildOverrides = {}): tfl.LayersModel {
  const config = {
    widthMultiplier: o.alpha,
    inputSize: o.inputSize,
    classes: overrides.classes ?? o.classes ?? 1000,
    activation: o.activation,
    includeTop: o.top ?? true,
    dropout: o.dropout,
    batchNormMomentum: o.bnMomentum,
    seed: overrides.seed ?? null,
  };
  if (o.arch === 'v2' && o.variant !== 'standard') throw new UsageError(`--variant ${o.variant} exists only for --arch v1 (the V1 paper's Tables 4 and 5).`);
  try {
    return o.arch === 'v2' ? mobilenetV2(config) : mobilenetV1({ ...config, variant: o.variant });
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(flagNames(error.message));
    throw error;
  }
}

const FLAGS: [RegExp, string][] = [
  [/\bwidthMultiplier \(α\)/g, '--alpha'],
  [/\bwidthMultiplier\b/g, '--alpha'],
  [/\binputSize\b/g, '--input-size'],
  [/\bbatchNormMomentum\b/g, '--bn-momentum'],
  [/\bdropout\b/g, '--dropout'],
  [/\bclasses\b must/g, '--classes must'],
];

/** The builder's messages name config fields; the user typed flags. */
function flagNames(message: string): string {
  return FLAGS.reduce((m, [field, flag]) => m.replace(field, flag), message.replace(/^mobilenetV[12]: /, ''));
}
