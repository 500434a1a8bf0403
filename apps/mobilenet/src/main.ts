/** The umbrella CLI. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { benchCommand } from './commands/bench';
import { exportCommand } from './commands/export';
import { summaryCommand } from './commands/summary';

export function createProgram(): Command {
  return new Command('mobilenet')
    .description('MobileNets.ts: MobileNetV1/V2 models, their resource profile, export and benchmarks')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(summaryCommand())
    .addCommand(exportCommand())
    .addCommand(benchCommand());
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
