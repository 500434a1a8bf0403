/** Plain-text tables for terminals: columns padded to their widest cell, numbers right-aligned. */

export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number;
  /** Default: right for numbers, left for text. */
  align?: 'left' | 'right';
}

export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const text = cells.map((r) => r.map((v) => (typeof v === 'number' ? formatInteger(v) : v)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...text.map((r) => r[i].length)));
  const alignOf = (i: number) => columns[i].align ?? (cells.length > 0 && typeof cells[0][i] === 'number' ? 'right' : 'left');
  const line = (values: string[]) =>
    values.map((v, i) => (alignOf(i) === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '─'.repeat(w))), ...text.map(line)].join('\n');
}

/** 568740352 → '568,740,352'; non-integers keep up to 2 decimals. */
export function formatInteger(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** 568740352 → '568.7M', 4210088 → '4.21M', 1.2e9 → '1.20B'. */
export function formatMillions(value: number, digits = 1): string {
  if (Math.abs(value) >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  return `${(value / 1e6).toFixed(digits)}M`;
}
