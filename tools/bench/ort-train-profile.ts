/**
 * Where the onnxruntime training engine's step spends its time, by role and by operator (onnxruntime's
 * profiler; the step time is measured with profiling on, so a little slower than `mobilenet bench train`).
 *   npm run bench:train-profile -- [--arch v1] [--alpha 1] [--input-size 224] [--batch 16] [--steps 3] [--no-nchwc] [--json]
 */
import { buildMobileNet, formatTable } from '@mobilenets/cli-kit';
import { StepProfilePart, profileTrainingStep, setup } from '@mobilenets/runtime';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  await setup({ backend: 'cpu', log: null }); // builds the model; the step runs on onnxruntime
  const arch = flag('arch', 'v1') as 'v1' | 'v2';
  const alpha = Number(flag('alpha', '1'));
  const inputSize = Number(flag('input-size', '224'));
  const batch = Number(flag('batch', '16'));
  const steps = Number(flag('steps', '3'));
  const model = buildMobileNet({ arch, alpha, inputSize, variant: 'standard', activation: 'relu6' }, { classes: 10 });
  const profile = await profileTrainingStep(model, { batch, steps, nchwc: !process.argv.includes('--no-nchwc') });
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ arch, alpha, inputSize, batch, ...profile })}\n`);
    return;
  }
  const columns = [
    { header: 'part', value: (r: StepProfilePart) => r.name },
    { header: 'ms/step', value: (r: StepProfilePart) => r.msPerStep.toFixed(1), align: 'right' as const },
    { header: '%', value: (r: StepProfilePart) => r.percent.toFixed(1), align: 'right' as const },
  ];
  process.stdout.write(`${arch} α=${alpha} ${inputSize}px batch ${batch}: ${profile.msPerStep.toFixed(0)} ms/step with profiling on (${profile.imagesPerSecond.toFixed(1)} images/s)\n\n`);
  process.stdout.write(`${formatTable(profile.byRole, columns)}\n\n${formatTable(profile.byOperator.slice(0, 15), columns)}\n`);
  const nodes = Number(flag('nodes', '0'));
  if (nodes > 0) process.stdout.write(`\n${formatTable(profile.byNode.slice(0, nodes), columns)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
