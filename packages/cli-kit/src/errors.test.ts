import { UsageError, rangeErrorsAsUsage, reportError } from './errors';

describe('reportError', () => {
  const saved = process.env.MOBILENETS_DEBUG;
  afterEach(() => {
    if (saved === undefined) delete process.env.MOBILENETS_DEBUG;
    else process.env.MOBILENETS_DEBUG = saved;
  });

  it('prints the message and its causes, no stack, exit status 1', () => {
    delete process.env.MOBILENETS_DEBUG;
    const lines: string[] = [];
    const status = reportError(new Error('cannot read model.json', { cause: new Error('ENOENT: no such file') }), (l) => lines.push(l));
    expect(status).toBe(1);
    expect(lines[0]).toBe('error: cannot read model.json');
    expect(lines[1]).toBe('  caused by: ENOENT: no such file');
    expect(lines.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('gives usage errors status 2 and prints stacks when MOBILENETS_DEBUG=1', () => {
    process.env.MOBILENETS_DEBUG = '1';
    const lines: string[] = [];
    expect(reportError(new UsageError('--alpha expects a number'), (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toMatch(/\n\s+at /);
  });
});

describe('rangeErrorsAsUsage', () => {
  it('turns a RangeError into a usage error naming the flags, and lets other errors and results through', () => {
    const tooBig = () => rangeErrorsAsUsage(() => { throw new RangeError('the batch does not fit in 4 GiB'); }, '--batch 64, --input-size 224');
    expect(tooBig).toThrow(UsageError);
    expect(tooBig).toThrow('the batch does not fit in 4 GiB (--batch 64, --input-size 224)');
    expect(() => rangeErrorsAsUsage(() => { throw new TypeError('bad model'); }, '--batch 1')).toThrow(TypeError);
    expect(rangeErrorsAsUsage(() => 7, '--batch 1')).toBe(7);
  });
});
