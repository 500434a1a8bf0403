/**
 * The options every training command shares — how long to train, how a batch is split over workers,
 * the run folder and its resumption, the seed, --json — with the same names, parsers and help text in
 * every app. Each app adds its own model, data and recipe options around them.
 */
import { Command, Option } from 'commander';
import { parseChoiceOption, parseIntegerOption, parseNumberOption } from './options';

export interface RunOptionSettings {
  /** Epochs when neither --epochs, --steps nor --max-minutes is given. */
  defaultEpochs: number;
  /** Images per optimizer step by default. Default 32. */
  defaultBatch?: number;
  /** Worker threads by default on this machine, and the smallest per-worker share batch norm keeps (runtime's defaultWorkerCount, MIN_BATCH_NORM_BATCH). */
  workers: { byDefault: number; minShare: number };
  /** The run folder's default name and what it will hold, for --out's help. */
  out: { byDefault: string; holds: string };
  /** What --seed fixes, for its help. */
  seeds: string;
  /** The app fits its learning-rate schedule to --max-minutes when neither --epochs nor --steps is given (time-budget.ts). Default false. */
  plansToMaxMinutes?: boolean;
}

function maxMinutesHelp(plans: boolean): string {
  const stop = 'stop cleanly after this many minutes of this call (saving a checkpoint and the model)';
  if (!plans) return stop;
  return `${stop}; without --epochs and --steps, the run is fitted to this time: after the first epoch (or 50 steps) it plans the steps that fit, corrects it at each validation as the speed drifts, and the learning rate decays to 0 at the last step`;
}

/** Adds --engine, --epochs, --steps, --max-minutes, --batch, --accumulate, --workers, --checkpoint-minutes, --out, --resume, --seed and --json. */
export function addRunOptions(command: Command, s: RunOptionSettings): Command {
  return command
    .addOption(
      new Option('--engine <name>', "onnx: each step compiled to one ONNX graph on onnxruntime's native kernels (2–3× faster); tfjs: tfjs autodiff on the tfjs backend, over --workers threads (the reference). Default: onnx, or the MOBILENETS_TRAINER environment variable (ort or tfjs). May change on --resume")
        .argParser(parseChoiceOption('--engine', ['onnx', 'tfjs'] as const)),
    )
    .addOption(new Option('--epochs <n>', `epochs in total (default ${s.defaultEpochs} when neither --steps nor --max-minutes is given); with --resume, may be raised`).argParser(parseIntegerOption('--epochs', 1)))
    .addOption(new Option('--steps <n>', 'optimizer steps in total; with --resume, may be raised').argParser(parseIntegerOption('--steps', 1)))
    .addOption(new Option('--max-minutes <m>', maxMinutesHelp(s.plansToMaxMinutes === true)).argParser(parseNumberOption('--max-minutes')))
    .addOption(new Option('--batch <n>', 'images per optimizer step').argParser(parseIntegerOption('--batch', 1)).default(s.defaultBatch ?? 32))
    .addOption(new Option('--accumulate <k>', 'tfjs engine: split each step into k micro-batches per worker whose gradients are averaged (less memory, same update)').argParser(parseIntegerOption('--accumulate', 1)).default(1))
    .addOption(new Option('--workers <n>', `tfjs engine: worker threads that share each batch (default: up to one per core, here ${s.workers.byDefault}, as long as each worker's share stays ≥ ${s.workers.minShare} images for batch norm; 1 trains in this thread)`).argParser(parseIntegerOption('--workers', 1)))
    .addOption(new Option('--checkpoint-minutes <m>', "also save the 'last' checkpoint when this many minutes have passed since the last save (0: off), so a hard kill loses at most that much work").argParser(parseNumberOption('--checkpoint-minutes')).default(5))
    .option('--out <dir>', `run folder: ${s.out.holds}`, s.out.byDefault)
    .option('--resume [run-dir]', 'continue the run in run-dir (default: --out) from its last checkpoint, with its recorded settings; only --epochs, --steps, --max-minutes, --workers and --accumulate may be given')
    .addOption(new Option('--seed <n>', `seed of ${s.seeds}`).argParser(parseIntegerOption('--seed')).default(0))
    .option('--json', 'print one JSON object at the end (progress still goes to stderr)');
}
