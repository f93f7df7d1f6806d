import * as tf from '@tensorflow/tfjs-core';
import { loadTensors, type Metadata, type NamedTensor, saveTensors } from '../../../io/checkpoint';
import type { Model } from '../../../models/model';
import type { Optimizer } from '../../../train/optimizer';
import type { DynamicGenerator } from './generator';

/**
 * The dynamic attack's own checkpoint: three networks (classifier, pattern and mask generators)
 * and the optimiser state of the running stage, written after every finished epoch of either
 * stage. The trainer's checkpoint holds one model and one optimiser, so it does not fit.
 */

export type DynamicStage = 'mask' | 'joint';

export type OptimizerRole = 'mask' | 'classifier' | 'generator';

/** Everything a run trains, with its optimisers. */
export interface Parts {
  classifier: Model;
  pattern: DynamicGenerator;
  mask: DynamicGenerator;
  optimizers: Record<OptimizerRole, Optimizer>;
}

/** What a checkpoint records beside the tensors: whose run it is, how far it got, and the history so far. */
export interface CheckpointMeta<H = unknown> {
  configHash: string;
  /** the stage of the last finished epoch; 'joint' means every mask epoch is done */
  stage: DynamicStage;
  /** finished epochs of that stage */
  epochsDone: number;
  history: H;
}

// The optimisers with state worth keeping after an epoch of each stage: M is frozen in stage 2.
const STAGE_OPTIMIZERS: Record<DynamicStage, OptimizerRole[]> = { mask: ['mask'], joint: ['classifier', 'generator'] };

function prefixed(prefix: string, tensors: NamedTensor[]): NamedTensor[] {
  return tensors.map(({ name, tensor }) => ({ name: prefix + name, tensor }));
}

export async function saveCheckpoint<H>(dir: string, parts: Parts, meta: CheckpointMeta<H>): Promise<void> {
  await saveTensors(
    dir,
    [
      ...prefixed('classifier/', parts.classifier.namedWeights()),
      ...prefixed('pattern/', parts.pattern.namedWeights()),
      ...prefixed('mask/', parts.mask.namedWeights()),
      ...STAGE_OPTIMIZERS[meta.stage].flatMap((role) => prefixed(`optimizer/${role}/`, parts.optimizers[role].slots())),
    ],
    meta as unknown as Metadata,
  );
}

/**
 * Loads the checkpoint in `dir` into `parts` when it was written by a run with the same hash;
 * otherwise, or when it cannot be read, says so on stderr and returns null, leaving `parts` as they are.
 */
export async function tryResume<H>(dir: string, configHash: string, parts: Parts): Promise<CheckpointMeta<H> | null> {
  let loaded: Awaited<ReturnType<typeof loadTensors>>;
  try {
    loaded = await loadTensors(dir);
  } catch (e) {
    process.stderr.write(`dynamic attack: ignoring the checkpoint in ${dir}: ${(e as Error).message}\n`);
    return null;
  }
  const { tensors } = loaded;
  const meta = loaded.metadata as unknown as CheckpointMeta<H>;
  try {
    if (meta.configHash !== configHash) {
      process.stderr.write(`dynamic attack: the checkpoint in ${dir} belongs to another configuration; starting afresh\n`);
      return null;
    }
    const group = (prefix: string): Record<string, tf.Tensor> =>
      Object.fromEntries(Object.entries(tensors).filter(([name]) => name.startsWith(prefix)).map(([name, t]): [string, tf.Tensor] => [name.slice(prefix.length), t]));
    try {
      parts.classifier.loadWeights(group('classifier/'));
      parts.pattern.loadWeights(group('pattern/'));
      parts.mask.loadWeights(group('mask/'));
      for (const role of STAGE_OPTIMIZERS[meta.stage]) parts.optimizers[role].loadSlots(group(`optimizer/${role}/`));
    } catch (e) {
      // Its settings match but its tensors do not (e.g. written by an older version): part may be loaded already, so no fresh start.
      throw new Error(`dynamic attack: cannot resume from the checkpoint in ${dir} (delete it to start afresh): ${(e as Error).message}`);
    }
    return meta;
  } finally {
    // loadWeights copies; loadSlots keeps its tensors' data and disposes them itself, and disposing twice is harmless.
    tf.dispose(Object.values(tensors));
  }
}
