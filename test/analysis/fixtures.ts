import { poisonTrainingSet } from '../../src/attacks/backdoor/poison';
import type { StaticAttack } from '../../src/attacks/backdoor/attack';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { initBackend } from '../../src/backend';
import { balancedIndices, type Dataset, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import type { Model } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { train, type TrainConfig } from '../../src/train/trainer';

export interface MnistModels {
  benign: Model;
  /**
   * Blend (α 0.2, seeded noise) all-to-one, target 0, 10% of the training images poisoned.
   * Blend rather than BadNets: on these small MNIST nets a BadNets-infected model's adversarial
   * examples do not go to the target (about 5%, as for the benign model; measured at L∞ ε
   * 0.1–0.3 and L2 ε 1.5–3), while Blend's do (74% at L∞ ε 0.1).
   */
  infected: Model;
  attack: StaticAttack;
  /** a balanced clean test subset, 20 per class */
  test: Dataset;
  trainSeconds: number;
}

export const TARGET = 0;

const TRAIN: TrainConfig = {
  epochs: 4,
  batchSize: 50,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine' },
  augment: { cropPadding: 0, flip: false, rotation: 0 },
};

let shared: Promise<MnistModels> | null = null;

/**
 * A benign and a Blend-infected mnist-net, each trained for a few seconds on 1,000 real digits
 * (wasm), built once per mocha process and shared by the analysis test files. Never disposed:
 * their variables are counted in every leak check's baseline. Every call makes wasm current
 * again, since other test files switch to cpu.
 */
export async function mnistModels(): Promise<MnistModels> {
  await initBackend('wasm');
  shared ??= (async () => {
    const t0 = Date.now();
    const mnist = loadMnist();
    const trainSet = subset(mnist.train, balancedIndices(mnist.train, 100));
    const test = subset(mnist.test, balancedIndices(mnist.test, 20));
    const attack = buildAttack({ name: 'blend', rule: { mode: 'all2one', target: TARGET, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1 });
    const { data } = poisonTrainingSet(trainSet, attack, { ratio: 0.1, rng: new Rng(2) });
    const config = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };
    const benign = createModel(config, 3);
    await train(benign, trainSet, TRAIN, { seed: 4, progress: silentSink });
    const infected = createModel(config, 3);
    await train(infected, data, TRAIN, { seed: 4, progress: silentSink });
    return { benign, infected, attack, test, trainSeconds: (Date.now() - t0) / 1000 };
  })();
  return shared;
}
