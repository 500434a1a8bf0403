/**
 * fit's CheckpointStore on the file system: one directory per checkpoint name (`last`, `best`,
 * `step-<n>`), each in runtime's crash-safe checkpoint format (checkpoint.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CHECKPOINT_JSON, loadCheckpoint, readCheckpointState, saveCheckpoint } from './checkpoint';
import type { CheckpointStore, StoredCheckpoint } from '@mobilenets/training';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly dir: string) {}

  private pathOf(name: string): string {
    if (!NAME.test(name)) throw new RangeError(`FileCheckpointStore: checkpoint name must be letters, digits, '.', '_' or '-'. Received '${name}'.`);
    return path.join(this.dir, name);
  }

  /** The training step a checkpoint was saved at (fit's state), without loading its weights. */
  async stepOf(name: string): Promise<number> {
    const state = (await readCheckpointState(this.pathOf(name))) as { step?: unknown } | null;
    return typeof state?.step === 'number' ? state.step : 0;
  }

  async save(name: string, checkpoint: StoredCheckpoint): Promise<void> {
    await saveCheckpoint(this.pathOf(name), checkpoint);
  }

  async load(name: string, model: tfl.LayersModel): Promise<{ optimizer: tf.Optimizer; state: unknown } | null> {
    const dir = this.pathOf(name);
    if (!fs.existsSync(path.join(dir, CHECKPOINT_JSON))) return null;
    const { optimizer, state } = await loadCheckpoint(dir, model);
    return { optimizer, state };
  }

  async remove(name: string): Promise<void> {
    await fs.promises.rm(this.pathOf(name), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`FileCheckpointStore: cannot list ${this.dir}`, { cause: error });
    }
    return names.filter((n) => NAME.test(n) && fs.existsSync(path.join(this.dir, n, CHECKPOINT_JSON))).sort();
  }
}
