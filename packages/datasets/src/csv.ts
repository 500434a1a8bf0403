/**
 * A small CSV reader for manifests (RFC 4180 fields: commas, double quotes, "" inside quotes; CRLF or
 * LF line ends; a UTF-8 byte-order mark is ignored). Quoted fields may not span lines.
 */

/** One non-blank line's fields and its 1-based line number. */
export interface CsvRow {
  /** The line number in the file, counting from 1. */
  line: number;
  /** The fields, unquoted. */
  fields: string[];
}

/** Splits one line into fields; throws an Error naming `file:line` on an unterminated quote. */
export function parseCsvLine(text: string, file: string, line: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`${file}:${line}: unterminated quoted field (quoted fields may not span lines).`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      // Anything between the closing quote and the next comma is kept as written.
      while (i < text.length && text[i] !== ',') field += text[i++];
    } else {
      while (i < text.length && text[i] !== ',') field += text[i++];
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** The non-blank rows of a CSV text. `file` names it in errors. */
export function parseCsv(text: string, file: string): CsvRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: CsvRow[] = [];
  lines.forEach((content, index) => {
    if (content.trim() === '') return;
    rows.push({ line: index + 1, fields: parseCsvLine(content, file, index + 1) });
  });
  return rows;
}
