/** `mobilenet-detect coco-eval`: pycocotools' bbox evaluation on a ground-truth file and a results file. */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { UsageError, formatTable } from '@mobilenets/cli-kit';
import { evaluateCocoBoxes, formatCocoStats } from '@mobilenets/box-math';

interface CocoEvalOptions {
  gt: string;
  dt: string;
  ignoreField?: boolean;
  json?: boolean;
}

/** The parsed JSON of `file`, or a usage error (missing file) / failure (not JSON) naming the option and the file. */
function readJson(option: string, file: string, expected: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${option} ${file}: no such file. Expected ${expected}.`);
    if (code === 'EISDIR') throw new UsageError(`${option} ${file}: this is a folder. Expected ${expected}.`);
    throw new Error(`${option} ${file}: cannot read it (${code ?? (error as Error).message}).`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} ${file}: not valid JSON (${(error as Error).message}). Expected ${expected}.`);
  }
}

export function cocoEvalCommand(): Command {
  return new Command('coco-eval')
    .description("evaluate detections as pycocotools' COCOeval (bbox) does: the 12 summary numbers and AP per category")
    .requiredOption('--gt <file.json>', 'COCO ground truth (images, annotations, categories)')
    .requiredOption('--dt <file.json>', 'COCO results: [{ image_id, category_id, bbox: [x, y, w, h], score }, …]')
    .option('--ignore-field', "also ignore ground truths with a truthy 'ignore' field (pycocotools does not)")
    .option('--json', 'print { "stats": [12 numbers in pycocotools order], "perCategory": { id: { name, ap, ap50, … } } }')
    .action((o: CocoEvalOptions) => {
      const gt = readJson('--gt', o.gt, 'a COCO ground-truth JSON object');
      const dt = readJson('--dt', o.dt, 'a COCO results JSON array');
      let result;
      try {
        result = evaluateCocoBoxes(gt, dt, { useIgnoreField: o.ignoreField === true });
      } catch (error) {
        // The evaluator names the entry and field; say which file holds it.
        const message = (error as Error).message;
        const file = /^results/.test(message) ? `--dt ${o.dt}` : `--gt ${o.gt}`;
        throw new Error(`${file}: ${message}`);
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ stats: result.stats, perCategory: result.perCategory })}\n`);
        return;
      }
      const rows = result.categoryIds.map((id) => ({ id, ...result.perCategory[id] }));
      const ap = (v: number) => (v < 0 ? '—' : v.toFixed(3));
      process.stdout.write(
        `${formatCocoStats(result.stats)}\n\n${formatTable(rows, [
          { header: 'category', value: (r) => `${r.name} (${r.id})` },
          { header: 'AP', value: (r) => ap(r.ap), align: 'right' },
          { header: 'AP50', value: (r) => ap(r.ap50), align: 'right' },
          { header: 'AP75', value: (r) => ap(r.ap75), align: 'right' },
          { header: 'AR100', value: (r) => ap(r.ar100), align: 'right' },
        ])}\n`,
      );
    });
}
