/** `mobilenet summary`: the per-layer Mult-Adds and parameter table, counted as the papers count. */
import { Command, Option } from 'commander';
import { LAYER_TYPES, ModelProfile, profile } from '@mobilenets/backbone';
import { addArchitectureOptions, ArchitectureOptions, UsageError, buildMobileNet, formatInteger, formatMillions, formatTable, parseChoiceOption, parseIntegerOption } from '@mobilenets/cli-kit';
import { setup } from '@mobilenets/runtime';
import { type DetectorKind, PAPER_DETECTORS, formatDetectorSummary, summarizeDetector } from '../detector-summary';
import { FASTER_RCNN_SUMMARY_DEFAULTS, formatFasterRcnnSummary, summarizeFasterRcnn } from '../faster-rcnn-summary';

const MODELS = ['classifier', 'ssd', 'ssdlite', 'faster-rcnn'] as const;

export function summaryCommand(): Command {
  return addArchitectureOptions(new Command('summary'), { classes: true, head: true })
    .description("per-layer Mult-Adds and parameters, counted as the MobileNet papers count them (conv and FC multiply-adds; BN apart); for a detector, per part next to the paper's row")
    .addOption(
      new Option(
        '--model <model>',
        "the classifier, or a detector on the backbone: ssd, ssdlite or faster-rcnn; a detector's --input-size and --classes (object classes, without the background) default to the paper's " +
          `(SSD on V1: ${PAPER_DETECTORS['v1/ssd'].inputSize} px, ${PAPER_DETECTORS['v1/ssd'].classes} classes; Faster R-CNN: ${FASTER_RCNN_SUMMARY_DEFAULTS.inputSize} px, ${FASTER_RCNN_SUMMARY_DEFAULTS.classes} classes; ` +
          `the others: ${PAPER_DETECTORS['v2/ssdlite'].inputSize} px, ${PAPER_DETECTORS['v2/ssdlite'].classes} classes)`,
      )
        .argParser(parseChoiceOption('--model', MODELS))
        .default('classifier'),
    )
    .addOption(
      new Option('--proposals <n>', `--model faster-rcnn: proposals the second stage runs on an image (default ${FASTER_RCNN_SUMMARY_DEFAULTS.proposals}, the paper's)`).argParser(parseIntegerOption('--proposals', 1)),
    )
    .option('--json', 'print one JSON object instead of tables')
    .addHelpText(
      'after',
      '\nExamples:\n  mobilenet summary --arch v1 --alpha 1 --input-size 224\n  mobilenet summary --arch v2 --alpha 0.35 --input-size 96 --json\n  mobilenet summary --arch v1 --variant shallow\n' +
        '  mobilenet summary --model ssd --arch v1 --input-size 300 --classes 90\n  mobilenet summary --model ssdlite --arch v2 --json\n' +
        '  mobilenet summary --model faster-rcnn --arch v1 --input-size 600',
    )
    .action(async (options: ArchitectureOptions & { model: (typeof MODELS)[number]; proposals?: number; json?: boolean }, command: Command) => {
      await setup({ backend: 'cpu', log: null }); // counting needs no speed; cpu is always there
      if (options.proposals !== undefined && options.model !== 'faster-rcnn') throw new UsageError(`--proposals counts a Faster R-CNN's second stage; it does not apply to --model ${options.model}.`);
      // The classifier's defaults (224 px, 1000 classes) are not the detectors': only values the user typed count.
      const given = (name: string) => (command.getOptionValueSource(name) === 'default' ? undefined : (options as unknown as Record<string, number>)[name]);
      if (options.model === 'faster-rcnn') {
        const summary = summarizeFasterRcnn(options, { inputSize: given('inputSize'), classes: given('classes'), proposals: options.proposals });
        process.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : `${formatFasterRcnnSummary(summary)}\n`);
        return;
      }
      if (options.model !== 'classifier') {
        const summary = summarizeDetector(options.model as DetectorKind, options, { inputSize: given('inputSize'), classes: given('classes') });
        process.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : `${formatDetectorSummary(summary)}\n`);
        return;
      }
      const model = buildMobileNet(options);
      try {
        const result = profile(model);
        process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${formatProfile(result)}\n`);
      } finally {
        model.dispose();
      }
    });
}

export function formatProfile(p: ModelProfile): string {
  const layers = formatTable(
    p.layers.map((row, i) => ({ ...row, index: i + 1 })),
    [
      { header: '#', value: (r) => r.index },
      { header: 'layer', value: (r) => r.name },
      { header: 'type', value: (r) => r.type },
      { header: 'kernel', value: (r) => r.kernel },
      { header: 'stride', value: (r) => r.stride },
      { header: 'output', value: (r) => r.outputShape.join('×'), align: 'right' },
      { header: 'Mult-Adds', value: (r) => r.multAdds },
      { header: 'params', value: (r) => r.params },
    ],
  );
  const byType = formatTable(
    LAYER_TYPES.map((type) => ({ type, ...p.byType[type] })),
    [
      { header: 'type', value: (r) => r.type },
      { header: 'layers', value: (r) => r.layers },
      { header: 'Mult-Adds', value: (r) => r.multAdds },
      { header: '% Mult-Adds', value: (r) => r.multAddsPercent.toFixed(2), align: 'right' },
      { header: 'params', value: (r) => r.params },
      { header: '% params', value: (r) => r.paramsPercent.toFixed(2), align: 'right' },
    ],
  );
  return [
    `${p.model} — input ${p.inputShape.join('×')}`,
    '',
    layers,
    '',
    byType,
    '',
    `Total: ${formatInteger(p.multAdds)} Mult-Adds (${formatMillions(p.multAdds)}), ${formatInteger(p.params)} params (${formatMillions(p.params, 2)}), ` +
      `plus ${formatInteger(p.bnParams)} batch-norm parameters (γ, β, moving mean and variance).`,
  ].join('\n');
}
