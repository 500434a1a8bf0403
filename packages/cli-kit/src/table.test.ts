import { formatInteger, formatMillions, formatTable } from './table';

describe('formatTable', () => {
  it('pads columns, right-aligns numbers with thousands separators', () => {
    const text = formatTable(
      [
        { name: 'Conv2d_0', macs: 10838016 },
        { name: 'Logits', macs: 1024000 },
      ],
      [
        { header: 'layer', value: (r) => r.name },
        { header: 'Mult-Adds', value: (r) => r.macs },
      ],
    );
    expect(text.split('\n')).toEqual([
      'layer      Mult-Adds',
      '────────  ──────────',
      'Conv2d_0  10,838,016',
      'Logits     1,024,000',
    ]);
  });
});

describe('number formats', () => {
  it('formats integers and millions', () => {
    expect(formatInteger(568740352)).toBe('568,740,352');
    expect(formatInteger(1.23456)).toBe('1.23');
    expect(formatMillions(568740352)).toBe('568.7M');
    expect(formatMillions(4210088, 2)).toBe('4.21M');
    expect(formatMillions(4867293184)).toBe('4.87B');
  });
});
