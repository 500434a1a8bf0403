/**
 * The WebAssembly SIMD kernels of the wasm training pack, as WAT text assembled at start-up (simd/module.ts).
 *
 * They run in tfjs' own memory (imported as env.memory) on tensors it allocated; every pointer is a byte
 * offset into that memory and every stride a byte stride. Tensors are NHWC, channels innermost, so a
 * "position" (n, y, x) holds C consecutive float32 values and the same channel of the next position is
 * C·4 bytes further.
 *
 * Two shapes of kernel:
 *
 * - Channel-block kernels walk a 2-D grid of positions (`rows` × `cols`, with a row stride and a column
 *   stride per operand) for one block of channels, holding that block's per-channel state in registers.
 *   Each comes in five variants: `_v1` … `_v4` process 4, 8, 12 or 16 channels as f32x4 vectors, `_s1`
 *   one channel as a scalar (for the C mod 4 channels at the end of a row). The caller (simd/module.ts)
 *   walks the blocks of a row of channels and offsets every pointer to the block's first channel.
 *   Reductions sum in f32 along a row of the grid and add each row's sums into f64 accumulators in
 *   memory (two f64 per f32x4 lane group: the f64 array has the channel layout of the f32 block, at
 *   twice the byte offset), so long sums keep double precision at f32 speed.
 *
 * - Flat kernels walk `n` consecutive floats with per-channel parameters given as a repeating pattern of
 *   `period` floats (a multiple of 4: the channel values repeated lcm(C, 4) / C times), so any channel
 *   count vectorises; the last n mod 4 floats are done one at a time.
 *
 * Loads and stores use align=4: tfjs' tensors are 4-byte aligned, not necessarily 16.
 */

/** A lane: one f32x4 vector (4 channels) or one f32 scalar (1 channel) at a byte offset in the block. */
interface Lane {
  /** Byte offset of the lane's first channel from the block's first channel. */
  off: number;
  vector: boolean;
}

const blockLanes = (vectors: number): Lane[] => Array.from({ length: vectors }, (_, k) => ({ off: 16 * k, vector: true }));
const VARIANTS: [string, Lane[]][] = [
  ['v1', blockLanes(1)],
  ['v2', blockLanes(2)],
  ['v3', blockLanes(3)],
  ['v4', blockLanes(4)],
  ['s1', [{ off: 0, vector: false }]],
];

// ---- per-lane instruction helpers -----------------------------------------------------------------

const type = (l: Lane) => (l.vector ? 'v128' : 'f32');
const op = (l: Lane, name: string) => (l.vector ? `f32x4.${name}` : `f32.${name}`);
const load = (l: Lane, ptr: string) => (l.vector ? `(v128.load offset=${l.off} align=4 (local.get ${ptr}))` : `(f32.load offset=${l.off} align=4 (local.get ${ptr}))`);
const store = (l: Lane, ptr: string, value: string) =>
  l.vector ? `(v128.store offset=${l.off} align=4 (local.get ${ptr}) ${value})` : `(f32.store offset=${l.off} align=4 (local.get ${ptr}) ${value})`;
const zero = (l: Lane) => (l.vector ? '(v128.const f32x4 0 0 0 0)' : '(f32.const 0)');

/** Adds the f32 accumulator `acc` of lane l into the f64 array at `out` (same channel layout, 8 bytes a channel). */
function flushToF64(l: Lane, out: string, acc: string): string {
  const at = 2 * l.off;
  if (!l.vector) {
    return `(f64.store offset=${at} align=4 (local.get ${out}) (f64.add (f64.load offset=${at} align=4 (local.get ${out})) (f64.promote_f32 (local.get ${acc}))))`;
  }
  const high = `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get ${acc}) (local.get ${acc}))`;
  return [
    `(v128.store offset=${at} align=4 (local.get ${out}) (f64x2.add (v128.load offset=${at} align=4 (local.get ${out})) (f64x2.promote_low_f32x4 (local.get ${acc}))))`,
    `(v128.store offset=${at + 16} align=4 (local.get ${out}) (f64x2.add (v128.load offset=${at + 16} align=4 (local.get ${out})) (f64x2.promote_low_f32x4 ${high})))`,
  ].join('\n      ');
}

const each = (lanes: Lane[], emit: (l: Lane, k: number) => string) => lanes.map(emit).join('\n      ');

// ---- channel-block reductions over a grid ---------------------------------------------------------

interface Reduction {
  name: string;
  doc: string;
  /** Per-channel constants loaded once before the loop, as [local name prefix, pointer param]. */
  constants: [string, string][];
  /** f32 accumulators per lane, each flushed to the f64 array named by the pointer param. */
  accumulators: [string, string][];
  /** Per-position update of lane k: reads the operands through pointers $qa / $qb. */
  update: (l: Lane, k: number) => string;
}

/**
 * A reduction over a rows × cols grid: for each row, the f32 accumulators start at zero, collect the row,
 * and are added into their f64 arrays. Params: operand pointers $a, $b (block start), constant pointers,
 * f64 output pointers, then rows, cols and the byte strides (aRow, aCol, bRow, bCol).
 */
function reduction(r: Reduction, variant: string, lanes: Lane[]): string {
  const params = ['$a', '$b', ...r.constants.map(([, p]) => p), ...r.accumulators.map(([, p]) => p)].map((p) => `(param ${p} i32)`).join(' ');
  const locals = lanes.flatMap((l, k) => [...r.constants.map(([c]) => `(local $${c}${k} ${type(l)})`), ...r.accumulators.map(([u]) => `(local $${u}${k} ${type(l)})`)]).join(' ');
  return `
  ;; ${r.name}_${variant}: ${r.doc}
  (func (export "${r.name}_${variant}") ${params}
      (param $rows i32) (param $cols i32) (param $aRow i32) (param $aCol i32) (param $bRow i32) (param $bCol i32)
      (local $qa i32) (local $qb i32) (local $k i32) ${locals}
    ${lanes.map((l, k) => r.constants.map(([c, p]) => `(local.set $${c}${k} ${load(l, p)})`).join(' ')).join('\n    ')}
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      ${each(lanes, (l, k) => r.accumulators.map(([u]) => `(local.set $${u}${k} ${zero(l)})`).join(' '))}
      (local.set $qa (local.get $a)) (local.set $qb (local.get $b)) (local.set $k (local.get $cols))
      (block $rowDone (loop $col
        (br_if $rowDone (i32.eqz (local.get $k)))
        ${each(lanes, r.update)}
        (local.set $qa (i32.add (local.get $qa) (local.get $aCol)))
        (local.set $qb (i32.add (local.get $qb) (local.get $bCol)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $col)))
      ${each(lanes, (l, k) => r.accumulators.map(([u, p]) => flushToF64(l, p, `$${u}${k}`)).join('\n      '))}
      (local.set $a (i32.add (local.get $a) (local.get $aRow)))
      (local.set $b (i32.add (local.get $b) (local.get $bRow)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )`;
}

const accumulate = (l: Lane, acc: string, value: string) => `(local.set ${acc} (${op(l, 'add')} (local.get ${acc}) ${value}))`;

const REDUCTIONS: Reduction[] = [
  {
    name: 'moments',
    doc: 'sum1 += a − s, sum2 += (a − s)² per channel, s a per-channel shift (batch-norm statistics; $b unused)',
    constants: [['s', '$s']],
    accumulators: [['u', '$sum1'], ['w', '$sum2']],
    update: (l, k) =>
      `(local.set $u_d${k} (${op(l, 'sub')} ${load(l, '$qa')} (local.get $s${k})))` +
      ` ${accumulate(l, `$u${k}`, `(local.get $u_d${k})`)} ${accumulate(l, `$w${k}`, `(${op(l, 'mul')} (local.get $u_d${k}) (local.get $u_d${k}))`)}`,
  },
  {
    name: 'grad_sums',
    doc: 'sum1 += a, sum2 += a·(b − t) per channel, t a per-channel mean (batch-norm gradient: a = dy, b = x)',
    constants: [['t', '$t']],
    accumulators: [['u', '$sum1'], ['w', '$sum2']],
    update: (l, k) => {
      const g = load(l, '$qa');
      return `(local.set $u_d${k} ${g}) ${accumulate(l, `$u${k}`, `(local.get $u_d${k})`)} ` +
        accumulate(l, `$w${k}`, `(${op(l, 'mul')} (local.get $u_d${k}) (${op(l, 'sub')} ${load(l, '$qb')} (local.get $t${k})))`);
    },
  },
  {
    name: 'dot',
    doc: 'sum1 += a·b per channel (depthwise filter gradient: a = dy, b = x under one filter tap)',
    constants: [],
    accumulators: [['u', '$sum1']],
    update: (l, k) => accumulate(l, `$u${k}`, `(${op(l, 'mul')} ${load(l, '$qa')} ${load(l, '$qb')})`),
  },
];

/** The moments and grad_sums updates use a temporary $u_dK per lane; declare it. */
function withTemporaries(text: string, lanes: Lane[]): string {
  if (!text.includes('$u_d0')) return text;
  const temps = lanes.map((l, k) => `(local $u_d${k} ${type(l)})`).join(' ');
  return text.replace('(local $qa i32)', `${temps} (local $qa i32)`);
}

// ---- channel-block scatter over a grid ------------------------------------------------------------

/**
 * axpy_<variant>(dst, src, w, rows, cols, dstRow, dstCol, srcRow, srcCol): dst += src · w per channel over
 * a rows × cols grid, w a per-channel weight (the depthwise input gradient, one filter tap at a time:
 * src = dy, dst = the input positions that tap reads).
 */
function axpy(variant: string, lanes: Lane[]): string {
  const locals = lanes.map((l, k) => `(local $w${k} ${type(l)})`).join(' ');
  return `
  ;; axpy_${variant}: dst[position, c] += src[position, c] · w[c] over a rows × cols grid
  (func (export "axpy_${variant}") (param $dst i32) (param $src i32) (param $w i32)
      (param $rows i32) (param $cols i32) (param $dstRow i32) (param $dstCol i32) (param $srcRow i32) (param $srcCol i32)
      (local $qd i32) (local $qs i32) (local $k i32) ${locals}
    ${lanes.map((l, k) => `(local.set $w${k} ${load(l, '$w')})`).join(' ')}
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $qd (local.get $dst)) (local.set $qs (local.get $src)) (local.set $k (local.get $cols))
      (block $rowDone (loop $col
        (br_if $rowDone (i32.eqz (local.get $k)))
        ${each(lanes, (l, k) => store(l, '$qd', `(${op(l, 'add')} ${load(l, '$qd')} (${op(l, 'mul')} ${load(l, '$qs')} (local.get $w${k})))`))}
        (local.set $qd (i32.add (local.get $qd) (local.get $dstCol)))
        (local.set $qs (i32.add (local.get $qs) (local.get $srcCol)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $col)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstRow)))
      (local.set $src (i32.add (local.get $src) (local.get $srcRow)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )`;
}

// ---- flat element-wise kernels with per-channel patterns -------------------------------------------

/**
 * A flat loop over n floats: `body` computes one output lane from the inputs at byte offset $i and the
 * pattern at byte offset $j (which wraps every $period floats).
 */
function flat(name: string, doc: string, inputs: string[], patterns: string[], extra: string, body: (l: Lane) => string): string {
  const vec: Lane = { off: 0, vector: true };
  const one: Lane = { off: 0, vector: false };
  const params = [...inputs, '$out', ...patterns].map((p) => `(param ${p} i32)`).join(' ');
  return `
  ;; ${name}: ${doc}
  (func (export "${name}") ${params} (param $n i32) (param $period i32) ${extra}
      (local $j i32) (local $end i32) (local $patternEnd i32)
    (local.set $patternEnd (i32.shl (local.get $period) (i32.const 2)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    ;; vectors while at least 4 floats remain
    (block $done (loop $vectors
      (br_if $done (i32.lt_s (local.get $end) (i32.const 16)))
      ${store(vec, '$out', body(vec))}
      ${[...inputs, '$out'].map((p) => `(local.set ${p} (i32.add (local.get ${p}) (i32.const 16)))`).join(' ')}
      ${patterns.length ? stepPattern(16) : ''}
      (local.set $end (i32.sub (local.get $end) (i32.const 16)))
      (br $vectors)))
    ;; the last n mod 4 floats
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.eqz (local.get $end)))
      ${store(one, '$out', body(one))}
      ${[...inputs, '$out'].map((p) => `(local.set ${p} (i32.add (local.get ${p}) (i32.const 4)))`).join(' ')}
      ${patterns.length ? stepPattern(4) : ''}
      (local.set $end (i32.sub (local.get $end) (i32.const 4)))
      (br $tail)))
  )`;
}

/** Advances the pattern offset $j by `bytes`, wrapping at the pattern's end. */
function stepPattern(bytes: number): string {
  return `(local.set $j (i32.add (local.get $j) (i32.const ${bytes})))
      (if (i32.ge_u (local.get $j) (local.get $patternEnd)) (then (local.set $j (i32.const 0))))`;
}

/** Pattern value at the current offset $j. */
const patternAt = (l: Lane, p: string) =>
  l.vector ? `(v128.load align=4 (i32.add (local.get ${p}) (local.get $j)))` : `(f32.load align=4 (i32.add (local.get ${p}) (local.get $j)))`;

const FLAT_KERNELS = [
  flat('scale_shift', 'out = x · p + r, p and r per-channel patterns (batch-norm forward)', ['$x'], ['$p', '$r'], '', (l) =>
    `(${op(l, 'add')} (${op(l, 'mul')} ${load(l, '$x')} ${patternAt(l, '$p')}) ${patternAt(l, '$r')})`),
  flat('scale_shift2', 'out = a · p + b · q + r, p, q and r per-channel patterns (batch-norm gradient: a = dy, b = x)', ['$a', '$b'], ['$p', '$q', '$r'], '', (l) =>
    `(${op(l, 'add')} (${op(l, 'add')} (${op(l, 'mul')} ${load(l, '$a')} ${patternAt(l, '$p')}) (${op(l, 'mul')} ${load(l, '$b')} ${patternAt(l, '$q')})) ${patternAt(l, '$r')})`),
  flat('mask', 'out = dy where 0 < x ≤ upper, else 0 (ReLU / ReLU6 gradient; $period unused)', ['$dy', '$x'], [], '(param $upper f32)', (l) => {
    if (!l.vector) {
      return `(select ${load(l, '$dy')} (f32.const 0) (i32.and (f32.gt ${load(l, '$x')} (f32.const 0)) (f32.le ${load(l, '$x')} (local.get $upper))))`;
    }
    return `(v128.and ${load(l, '$dy')} (v128.and (f32x4.gt ${load(l, '$x')} (v128.const f32x4 0 0 0 0)) (f32x4.le ${load(l, '$x')} (f32x4.splat (local.get $upper)))))`;
  }),
];

// ---- transpose ----------------------------------------------------------------------------------------

/** Byte lanes of i8x16.shuffle picking f32 lanes (0–3 of the first operand, 4–7 of the second). */
const pick = (...lanes: number[]) => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');

/**
 * transpose(src, dst, rows, cols): dst[c, r] = src[r, c] for a row-major [rows, cols] float matrix, in
 * 4 × 4 tiles (four row vectors in, four column vectors out, by shuffles); the rows mod 4 last rows and
 * cols mod 4 last columns element by element.
 */
const TRANSPOSE = `
  ;; transpose: dst[cols, rows] = src[rows, cols]ᵀ
  (func (export "transpose") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
      (local $r i32) (local $c i32) (local $rows4 i32) (local $cols4 i32) (local $srcRow i32) (local $dstRow i32)
      (local $p i32) (local $q i32) (local $a v128) (local $b v128) (local $x v128) (local $y v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $srcRow (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $dstRow (i32.shl (local.get $rows) (i32.const 2)))
    ;; 4 × 4 tiles: rows r … r+3, columns c … c+3
    (local.set $r (i32.const 0))
    (block $rowsDone (loop $rowTiles
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows4)))
      (local.set $c (i32.const 0))
      (block $colsDone (loop $colTiles
        (br_if $colsDone (i32.ge_u (local.get $c) (local.get $cols4)))
        (local.set $p (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
        (local.set $a (v128.load align=4 (local.get $p)))
        (local.set $b (v128.load align=4 (i32.add (local.get $p) (local.get $srcRow))))
        (local.set $x (v128.load align=4 (i32.add (local.get $p) (i32.shl (local.get $srcRow) (i32.const 1)))))
        (local.set $y (v128.load align=4 (i32.add (local.get $p) (i32.mul (local.get $srcRow) (i32.const 3)))))
        (local.set $t0 (i8x16.shuffle ${pick(0, 4, 1, 5)} (local.get $a) (local.get $b)))
        (local.set $t1 (i8x16.shuffle ${pick(2, 6, 3, 7)} (local.get $a) (local.get $b)))
        (local.set $t2 (i8x16.shuffle ${pick(0, 4, 1, 5)} (local.get $x) (local.get $y)))
        (local.set $t3 (i8x16.shuffle ${pick(2, 6, 3, 7)} (local.get $x) (local.get $y)))
        (local.set $q (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
        (v128.store align=4 (local.get $q) (i8x16.shuffle ${pick(0, 1, 4, 5)} (local.get $t0) (local.get $t2)))
        (v128.store align=4 (i32.add (local.get $q) (local.get $dstRow)) (i8x16.shuffle ${pick(2, 3, 6, 7)} (local.get $t0) (local.get $t2)))
        (v128.store align=4 (i32.add (local.get $q) (i32.shl (local.get $dstRow) (i32.const 1))) (i8x16.shuffle ${pick(0, 1, 4, 5)} (local.get $t1) (local.get $t3)))
        (v128.store align=4 (i32.add (local.get $q) (i32.mul (local.get $dstRow) (i32.const 3))) (i8x16.shuffle ${pick(2, 3, 6, 7)} (local.get $t1) (local.get $t3)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $colTiles)))
      ;; the last cols mod 4 columns of these 4 rows
      (call $transposeScalar (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (local.get $r) (i32.add (local.get $r) (i32.const 4)) (local.get $cols4))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $rowTiles)))
    ;; the last rows mod 4 rows
    (call $transposeScalar (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (local.get $rows4) (local.get $rows) (i32.const 0))
  )

  ;; transposeScalar: dst[c, r] = src[r, c] for r in [r0, r1), c in [c0, cols), one element at a time
  (func $transposeScalar (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32) (param $r i32) (param $r1 i32) (param $c0 i32)
      (local $c i32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $c (local.get $c0))
      (block $rowDone (loop $col
        (br_if $rowDone (i32.ge_u (local.get $c) (local.get $cols)))
        (f32.store align=4
          (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
          (f32.load align=4 (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $col)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))
  )`;

// ---- the module -------------------------------------------------------------------------------------

function buildModule(): string {
  const blockKernels = VARIANTS.flatMap(([variant, lanes]) => [
    ...REDUCTIONS.map((r) => withTemporaries(reduction(r, variant, lanes), lanes)),
    axpy(variant, lanes),
  ]);
  return `(module
  (import "env" "memory" (memory 1))
${blockKernels.join('\n')}
${FLAT_KERNELS.join('\n')}
${TRANSPOSE}
)
`;
}

export const KERNELS_WAT: string = buildModule();

/** The channel-block variants, widest first: [suffix, channels per block]. */
export const BLOCK_VARIANTS: readonly [string, number][] = [['v4', 16], ['v3', 12], ['v2', 8], ['v1', 4], ['s1', 1]];
