/** mobilenet-detect: object detection with SSD / SSDLite on MobileNet. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { exitWithUsageStatus } from '@mobilenets/cli-kit';
import { cocoEvalCommand } from './commands/coco-eval';
import { exportCommand } from './commands/export';
import { generateCommand } from './commands/generate';

export function createProgram(): Command {
  const program = new Command('mobilenet-detect')
    .description('MobileNet object detection (SSD, SSDLite): generate the procedural shapes set, evaluate COCO results, export a detector to ONNX')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(generateCommand())
    .addCommand(cocoEvalCommand())
    .addCommand(exportCommand());
  return exitWithUsageStatus(program); // an unknown option or a missing argument is a usage error: status 2
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
