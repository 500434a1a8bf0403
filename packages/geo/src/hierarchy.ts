/**
 * Several partitions of the same photos, coarse to fine, used together (GeoEstimation's hierarchy,
 * Müller-Budack et al., ECCV 2018): a model with one classifier head per partition predicts, for each
 * cell of the finest partition, the product of every partition's probability of the cell that holds it.
 * A fine cell's cell in a coarser partition is the one that contains the fine cell's mean location (the
 * mean of its photos) — GeoEstimation's rule; when partitions are built from the same photos with
 * decreasing tMax and the same tMin, that is the coarse cell that contains the whole fine cell.
 */
import { describe } from './checks';
import { S2Partition, S2PartitionJson } from './partition';

export interface S2HierarchyJson {
  /** Coarse to fine: the last is the finest, whose cells are the hierarchy's classes. */
  partitions: S2PartitionJson[];
}

export class S2Hierarchy {
  /** Coarse to fine. */
  readonly partitions: readonly S2Partition[];
  /**
   * ancestors[p][j]: the index in partition p of the cell that contains the mean of fine cell j, or -1
   * when no cell of p does. For the finest partition it is j.
   */
  readonly ancestors: readonly Int32Array[];

  constructor(partitions: readonly S2Partition[]) {
    if (!Array.isArray(partitions) || partitions.length === 0 || !partitions.every((p) => p instanceof S2Partition)) {
      throw new TypeError(`S2Hierarchy: partitions must be a non-empty array of S2Partition, coarse to fine. Received ${describe(partitions)}.`);
    }
    this.partitions = Object.freeze([...partitions]);
    const fine = this.fine;
    this.ancestors = Object.freeze(
      this.partitions.map((partition, p) =>
        p === partitions.length - 1
          ? Int32Array.from(fine.cells, (_, j) => j)
          : Int32Array.from(fine.cells, (_, j) => partition.classOf(fine.locationOf(j, 'mean'))),
      ),
    );
  }

  /** The finest partition (the last). */
  get fine(): S2Partition {
    return this.partitions[this.partitions.length - 1];
  }

  static fromJson(json: unknown, where: string): S2Hierarchy {
    if (typeof json !== 'object' || json === null || !Array.isArray((json as Partial<S2HierarchyJson>).partitions) || (json as S2HierarchyJson).partitions.length === 0) {
      throw new TypeError(`${where}: a hierarchy must be an object { "partitions": [partition, …] } with at least one partition, coarse to fine. Received ${describe(json)}.`);
    }
    return new S2Hierarchy((json as S2HierarchyJson).partitions.map((p, i) => S2Partition.fromJson(p, where, `partitions[${i}].`)));
  }

  toJson(): S2HierarchyJson {
    return { partitions: this.partitions.map((p) => p.toJson()) };
  }

  /**
   * The hierarchical prediction: out[i, j] = Π_p probabilities[p][i, ancestors[p][j]], for `images`
   * images and every fine cell j (row-major [images × fine cells]). `probabilities[p]` is partition p's
   * output, row-major [images × cells of p]. A fine cell that has no cell in some partition (-1) scores 0:
   * that partition gives its place no probability.
   */
  combine(probabilities: readonly Float32Array[], images: number): Float32Array {
    if (!Number.isInteger(images) || images < 1) throw new RangeError(`S2Hierarchy.combine: images must be an integer ≥ 1. Received ${describe(images)}.`);
    if (!Array.isArray(probabilities) || probabilities.length !== this.partitions.length) {
      throw new RangeError(`S2Hierarchy.combine: expected one probability array per partition (${this.partitions.length}, coarse to fine). Received ${Array.isArray(probabilities) ? probabilities.length : describe(probabilities)}.`);
    }
    probabilities.forEach((values, p) => {
      const cells = this.partitions[p].cells.length;
      if (!(values instanceof Float32Array) || values.length !== images * cells) {
        throw new RangeError(`S2Hierarchy.combine: probabilities[${p}] must be a Float32Array of images × cells = ${images} × ${cells} = ${images * cells} values. Received ${values?.constructor?.name ?? typeof values} of length ${values?.length}.`);
      }
    });
    const fineCells = this.fine.cells.length;
    const out = new Float32Array(images * fineCells).fill(1);
    this.partitions.forEach((partition, p) => {
      const cells = partition.cells.length;
      const values = probabilities[p];
      const ancestor = this.ancestors[p];
      for (let i = 0; i < images; i++) {
        for (let j = 0; j < fineCells; j++) {
          const a = ancestor[j];
          out[i * fineCells + j] *= a < 0 ? 0 : values[i * cells + a];
        }
      }
    });
    return out;
  }
}
