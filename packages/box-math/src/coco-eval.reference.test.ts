import { COCO_AREA_RANGES, COCO_IOU_THRESHOLDS, COCO_MAX_DETS, COCO_RECALL_THRESHOLDS, cocoIouXywh, evaluateCocoBoxes } from './coco-eval';

// Cross-check of the typed-array evaluator against a plain, line-by-line transcription of pycocotools' COCOeval
// (evaluate → evaluateImg, accumulate, summarize) on objects, over seeded random sets with score ties, crowds,
// areas on the range bounds and images with more than 100 detections.

interface Gt { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number }
interface Dt { id: number; image_id: number; category_id: number; bbox: number[]; score: number; area: number }
interface EvalImg { dtScores: number[]; dtm: number[][]; dtIg: boolean[][]; gtIg: number[] }

/** Stable argsort of -score (np.argsort(-s, kind='mergesort')). */
const byScore = <T extends { score: number }>(xs: T[]) => xs.map((x, i) => [x, i] as const).sort((a, b) => b[0].score - a[0].score || a[1] - b[1]).map(([x]) => x);

function referenceEvaluate(gtJson: { images: { id: number }[]; annotations: Gt[]; categories: { id: number }[] }, results: Omit<Dt, 'id' | 'area'>[]): number[] {
  const imgIds = [...new Set(gtJson.images.map((i) => i.id))].sort((a, b) => a - b);
  const catIds = [...new Set(gtJson.categories.map((c) => c.id))].sort((a, b) => a - b);
  const dts: Dt[] = results.map((r, i) => ({ ...r, id: i + 1, area: r.bbox[2] * r.bbox[3] }));
  const gtsOf = (i: number, c: number) => gtJson.annotations.filter((g) => g.image_id === i && g.category_id === c);
  const dtsOf = (i: number, c: number) => dts.filter((d) => d.image_id === i && d.category_id === c);
  const evaluateImg = (imgId: number, catId: number, [lo, hi]: readonly [number, number], maxDet: number): EvalImg | null => {
    const gt0 = gtsOf(imgId, catId);
    const dt0 = dtsOf(imgId, catId);
    if (gt0.length === 0 && dt0.length === 0) return null;
    const ig0 = gt0.map((g) => (g.iscrowd || g.area < lo || g.area > hi ? 1 : 0));
    const order = gt0.map((_, i) => i).sort((a, b) => ig0[a] - ig0[b] || a - b);
    const gt = order.map((i) => gt0[i]);
    const gtIg = order.map((i) => ig0[i]);
    const dt = byScore(dt0).slice(0, maxDet);
    const ious = dt.map((d) => Array.from(cocoIouXywh(d.bbox, gt.flatMap((g) => g.bbox), gt.map((g) => g.iscrowd))));
    const gtm = COCO_IOU_THRESHOLDS.map(() => gt.map(() => 0));
    const dtm = COCO_IOU_THRESHOLDS.map(() => dt.map(() => 0));
    const dtIg = COCO_IOU_THRESHOLDS.map(() => dt.map(() => false));
    COCO_IOU_THRESHOLDS.forEach((t, ti) => {
      dt.forEach((d, di) => {
        let iou = Math.min(t, 1 - 1e-10);
        let m = -1;
        for (let gi = 0; gi < gt.length; gi++) {
          if (gtm[ti][gi] > 0 && !gt[gi].iscrowd) continue;
          if (m > -1 && gtIg[m] === 0 && gtIg[gi] === 1) break;
          if (ious[di][gi] < iou) continue;
          iou = ious[di][gi];
          m = gi;
        }
        if (m === -1) return;
        dtIg[ti][di] = gtIg[m] === 1;
        dtm[ti][di] = gt[m].id;
        gtm[ti][m] = d.id;
      });
      dt.forEach((d, di) => {
        if (dtm[ti][di] === 0 && (d.area < lo || d.area > hi)) dtIg[ti][di] = true;
      });
    });
    return { dtScores: dt.map((d) => d.score), dtm, dtIg, gtIg };
  };
  const T = 10, R = 101, K = catIds.length, A = 4, M = 3;
  const precision = new Array(T * R * K * A * M).fill(-1);
  const recall = new Array(T * K * A * M).fill(-1);
  catIds.forEach((catId, k) => COCO_AREA_RANGES.forEach((aRng, a) => {
    const E = imgIds.map((i) => evaluateImg(i, catId, aRng, 100)).filter((e): e is EvalImg => e !== null);
    COCO_MAX_DETS.forEach((maxDet, m) => {
      if (E.length === 0) return;
      const rows = E.flatMap((e) => e.dtScores.slice(0, maxDet).map((score, d) => ({ score, e, d })));
      const sorted = byScore(rows);
      const npig = E.reduce((n, e) => n + e.gtIg.filter((g) => g === 0).length, 0);
      if (npig === 0) return;
      for (let t = 0; t < T; t++) {
        let tp = 0, fp = 0;
        const rc: number[] = [], pr: number[] = [];
        for (const { e, d } of sorted) {
          const matched = e.dtm[t][d] !== 0, ignored = e.dtIg[t][d];
          if (matched && !ignored) tp++;
          if (!matched && !ignored) fp++;
          rc.push(tp / npig);
          pr.push(tp / (fp + tp + 2.220446049250313e-16));
        }
        recall[((t * K + k) * A + a) * M + m] = sorted.length ? rc[rc.length - 1] : 0;
        for (let i = pr.length - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        COCO_RECALL_THRESHOLDS.forEach((thr, r) => {
          const pi = rc.findIndex((v) => v >= thr);
          precision[(((t * R + r) * K + k) * A + a) * M + m] = pi === -1 ? 0 : pr[pi];
        });
      }
    });
  }));
  const summarize = (ap: boolean, iouThr: number | null, a: number, m: number) => {
    const s: number[] = [];
    COCO_IOU_THRESHOLDS.forEach((t, ti) => {
      if (iouThr !== null && t !== iouThr) return;
      if (ap) for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) s.push(precision[(((ti * R + r) * K + k) * A + a) * M + m]);
      else for (let k = 0; k < K; k++) s.push(recall[((ti * K + k) * A + a) * M + m]);
    });
    const v = s.filter((x) => x > -1);
    return v.length ? v.reduce((x, y) => x + y, 0) / v.length : -1;
  };
  return [
    summarize(true, null, 0, 2), summarize(true, 0.5, 0, 2), summarize(true, 0.75, 0, 2),
    summarize(true, null, 1, 2), summarize(true, null, 2, 2), summarize(true, null, 3, 2),
    summarize(false, null, 0, 0), summarize(false, null, 0, 1), summarize(false, null, 0, 2),
    summarize(false, null, 1, 2), summarize(false, null, 2, 2), summarize(false, null, 3, 2),
  ];
}

/** Seeded uniform [0, 1) (a small LCG). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function randomSet(seed: number) {
  const rand = lcg(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const images = [3, 1, 4, 2, 7].map((id) => ({ id }));
  const categories = [5, 2, 9].map((id) => ({ id }));
  const box = () => [pick([0, 10, 20, 40]), pick([0, 10, 30]), pick([10, 20, 32, 50, 96, 120]), pick([10, 20, 32, 50, 96, 120])];
  const annotations: Gt[] = [];
  for (const { id } of images) {
    const n = Math.floor(rand() * 8);
    for (let j = 0; j < n; j++) {
      const bbox = box();
      const area = pick([bbox[2] * bbox[3], 1024, 9216, 0.7 * bbox[2] * bbox[3]]);
      annotations.push({ id: annotations.length + 1, image_id: id, category_id: pick(categories).id, bbox, area, iscrowd: rand() < 0.15 ? 1 : 0 });
    }
  }
  // Half the detections are shifted copies of a ground-truth box of the image (IoUs over the whole threshold range).
  const detection = (id: number) => {
    const own = annotations.filter((a) => a.image_id === id);
    const score = pick([0.1, 0.3, 0.5, 0.5, 0.7, 0.9]);
    if (own.length === 0 || rand() < 0.5) return { image_id: id, category_id: pick(categories).id, bbox: box(), score };
    const g = pick(own);
    const bbox = [g.bbox[0] + pick([0, 1, 3, 6]), g.bbox[1] + pick([0, 2, 5]), g.bbox[2] + pick([0, 0, 4, -3]), g.bbox[3]];
    return { image_id: id, category_id: rand() < 0.8 ? g.category_id : pick(categories).id, bbox, score };
  };
  const results = images.flatMap(({ id }) => Array.from({ length: id === 7 ? 130 : Math.floor(rand() * 25) }, () => detection(id)));
  return { gt: { images, annotations, categories }, results };
}

describe('evaluateCocoBoxes against a literal transcription of pycocotools', () => {
  it.each(Array.from({ length: 25 }, (_, i) => i + 1))('random set %i', (seed) => {
    const { gt, results } = randomSet(seed);
    const expected = referenceEvaluate(gt, results);
    const { stats } = evaluateCocoBoxes(gt, results);
    expected.forEach((v, i) => expect([i, stats[i]]).toEqual([i, expect.closeTo(v, 12)]));
  });
});
