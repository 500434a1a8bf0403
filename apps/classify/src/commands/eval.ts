/** `mobilenet-classify eval`: top-1, top-5, per-class accuracy and the confusion matrix of a saved model on a folder. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { setup } from '@mobilenets/runtime';
import { UsageError, formatTable, parseIntegerOption } from '@mobilenets/cli-kit';
import { evaluate } from '@mobilenets/training';
import { confusionSvg, writePng } from '../charts';
import * as datasets from '@mobilenets/datasets';
import { loadClassifier } from '../model-io';
import { readFolder } from './shared';

interface EvalOptions {
  model: string;
  data: string;
  batch: number;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a saved classifier on an ImageFolder: top-1, top-5, per-class accuracy, confusion matrix (also as a PNG beside the model)')
    .requiredOption('--model <dir>', "a model directory written by 'train' (<out>/model)")
    .requiredOption('--data <dir>', 'ImageFolder with the same class names (a val/ subfolder, if present, is included)')
    .addOption(new Option('--batch <n>', 'images per forward pass').argParser(parseIntegerOption('--batch', 1)).default(32))
    .option('--json', 'print one JSON object')
    .action(async (o: EvalOptions) => {
      await setup({ log: (m) => process.stderr.write(`${m}\n`) });
      const { model, labels, inputSize } = await loadClassifier(o.model);
      try {
        const folder = await readFolder('--data', o.data, 0, 0);
        const unknown = folder.classes.filter((c) => !labels.includes(c));
        if (unknown.length > 0) {
          throw new UsageError(`--data ${o.data}: class folders ${unknown.map((c) => `'${c}'`).join(', ')} are not labels of the model (${path.join(o.model, 'labels.json')}: ${labels.join(', ')}).`);
        }
        const records = [...folder.train, ...folder.val].map((r) => ({ path: r.path, label: labels.indexOf(folder.classes[r.label]) }));
        let skipped = 0;
        const data = datasets.classificationData(records, labels, {
          inputSize,
          augment: false,
          onSkip: (file, error) => {
            skipped += 1;
            process.stderr.write(`warning: skipped ${file}: ${error.message}\n`);
          },
        });
        const r = await evaluate(model, data, { batchSize: o.batch });
        const png = path.join(o.model, 'confusion-matrix.png');
        await writePng(confusionSvg(r.confusion, labels, `${o.data}: top-1 ${(100 * r.top1).toFixed(1)}% on ${r.count} images`), png);
        const perClass = labels.map((label, i) => ({ label, accuracy: Number.isNaN(r.perClass[i].accuracy) ? null : r.perClass[i].accuracy, count: r.perClass[i].count }));
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ top1: r.top1, top5: r.top5, loss: r.loss, count: r.count, skipped, labels, perClass, confusion: r.confusion, confusionPng: png })}\n`);
          return;
        }
        const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
        const lines = [
          `${r.count} images of ${labels.length} classes${skipped > 0 ? ` (${skipped} unreadable, left out)` : ''}: top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)}, loss ${r.loss.toFixed(4)}`,
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
          `confusion matrix image: ${png}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        model.dispose();
      }
    });
}
