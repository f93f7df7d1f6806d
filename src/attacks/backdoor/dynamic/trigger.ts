import * as tf from '@tensorflow/tfjs-core';
import { loadTensors, type Metadata, saveTensors } from '../../../io/checkpoint';
import { Rng } from '../../../rng';
import type { Trigger } from '../trigger';
import { DynamicGenerator, type GeneratorConfig } from './generator';

// The reference's ε for the diversity ratio and the tanh rescaling.
export const EPSILON = 1e-7;

/** Sharpens M's output towards {0, 1} around ½: tanh(20m − 10)/(2+ε) + ½, as in the reference. */
export function threshold(m: tf.Tensor4D): tf.Tensor4D {
  return tf.add<tf.Tensor4D>(tf.div(tf.tanh(tf.sub(tf.mul(m, 20), 10)), 2 + EPSILON), 0.5);
}

/** x + m·(g − x): a convex combination, so it stays in [0, 1] up to rounding, which the clip removes. */
export function paste(x: tf.Tensor4D, mask: tf.Tensor4D, pattern: tf.Tensor4D): tf.Tensor4D {
  return tf.clipByValue(tf.add<tf.Tensor4D>(x, tf.mul(mask, tf.sub(pattern, x))), 0, 1);
}

export interface DynamicGenerators {
  /** G: pattern in image space, the image's channels */
  pattern: DynamicGenerator;
  /** M: one-channel mask before thresholding */
  mask: DynamicGenerator;
}

/** A trigger whose pattern and mask are computed from each image by the trained generators. */
export interface DynamicTrigger extends Trigger {
  readonly generators: DynamicGenerators;
  /** pattern [N, H, W, C] and thresholded mask [N, H, W, 1] of each image, eval mode */
  components(x: tf.Tensor4D): { pattern: tf.Tensor4D; mask: tf.Tensor4D };
  /** x + m(donor)·(g(donor) − x): each image gets the trigger made for the matching donor image */
  applyFrom(x: tf.Tensor4D, donor: tf.Tensor4D): tf.Tensor4D;
}

/** The trigger backed by `generators`, which it owns: dispose() releases them. Runs them in eval mode. */
export function dynamicTrigger(generators: DynamicGenerators): DynamicTrigger {
  const components = (x: tf.Tensor4D) => tf.tidy(() => ({ pattern: generators.pattern.forward(x, false), mask: threshold(generators.mask.forward(x, false)) }));
  const applyFrom = (x: tf.Tensor4D, donor: tf.Tensor4D) => {
    if (!tf.util.arraysEqual(x.shape, donor.shape)) {
      throw new Error(`dynamic trigger: images [${x.shape}] and donors [${donor.shape}] differ in shape`);
    }
    return tf.tidy(() => {
      const { pattern, mask } = components(donor);
      return paste(x, mask, pattern);
    });
  };
  return {
    name: 'dynamic',
    generators,
    components,
    applyFrom,
    apply: (x) => applyFrom(x, x),
    dispose() {
      generators.pattern.dispose();
      generators.mask.dispose();
    },
  };
}

const FORMAT = 'pbe-dynamic-trigger';

/** Saves both generators (weights and batch-norm state) and their configs to a checkpoint folder. */
export async function saveDynamic(dir: string, trigger: DynamicTrigger, metadata: Metadata = {}): Promise<void> {
  const { pattern, mask } = trigger.generators;
  await saveTensors(
    dir,
    [
      ...pattern.namedWeights().map(({ name, tensor }) => ({ name: `pattern/${name}`, tensor })),
      ...mask.namedWeights().map(({ name, tensor }) => ({ name: `mask/${name}`, tensor })),
    ],
    { ...metadata, format: FORMAT, pattern: pattern.config as unknown as NonNullable<unknown>, mask: mask.config as unknown as NonNullable<unknown> },
  );
}

/** Rebuilds the trigger saved by saveDynamic. */
export async function loadDynamic(dir: string): Promise<DynamicTrigger> {
  const { tensors, metadata } = await loadTensors(dir);
  try {
    if (metadata.format !== FORMAT) throw new Error(`loadDynamic ${dir}: not a dynamic-trigger checkpoint (format '${String(metadata.format)}')`);
    const split = (prefix: string) =>
      Object.fromEntries(
        Object.entries(tensors)
          .filter(([name]) => name.startsWith(prefix))
          .map(([name, t]) => [name.slice(prefix.length), t]),
      );
    // Initial values are overwritten by the loaded weights; the seed only has to be fixed.
    const build = (key: 'pattern' | 'mask') => {
      let g: DynamicGenerator | null = null;
      try {
        g = new DynamicGenerator(metadata[key] as unknown as GeneratorConfig, new Rng(`load:${key}`));
        g.loadWeights(split(`${key}/`));
        return g;
      } catch (e) {
        g?.dispose();
        throw new Error(`loadDynamic ${dir} (${key} generator): ${(e as Error).message}`, { cause: e });
      }
    };
    const pattern = build('pattern');
    try {
      return dynamicTrigger({ pattern, mask: build('mask') });
    } catch (e) {
      pattern.dispose();
      throw e;
    }
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
