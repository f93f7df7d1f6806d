import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadTensors, type Metadata, type NamedTensor, saveTensors } from '../io/checkpoint';
import type { Optimizer } from './optimizer';

/** A network whose weights a checkpoint holds (a Model, the dynamic attack's generators). */
export interface Trainable {
  namedWeights(): NamedTensor[];
  loadWeights(weights: Record<string, tf.Tensor>): void;
}

/**
 * What a training run changes, by name: its networks and its optimisers. A checkpoint stores each
 * part's tensors under `<name>/`; an optimiser without slots is a fresh one.
 */
export type RunState = Record<string, Trainable | Optimizer>;

function isOptimizer(part: Trainable | Optimizer): part is Optimizer {
  return 'loadSlots' in part;
}

/**
 * The per-epoch checkpoint of a training run: the trainer's (one model, one optimiser) and the
 * dynamic attack's (three networks, three optimisers, two stages). Beside the state it records
 * `configHash`, the hash of everything that determines the run, so only the same run resumes it,
 * and the run's progress (`M`: epochs done, history). Random numbers need no saving: runs draw
 * each epoch from a stream forked from their seed by the epoch's label. The folder is written
 * atomically with a checksum (io/checkpoint), so a half-written checkpoint is refused.
 */
export class RunCheckpoint<M extends object> {
  constructor(
    readonly dir: string,
    private readonly configHash: string,
    private readonly state: RunState,
    /** names the run in messages, e.g. 'train' */
    private readonly who: string,
  ) {
    const names = Object.keys(state);
    for (const a of names) {
      const b = names.find((n) => n !== a && n.startsWith(`${a}/`));
      if (b) throw new Error(`${who}: checkpoint parts '${a}' and '${b}' would share tensor names`);
    }
  }

  async save(progress: M): Promise<void> {
    const tensors = Object.entries(this.state).flatMap(([part, p]) =>
      (isOptimizer(p) ? p.slots() : p.namedWeights()).map(({ name, tensor }) => ({ name: `${part}/${name}`, tensor })),
    );
    await saveTensors(this.dir, tensors, { configHash: this.configHash, ...progress } as unknown as Metadata);
  }

  /**
   * Loads the checkpoint into the state and returns the progress it recorded, when the folder
   * holds one of this run. Otherwise (no folder; another run's or an unreadable checkpoint, which
   * it says on stderr) returns null and leaves the state as it was.
   */
  async resume(): Promise<M | null> {
    if (!fs.existsSync(this.dir)) return null;
    let loaded: Awaited<ReturnType<typeof loadTensors>>;
    try {
      loaded = await loadTensors(this.dir);
    } catch (e) {
      process.stderr.write(`${this.who}: ignoring the checkpoint in ${this.dir}: ${(e as Error).message}\n`);
      return null;
    }
    const { tensors, metadata } = loaded;
    try {
      const { configHash, ...progress } = metadata as { configHash?: string };
      if (configHash !== this.configHash) {
        process.stderr.write(`${this.who}: the checkpoint in ${this.dir} belongs to another configuration; starting afresh\n`);
        return null;
      }
      const group = (part: string): Record<string, tf.Tensor> =>
        Object.fromEntries(
          Object.entries(tensors)
            .filter(([name]) => name.startsWith(`${part}/`))
            .map(([name, t]): [string, tf.Tensor] => [name.slice(part.length + 1), t]),
        );
      try {
        for (const [part, p] of Object.entries(this.state)) {
          if (isOptimizer(p)) p.loadSlots(group(part));
          else p.loadWeights(group(part));
        }
      } catch (e) {
        // Its settings match but its tensors do not (e.g. written by an older version): part may be loaded already, so no fresh start.
        throw new Error(`${this.who}: cannot resume from the checkpoint in ${this.dir} (delete it to start afresh): ${(e as Error).message}`, { cause: e });
      }
      return progress as M;
    } finally {
      // loadWeights copies; loadSlots keeps its tensors' data and disposes them itself, and disposing twice is harmless.
      tf.dispose(Object.values(tensors));
    }
  }
}
