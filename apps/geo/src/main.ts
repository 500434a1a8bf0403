/** mobilenet-geo: photo geolocation as classification over adaptive S2 cells (PlaNet) on MobileNet. Each subcommand lives in commands/. */
import { Command } from 'commander';
import { exitWithUsageStatus } from '@mobilenets/cli-kit';
import { evalCommand } from './commands/eval';
import { generateCommand } from './commands/generate';
import { partitionCommand } from './commands/partition';
import { predictCommand } from './commands/predict';
import { trainCommand } from './commands/train';

export function createProgram(): Command {
  const program = new Command('mobilenet-geo')
    .description('MobileNet photo geolocation (PlaNet): partition the earth into S2 cells, train, evaluate at street/city/region/country/continent scale, locate photos, generate the procedural set')
    .version(require('../package.json').version as string)
    .showHelpAfterError()
    .addCommand(partitionCommand())
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(predictCommand())
    .addCommand(generateCommand());
  return exitWithUsageStatus(program); // an unknown option or a missing argument is a usage error: status 2
}

export async function main(argv: string[]): Promise<void> {
  await createProgram().parseAsync(argv);
}
