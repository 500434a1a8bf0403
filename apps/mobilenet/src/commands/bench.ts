/** `mobilenet bench`: measurements that print their numbers (never timed tests). */
import { Command } from 'commander';
import { benchTrainCommand } from './bench-train';

export function benchCommand(): Command {
  return new Command('bench').description('benchmarks: training throughput (more to come: inference)').addCommand(benchTrainCommand());
}
