import { Command, Option } from 'commander';
import { UsageError } from './errors';
import { checkRecordedFlags, lengthenedCosineOnResume } from './resume';

describe('checkRecordedFlags', () => {
  const parse = (args: string[]) => {
    const command = new Command('train').exitOverride().addOption(new Option('--alpha <a>').argParser(Number).default(0.5)).addOption(new Option('--lr <x>').argParser(Number));
    command.parse(args, { from: 'user' });
    return command;
  };
  const table = [{ flag: '--alpha', key: 'alpha', setting: 'alpha' }, { flag: '--lr', key: 'lr', setting: 'learningRate' }] as const;
  const recorded = { alpha: 1, learningRate: 0.1 };

  it('accepts flags left out (their defaults differ from the run) and flags that repeat the recorded value', () => {
    const none = parse([]);
    expect(() => checkRecordedFlags(recorded, none.opts(), none, '/runs/a', table)).not.toThrow();
    const same = parse(['--alpha', '1', '--lr', '0.1']);
    expect(() => checkRecordedFlags(recorded, same.opts(), same, '/runs/a', table)).not.toThrow();
  });

  it('names the flag, both values and the run folder when a typed flag differs', () => {
    const other = parse(['--lr', '0.2']);
    expect(() => checkRecordedFlags(recorded, other.opts(), other, '/runs/a', table)).toThrow(
      new UsageError('--lr 0.2 conflicts with the run in /runs/a, which was trained with --lr 0.1. Leave --lr out to continue the run as it was, or start a new run with another --out.'),
    );
  });
});

describe('lengthenedCosineOnResume', () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  it('leaves an unchanged plan alone without reading the checkpoint', async () => {
    const lastStep = jest.fn(async () => 10);
    expect(await lengthenedCosineOnResume({ plan: [], before: 100, after: 100, lastStep, log })).toBeNull();
    expect(lastStep).not.toHaveBeenCalled();
  });

  it('adds the lengthening at the last checkpoint and says so', async () => {
    const plan = await lengthenedCosineOnResume({ plan: [], before: 100, after: 150, lastStep: async () => 80, log });
    expect(plan).toEqual([{ atStep: 0, totalSteps: 100 }, { atStep: 80, totalSteps: 150, keepsPhase: true }]);
    expect(lines.at(-1)).toBe('--resume: the cosine schedule now ends at step 150 instead of 100; from step 80 the rate decays from its current value to 0 at the new end.');
  });

  it('refuses a new end at or before the checkpoint', async () => {
    await expect(lengthenedCosineOnResume({ plan: [], before: 100, after: 80, lastStep: async () => 80, log })).rejects.toThrow(
      new UsageError('--resume: the run is already at step 80; --epochs/--steps must end after it (they give 80 steps).'),
    );
  });
});
