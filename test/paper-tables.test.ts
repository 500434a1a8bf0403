/** tools/paper/tables.ts (`npm run paper:tables`), run as the README runs it: the papers' resource tables regenerated. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

interface Cell {
  table: string;
  row: string;
  column: string;
  unit: string;
  ours: number;
  oursExact: number;
  paper: number;
  match: boolean;
  paperTypo: string | null;
  note?: string;
}

function runTool(...args: string[]) {
  return spawnSync(process.execPath, ['-r', './tools/ts-register.js', 'tools/paper/tables.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('npm run paper:tables -- --json', () => {
  let output: { cells: Cell[]; rule: string };
  beforeAll(() => {
    const r = runTool('--json');
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    output = JSON.parse(r.stdout);
  });
  const cell = (table: string, row: string, column: string) => {
    const found = output.cells.find((c) => c.table === table && c.row === row && c.column === column);
    if (found === undefined) throw new Error(`no cell ${table} / ${row} / ${column}`);
    return found;
  };

  it('gives every cell the schema fields, and states the match rule', () => {
    expect(output.cells.length).toBeGreaterThan(100);
    for (const c of output.cells) {
      expect(c).toEqual(expect.objectContaining({ table: expect.any(String), row: expect.any(String), column: expect.any(String), unit: expect.stringMatching(/^(M|B|%)$/), ours: expect.any(Number), paper: expect.any(Number), match: expect.any(Boolean) }));
      expect(c.paperTypo === null || (typeof c.paperTypo === 'string' && c.paperTypo.length > 0)).toBe(true);
    }
    expect(output.rule).toMatch(/within one unit of the last printed digit/);
  });

  it('matches every cell of V1 Tables 3–7, or names the paper typo', () => {
    const tables = ['V1 Table 3', 'V1 Table 4', 'V1 Table 5', 'V1 Table 6', 'V1 Table 7'];
    const cells = output.cells.filter((c) => tables.includes(c.table));
    expect(new Set(cells.map((c) => c.table))).toEqual(new Set(tables));
    expect(cells).toHaveLength(32);
    expect(cells.filter((c) => !c.match && c.paperTypo === null)).toEqual([]);
  });

  it('counts V1 1.0-224 at exactly 568,740,352 Mult-Adds (568.74 M against the paper\'s 569 M)', () => {
    const c = cell('V1 Table 6', '1.0 MobileNet-224', 'Mult-Adds');
    expect(c.oursExact).toBe(568_740_352);
    expect(c.ours).toBeCloseTo(568.74, 2);
    expect(c).toMatchObject({ unit: 'M', paper: 569, match: true, paperTypo: null });
  });

  it('flags Table 2\'s Conv 3 × 3 Mult-Adds share (printed 1.19 %, counted 1.91 %) as a paper typo', () => {
    const c = cell('V1 Table 2', 'Conv 3 × 3', 'Mult-Adds');
    expect(c.ours).toBeCloseTo(1.91, 2);
    expect(c).toMatchObject({ paper: 1.19, match: false });
    expect(c.paperTypo).toMatch(/transposition/);
  });

  it('V1 Table 13\'s Faster R-CNN rows: the box classifier on the 14×14 crops for 300 proposals, and the count with TF\'s 2×2 max-pool in the note', () => {
    const at300 = cell('V1 Table 13', 'Faster-RCNN 300 MobileNet', 'Mult-Adds');
    // First stage at 300 px (backbone to Conv2d_11 and the 3×3×512 RPN) once, Conv2d_12–13 on 14×14 → 7×7 and the box predictor 300 times.
    expect(at300).toMatchObject({ unit: 'B', paper: 25.2, match: true, paperTypo: null });
    expect(at300.oursExact).toBe(896537536 + 865013760 + 300 * (49 * 9 * 512 + 49 * 512 * 1024 + 49 * 9 * 1024 + 49 * 1024 * 1024 + 1024 * 91 + 1024 * 360));
    expect(at300.note).toMatch(/with TF's 2×2 max-pool of them, 9\.52B/);
    expect(cell('V1 Table 13', 'Faster-RCNN 600 Mobilenet', 'Mult-Adds')).toMatchObject({ paper: 30.5, match: true });
    expect(cell('V1 Table 13', 'Faster-RCNN 600 Mobilenet', 'Parameters')).toMatchObject({ paper: 6.1, match: true, oursExact: 6044107 });
  });

  it('holds the V2 checkpoint table to its own rounding: all 44 cells match', () => {
    const cells = output.cells.filter((c) => c.table === 'C6 checkpoints');
    expect(cells).toHaveLength(44);
    expect(cells.filter((c) => !c.match)).toEqual([]);
  });
});

describe('npm run paper:tables: the command line', () => {
  it('exits 2 on an unknown flag, naming it', () => {
    const r = runTool('--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option --bogus/);
    expect(r.stdout).toBe('');
  });

  it('prints its usage for --help', () => {
    const r = runTool('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run paper:tables/);
  });
});
