/**
 * `mobilenet-classify eval`: top-1, top-5, per-class accuracy and the confusion matrix of a saved model,
 * on the held-out split of its training run (--run) or on a folder (--model and --data).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { setup } from '@mobilenets/runtime';
import { UsageError, describeWriteError, formatTable, parseIntegerOption, progressLine } from '@mobilenets/cli-kit';
import { evaluate } from '@mobilenets/training';
import * as datasets from '@mobilenets/datasets';
import type { ImageDataset, ImageRecord } from '@mobilenets/datasets';
import { confusionSvg, renderPng } from '../charts';
import { type Classifier, loadClassifier } from '../model-io';
import { type ClassifyRunSettings, readClassifyRun } from '../run-settings';
import { type SkippedImage, maxPixelsOption, readFolder, reportFolder } from './shared';

interface EvalOptions {
  model?: string;
  run?: string;
  data?: string;
  batch: number;
  maxPixels?: number;
  /** A file name, false for --no-plot, undefined for the default. */
  plot?: string | false;
  json?: boolean;
}

/** Which images were scored, for the report. */
interface Source {
  /** 'held-out': the run's validation share of its data; 'val-folder': the run's --val folder; 'folder': a --data folder, all of it. */
  kind: 'held-out' | 'val-folder' | 'folder';
  folder: string;
  /** The run folder the split comes from (held-out, val-folder). */
  run: string | null;
  valFraction: number | null;
  seed: number | null;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a saved classifier: top-1, top-5, per-class accuracy and the confusion matrix, on the held-out images of its run (--run) or on a folder (--model, --data)')
    .option('--run <dir>', "a run folder written by 'train --out': scores its model on the images that run held out from training")
    .option('--model <dir>', "a model folder (<out>/model) or a run folder (<out>); with --data")
    .option('--data <dir>', 'with --model: an ImageFolder whose class names are labels of the model; every image in it is scored (train/ and val/ subfolders included)')
    .addOption(new Option('--batch <n>', 'images per forward pass').argParser(parseIntegerOption('--batch', 1)).default(32))
    .addOption(maxPixelsOption())
    .option('--plot <file.png>', 'where to write the confusion-matrix picture (default: confusion-matrix*.png in the run folder; none for a model outside a run folder)')
    .option('--no-plot', 'write no picture')
    .option('--json', 'print one JSON object (progress and warnings still go to stderr)')
    .addHelpText('after', [
      '',
      'Examples:',
      '  mobilenet-classify eval --run runs/shapes                  # the images runs/shapes held out from training',
      '  mobilenet-classify eval --model runs/shapes --data photos/ # every image in photos/',
      '',
      'The picture is written to <run>/confusion-matrix.png for --run, to <run>/confusion-matrix-<data folder name>.png',
      'for --model <run> --data, and only with --plot for a model folder that is not inside a run folder: eval never',
      'writes into a model folder or a data folder. If it cannot be written, eval warns and still prints the results.',
    ].join('\n'))
    .action(async (o: EvalOptions) => {
      await evalAction(o);
    });
}

async function evalAction(o: EvalOptions): Promise<void> {
  checkFlags(o);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (o.run !== undefined) runSettings(o.run, '--run'); // a folder without run.json: say so before looking for a model
  await setup({ log });
  const classifier = o.run !== undefined ? await loadClassifier(o.run, '--run') : await loadClassifier(o.model as string);
  const { model, labels, inputSize } = classifier;
  try {
    const { source, records, dataset } = o.run !== undefined ? await heldOutImages(o.run, classifier) : await folderImages(o.data as string, classifier, log);
    reportFolder(source.kind === 'folder' ? '--data' : source.folder, dataset, log);
    if (records.length === 0) throw new Error(`there are no images to score among ${describeSource(source)}.`);

    const skipped: SkippedImage[] = [];
    const data = datasets.classificationData(records, labels, {
      inputSize,
      augment: false,
      decode: o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels },
      onSkip: (file, error) => {
        skipped.push({ file, reason: reasonOf(file, error) });
        log(`warning: skipped ${file}: ${reasonOf(file, error)}`);
      },
    });
    const progress = progressLine('evaluating', 'images');
    const r = await evaluate(model, withProgress(data, o.batch, progress.update), { batchSize: o.batch }).catch((error: unknown) => {
      if (skipped.length === records.length) {
        const [first] = skipped;
        throw new Error(`none of the ${records.length} images to score in ${source.folder} could be read (all are listed in the warnings above); the first: ${first.file}: ${first.reason}`);
      }
      throw error;
    });
    progress.done();

    const skippedFiles = new Set(skipped.map((s) => s.file));
    const scored = records.filter((rec) => !skippedFiles.has(rec.path));
    const perClass = labels.map((label, i) => ({ label, accuracy: Number.isNaN(r.perClass[i].accuracy) ? null : r.perClass[i].accuracy, count: r.perClass[i].count }));
    const counts = perClass.filter((c) => c.count > 0).map((c) => `${c.label} ${c.count}`).join(', ');
    const title = `${describeSource(source)}: top-1 ${(100 * r.top1).toFixed(1)}% on ${r.count} images`;
    const png = await writePicture(plotFile(o, classifier), confusionSvg(r.confusion, labels, title), log);

    if (o.json) {
      process.stdout.write(`${JSON.stringify({
        top1: r.top1,
        top5: r.top5,
        loss: r.loss,
        count: r.count,
        labels,
        perClass,
        confusion: r.confusion,
        model: path.resolve(classifier.modelDir),
        source,
        files: scored.map((rec) => rec.path),
        skipped,
        confusionPng: png,
      })}\n`);
      return;
    }
    const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
    const lines = [
      `scored ${r.count} images (${counts}): ${describeSource(source)}${skipped.length > 0 ? `; ${skipped.length} unreadable, left out (see the warnings above)` : ''}`,
      `top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)}, loss ${r.loss.toFixed(4)}`,
      '',
      formatTable(perClass, [
        { header: 'class', value: (c) => c.label },
        { header: 'images', value: (c) => String(c.count), align: 'right' },
        { header: 'top-1', value: (c) => pct(c.accuracy), align: 'right' },
      ]),
      '',
      'confusion matrix (rows: true class, columns: predicted):',
      formatTable(labels.map((label, i) => ({ label, row: r.confusion[i] })), [
        { header: 'true \\ predicted', value: (x) => x.label },
        ...labels.map((l, j) => ({ header: l, value: (x: { row: number[] }) => String(x.row[j]), align: 'right' as const })),
      ]),
      '',
      png !== null ? `confusion matrix image: ${png}` : o.plot === false ? '' : 'confusion matrix image: not written (give --plot FILE.png to save one)',
    ];
    process.stdout.write(`${lines.join('\n').trimEnd()}\n`);
  } finally {
    model.dispose();
  }
}

function checkFlags(o: EvalOptions): void {
  const how = "Use 'eval --run RUN' to score the images a training run held out, or 'eval --model MODEL --data FOLDER' to score a folder.";
  if (o.run !== undefined && o.model !== undefined) throw new UsageError(`--run and --model both name a model; give one of them. ${how}`);
  if (o.run !== undefined && o.data !== undefined) {
    throw new UsageError(`--run scores the images that run held out, so it takes no --data. To score ${o.data} with that run's model, use --model ${o.run} --data ${o.data}.`);
  }
  if (o.run === undefined && o.model === undefined) throw new UsageError(`no model given. ${how}`);
  if (o.model?.toLowerCase().endsWith('.onnx')) {
    throw new UsageError(`--model ${o.model}: eval scores saved model folders (model.json + weights.bin), not ONNX files. Give the model folder the file was exported from; 'predict --model ${o.model}' classifies images with the ONNX file.`);
  }
  if (o.model !== undefined && o.data === undefined) throw new UsageError(`--model needs --data FOLDER (the images to score). To score the images its training run held out, use --run RUN_FOLDER instead.`);
  if (typeof o.plot === 'string') {
    let isDir = false;
    try {
      isDir = fs.statSync(o.plot).isDirectory();
    } catch {
      // a new file: fine
    }
    if (isDir) throw new UsageError(`--plot ${o.plot} is a folder; give a file name, e.g. ${path.join(o.plot, 'confusion-matrix.png')}.`);
  }
}

function describeSource(s: Source): string {
  if (s.kind === 'held-out') return `the images held out for validation from ${s.folder} (val-fraction ${s.valFraction}, seed ${s.seed}, as recorded in ${path.join(s.run as string, 'run.json')})`;
  if (s.kind === 'val-folder') return `the validation folder ${s.folder} of the run ${s.run}`;
  return `every image in ${s.folder}`;
}

function reasonOf(file: string, error: Error): string {
  return error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message;
}

/** Records of `dataset` relabelled to the model's labels; class folders the model does not know are a usage error. */
function relabel(dataset: ImageDataset, records: readonly ImageRecord[], classifier: Classifier, option: string, folder: string): ImageRecord[] {
  const { labels } = classifier;
  const unknown = dataset.classes.filter((c) => !labels.includes(c));
  if (unknown.length > 0) {
    throw new UsageError(
      `${option} ${folder}: class folder(s) ${unknown.map((c) => `'${c}'`).join(', ')} are not labels of the model ` +
        `(${path.join(classifier.modelDir, 'labels.json')}: ${labels.join(', ')}). Every class folder must be one of the model's classes; move the others out, or score another folder.`,
    );
  }
  return records.map((r) => ({ path: r.path, label: labels.indexOf(dataset.classes[r.label]) }));
}

function runSettings(runDir: string, option: string): ClassifyRunSettings {
  if (!fs.existsSync(runDir)) throw new UsageError(`${option} ${runDir}: no such folder. Expected the folder that 'mobilenet-classify train --out' wrote.`);
  if (!fs.statSync(runDir).isDirectory()) throw new UsageError(`${option} ${runDir}: this is a file. Expected the folder that 'mobilenet-classify train --out' wrote.`);
  let settings: ClassifyRunSettings | null;
  try {
    settings = readClassifyRun(runDir);
  } catch (error) {
    throw new Error(`${option} ${runDir}: cannot use the run's record`, { cause: error });
  }
  if (settings === null && fs.existsSync(path.join(runDir, '..', 'run.json'))) {
    throw new UsageError(`${option} ${runDir}: no run.json there; this looks like the model folder of the run in ${path.dirname(path.resolve(runDir))}. Give that folder: ${option} ${path.dirname(path.resolve(runDir))}.`);
  }
  if (settings === null) {
    throw new UsageError(
      `${option} ${runDir}: no run.json there, so the held-out images are not known. Expected the folder that 'mobilenet-classify train --out' wrote. ` +
        `To score a model on a folder of images, use --model ${runDir} --data FOLDER.`,
    );
  }
  const file = path.join(runDir, 'run.json');
  const ok = typeof settings.data === 'string' && (settings.val === null || typeof settings.val === 'string') &&
    typeof settings.valFraction === 'number' && Number.isSafeInteger(settings.seed) && Array.isArray(settings.classes);
  if (!ok) throw new Error(`${file}: expected "data" (a folder), "val" (a folder or null), "valFraction", "seed" and "classes" in its settings; the file is damaged or from another version.`);
  return settings;
}

/** The images the run in `runDir` held out from training: a share of its --data, or its --val folder. */
async function heldOutImages(runDir: string, classifier: Classifier): Promise<{ source: Source; records: ImageRecord[]; dataset: ImageDataset }> {
  const run = runSettings(runDir, '--run');
  const sameClasses = run.classes.length === classifier.labels.length && run.classes.every((c, i) => c === classifier.labels[i]);
  if (!sameClasses) {
    throw new Error(
      `--run ${runDir}: the run trained on classes ${run.classes.join(', ')} (run.json), but its model's labels.json lists ${classifier.labels.join(', ')}: ` +
        `${classifier.modelDir} was replaced by another model. Restore it, or score it with --model ${classifier.modelDir} --data FOLDER.`,
    );
  }
  const folder = run.val ?? run.data;
  if (!fs.existsSync(folder)) {
    throw new Error(`--run ${runDir}: the run's ${run.val === null ? 'data' : 'validation'} folder ${folder} (recorded in run.json) does not exist any more. Restore it, or score another folder with --model ${runDir} --data FOLDER.`);
  }
  const option = `--run ${runDir}: ${run.val === null ? 'data' : 'validation'} folder`;
  if (run.val !== null) {
    const dataset = await readFolder(option, folder, 0, run.seed);
    const source: Source = { kind: 'val-folder', folder, run: runDir, valFraction: null, seed: null };
    return { source, dataset, records: relabel(dataset, [...dataset.train, ...dataset.val], classifier, option, folder) };
  }
  if (!(run.valFraction > 0)) {
    throw new UsageError(`--run ${runDir}: the run held out no images (val-fraction ${run.valFraction} and no --val in run.json), so there is nothing to score. Score a folder with --model ${runDir} --data FOLDER.`);
  }
  const dataset = await readFolder(option, folder, run.valFraction, run.seed);
  const source: Source = { kind: 'held-out', folder, run: runDir, valFraction: run.valFraction, seed: run.seed };
  return { source, dataset, records: relabel(dataset, dataset.val, classifier, option, folder) };
}

/** Every image in `folder`; notes when it is the model's own training data. */
async function folderImages(folder: string, classifier: Classifier, log: (line: string) => void): Promise<{ source: Source; records: ImageRecord[]; dataset: ImageDataset }> {
  const dataset = await readFolder('--data', folder, 0, 0);
  const records = relabel(dataset, [...dataset.train, ...dataset.val], classifier, '--data', folder);
  if (classifier.runDir !== null) {
    let run: ClassifyRunSettings | null = null;
    try {
      run = readClassifyRun(classifier.runDir);
    } catch {
      run = null; // only for the note below
    }
    if (run !== null && run.val === null && run.valFraction > 0 && sameFolder(run.data, folder)) {
      const split = await datasets.readImageFolder(folder, { valFraction: run.valFraction, seed: run.seed });
      log(
        `note: --data ${folder} is the folder the model in ${classifier.runDir} was trained on: ${split.train.length} of these ${records.length} images were training images, ` +
          `so the score is optimistic. 'eval --run ${classifier.runDir}' scores only the ${split.val.length} images it held out.`,
      );
    }
  }
  return { source: { kind: 'folder', folder: path.resolve(folder), run: null, valFraction: null, seed: null }, dataset, records };
}

function sameFolder(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** Where the picture goes: --plot, else the run folder, else nowhere (never the model folder or the data folder). */
function plotFile(o: EvalOptions, classifier: Classifier): string | null {
  if (o.plot === false) return null;
  if (typeof o.plot === 'string') return o.plot;
  if (o.run !== undefined) return path.join(classifier.runDir ?? o.run, 'confusion-matrix.png');
  if (classifier.runDir !== null) {
    const name = path.basename(path.resolve(o.data as string)).replace(/[^\w.-]+/g, '_');
    return path.join(classifier.runDir, `confusion-matrix-${name}.png`);
  }
  return null;
}

/** Writes the picture; a failure is a warning (the results are printed anyway). Returns the file, or null. */
async function writePicture(file: string | null, svg: string, log: (line: string) => void): Promise<string | null> {
  if (file === null) return null;
  try {
    fs.writeFileSync(file, await renderPng(svg));
    return path.resolve(file);
  } catch (error) {
    log(`warning: could not write the confusion matrix picture ${file}: ${describeWriteError(file, error)}. The results are below; give --plot FILE.png to write it elsewhere.`);
    return null;
  }
}

/** The same data with a progress callback per batch (images done so far, counting unreadable ones). */
function withProgress(data: datasets.ClassificationData, batchSize: number, update: (done: number, total: number) => void): datasets.ClassificationData {
  return {
    ...data,
    batches: (o) =>
      (async function* () {
        for await (const batch of data.batches(o)) {
          update(Math.min(data.size, (batch.index + 1) * batchSize), data.size);
          yield batch;
        }
      })(),
  };
}
