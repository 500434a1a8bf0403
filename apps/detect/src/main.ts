/** mobilenet-detect: object detection with SSD / SSDLite on MobileNet. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { exitWithUsageStatus } from '@mobilenets/cli-kit';
import { cocoEvalCommand } from './commands/coco-eval';
import { exportCommand } from './commands/export';
import { generateCommand } from './commands/generate';
import { trainCommand } from './commands/train';
import { evalCommand } from './commands/eval';
import { predictCommand } from './commands/predict';

export function createProgram(): Command {
  const program = new Command('mobilenet-detect')
    .description('MobileNet object detection (SSD, SSDLite): train, evaluate, detect objects in images, export to ONNX, generate the procedural shapes set, score COCO results')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(predictCommand())
    .addCommand(exportCommand())
    .addCommand(generateCommand())
    .addCommand(cocoEvalCommand());
  return exitWithUsageStatus(program); // an unknown option or a missing argument is a usage error: status 2
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
