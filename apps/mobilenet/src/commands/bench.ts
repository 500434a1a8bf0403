/** `mobilenet bench`: measurements that print their numbers (never timed tests). */
import { Command } from 'commander';
import { benchInferCommand } from './bench-infer';
import { benchTrainCommand } from './bench-train';

export function benchCommand(): Command {
  return new Command('bench').description('benchmarks: training throughput and inference latency').addCommand(benchTrainCommand()).addCommand(benchInferCommand());
}
