/**
 * Every resource column (Mult-Adds, parameters) of the MobileNet papers that the project's models
 * define, regenerated from the profiler and printed next to the published values, ✓/✗ per cell.
 * The published values, their sources and the known paper typos are in tools/paper/published.json.
 * Usage: npm run paper:tables [-- --json]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, formatTable, reportError } from '@mobilenets/cli-kit';
import { setup } from '@mobilenets/runtime';
import { measureRow, quantityOfColumn } from './models';

const USAGE = `Usage: npm run paper:tables [-- --json]

Rebuilds every model of the MobileNet papers' resource tables (V1 Tables 2-10, 12-14; V2 Tables 4-6;
the official V2 checkpoint table), counts its Mult-Adds and parameters with the backbone's profiler and
prints them next to the published values (tools/paper/published.json), with ✓ / ✗ / typo per cell.

  --json   one JSON object: { "cells": [...], "rule": "..." }
  --help   this text`;

type Unit = 'M' | 'B' | '%';
type RuleName = 'within-one-unit' | 'floor' | 'round';

interface PublishedCell {
  value: number;
  decimals: number;
  unit: Unit;
  paperTypo?: string;
}

interface PublishedRow {
  row: string;
  paperTypo?: string;
  cells: Record<string, PublishedCell>;
}

interface PublishedTable {
  id: string;
  source: string;
  table: number | null;
  title: string;
  rule: RuleName;
  columnRules?: Record<string, RuleName>;
  notBuilt?: string[];
  inconsistencies?: string[];
  rows: PublishedRow[];
}

interface Source {
  paper: string;
  arxiv: string | null;
  version: string | null;
}

interface Published {
  /** The match rule in words, as the output states it. */
  rule: string;
  rules: Record<RuleName, string>;
  sources: Record<string, Source>;
  tables: PublishedTable[];
}

/** One compared cell, as --json prints it. */
export interface Cell {
  table: string;
  row: string;
  column: string;
  unit: Unit;
  /** Our count in the table's unit, unrounded. */
  ours: number;
  /** Our count as an integer (Mult-Adds, parameters), or the exact share for % cells. */
  oursExact: number;
  /** Ours rounded the way the table prints (its rule: to nearest, or floor). */
  oursPrinted: string;
  paper: number;
  paperPrinted: string;
  rule: RuleName;
  match: boolean;
  /** Why the published value is known to be wrong, or null. */
  paperTypo: string | null;
  note?: string;
}

const UNIT_SCALE: Readonly<Record<Unit, number>> = { M: 1e6, B: 1e9, '%': 1 };

function readPublished(): Published {
  return JSON.parse(fs.readFileSync(path.join(__dirname, 'published.json'), 'utf8')) as Published;
}

/** `value` to `decimals` decimals, by the rule's rounding (floor for 'floor', to nearest otherwise). */
function roundAs(value: number, decimals: number, rule: RuleName): number {
  const scale = 10 ** decimals;
  // The 1e-9 absorbs binary noise (e.g. 2.61 · 100 = 260.99999…) before the floor.
  return rule === 'floor' ? Math.floor(value * scale + 1e-9) / scale : Math.round(value * scale) / scale;
}

function matches(ours: number, paper: PublishedCell, rule: RuleName): boolean {
  const unitsApart = Math.abs(roundAs(ours, paper.decimals, rule) - paper.value) * 10 ** paper.decimals;
  return rule === 'within-one-unit' ? unitsApart <= 1 + 1e-9 : unitsApart < 1e-9;
}

function compareRow(table: PublishedTable, row: PublishedRow): Cell[] {
  const measured = measureRow(table.id, row.row);
  return Object.entries(row.cells).map(([column, paper]) => {
    const rule = table.columnRules?.[column] ?? table.rule;
    const oursExact = measured[quantityOfColumn(column)];
    const ours = oursExact / UNIT_SCALE[paper.unit];
    return {
      table: table.id,
      row: row.row,
      column,
      unit: paper.unit,
      ours,
      oursExact,
      oursPrinted: roundAs(ours, paper.decimals, rule).toFixed(paper.decimals),
      paper: paper.value,
      paperPrinted: paper.value.toFixed(paper.decimals),
      rule,
      match: matches(ours, paper, rule),
      paperTypo: paper.paperTypo ?? row.paperTypo ?? null,
      ...(measured.note === undefined ? {} : { note: measured.note }),
    };
  });
}

function status(c: Cell): string {
  if (c.match) return '✓';
  return c.paperTypo === null ? '✗' : 'typo';
}

/** Ours with two more decimals than the paper printed: 568.74 M against 569 M. */
function formatOurs(c: Cell, decimals: number): string {
  return `${c.ours.toFixed(decimals + 2)} ${c.unit}`;
}

function sourceLine(table: PublishedTable, sources: Record<string, Source>): string {
  const s = sources[table.source];
  const where = s.arxiv === null ? `${s.paper}, ${s.version}` : `arXiv ${s.arxiv}${s.version === null ? '' : ` ${s.version}`}${table.table === null ? '' : `, Table ${table.table}`}`;
  return `${table.id}: ${table.title} — ${where}`;
}

/** One paper table: its cells, then its notes and typo reasons as lettered footnotes. */
function formatPaperTable(table: PublishedTable, cells: Cell[], sources: Record<string, Source>): string {
  const footnotes: string[] = [];
  const mark = (text: string) => {
    if (!footnotes.includes(text)) footnotes.push(text);
    return String.fromCharCode(97 + footnotes.indexOf(text));
  };
  const decimalsOf = (c: Cell) => table.rows.find((r) => r.row === c.row)!.cells[c.column].decimals;
  const printed = formatTable(cells, [
    { header: 'row', value: (c) => c.row },
    { header: 'column', value: (c) => c.column },
    { header: 'ours', value: (c) => formatOurs(c, decimalsOf(c)), align: 'right' },
    { header: 'paper', value: (c) => `${c.paperPrinted} ${c.unit}`, align: 'right' },
    { header: '✓/✗', value: status },
    { header: 'note', value: (c) => [c.note, c.paperTypo === null ? undefined : `paper typo: ${c.paperTypo}`].filter((n): n is string => n !== undefined).map(mark).join(' ') },
  ]);
  const extra = [...(table.notBuilt ?? []).map((n) => `not built yet: ${n}`), ...(table.inconsistencies ?? []).map((n) => `paper: ${n}`)];
  return [sourceLine(table, sources), printed, ...footnotes.map((f, i) => `  ${String.fromCharCode(97 + i)}: ${f}`), ...extra.map((e) => `  ${e}`)].join('\n');
}

/** Cells that match, that do not but are a known paper typo, and the rest. */
function countCells(cells: Cell[]): { cells: number; match: number; paperTypo: number; differ: number } {
  const match = cells.filter((c) => c.match).length;
  const paperTypo = cells.filter((c) => !c.match && c.paperTypo !== null).length;
  return { cells: cells.length, match, paperTypo, differ: cells.length - match - paperTypo };
}

function summaryLine(cells: Cell[]): string {
  const n = countCells(cells);
  return `${n.cells} cells: ${n.match} match, ${n.paperTypo} paper typo, ${n.differ} differ`;
}

function parseArguments(argv: string[]): { json: boolean; help: boolean } {
  const known = new Set(['--json', '--help', '-h']);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown.join(' ')} (paper:tables takes --json and --help)`);
  return { json: argv.includes('--json'), help: argv.includes('--help') || argv.includes('-h') };
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const published = readPublished();
  await setup({ backend: 'cpu', log: null });
  const byTable = published.tables.map((table) => ({ table, cells: table.rows.flatMap((row) => compareRow(table, row)) }));
  const cells = byTable.flatMap((t) => t.cells);
  if (options.json) {
    console.log(JSON.stringify({ cells, rule: published.rule, summary: countCells(cells) }, null, 2));
    return;
  }
  console.log(byTable.map((t) => formatPaperTable(t.table, t.cells, published.sources)).join('\n\n'));
  console.log(`\n${summaryLine(cells)}.`);
  console.log(published.rule);
}

main().catch((error) => {
  process.exitCode = reportError(error);
});
