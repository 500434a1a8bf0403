/** mobilenet-classify: train | eval | predict (| generate) for ImageFolder classification. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { exitWithUsageStatus } from '@mobilenets/cli-kit';
import { evalCommand } from './commands/eval';
import { generateCommand } from './commands/generate';
import { predictCommand } from './commands/predict';
import { trainCommand } from './commands/train';

export function createProgram(): Command {
  const program = new Command('mobilenet-classify')
    .description('MobileNet image classification: train on an ImageFolder (or generated data), evaluate, predict')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(predictCommand())
    .addCommand(generateCommand());
  return exitWithUsageStatus(program); // an unknown option or a missing argument is a usage error: status 2
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
