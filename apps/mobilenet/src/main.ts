/** The umbrella CLI. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { exitWithUsageStatus } from '@mobilenets/cli-kit';
import { benchCommand } from './commands/bench';
import { exportCommand } from './commands/export';
import { summaryCommand } from './commands/summary';

export function createProgram(): Command {
  const program = new Command('mobilenet')
    .description('MobileNets.ts: MobileNetV1/V2 models, their resource profile, export and benchmarks')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(summaryCommand())
    .addCommand(exportCommand())
    .addCommand(benchCommand());
  return exitWithUsageStatus(program); // an unknown option or a missing argument is a usage error: status 2
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
