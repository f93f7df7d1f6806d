import type { DatasetName } from '../data/registry';
import type { ModelArch } from '../models/model';
import type { TrainConfig } from './trainer';

export const PROFILE_NAMES = ['smoke', 'cpu', 'paper'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Everything a profile fixes for one dataset: data subset, model and training schedule. */
export interface ResolvedProfile {
  profile: ProfileName;
  dataset: DatasetName;
  arch: ModelArch;
  /** images kept per class (the first ones, in dataset order); null = all */
  trainPerClass: number | null;
  testPerClass: number | null;
  train: TrainConfig;
}

export interface ProfileOverrides {
  arch?: ModelArch;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  trainPerClass?: number | null;
  testPerClass?: number | null;
}

/** GTSRB signs change meaning when mirrored (left/right turn), so no flips there. */
function augmentFor(dataset: DatasetName, crop: number, rotation: number): TrainConfig['augment'] {
  return { cropPadding: crop, flip: dataset !== 'gtsrb' && dataset !== 'mnist', rotation };
}

const SMALL_NETS: Record<DatasetName, ModelArch> = {
  mnist: 'mnist-net',
  cifar10: 'smallcnn',
  gtsrb: 'smallcnn',
  'tiny-imagenet': 'smallcnn',
};

/**
 * The three profiles, as data.
 * - smoke: seconds; for tests.
 * - cpu: this machine (2 cores, native oneDNN kernels): a small network, about 15 minutes per
 *   CIFAR-10 model on one core. The CIFAR-10 numbers were chosen from measured accuracy-versus-time
 *   runs (docs/measurements.md, "How the cpu training profile was chosen").
 * - paper: the paper's setting (PreAct-ResNet18 / ResNet-18, full data, SGD 0.01 with a cosine
 *   schedule for 100 epochs as in BackdoorBench); for a GPU: webgpu (Dawn) or tfjs-node-gpu.
 */
export function resolveProfile(profile: ProfileName, dataset: DatasetName, o: ProfileOverrides = {}): ResolvedProfile {
  let base: ResolvedProfile;
  switch (profile) {
    case 'smoke':
      base = {
        profile,
        dataset,
        arch: SMALL_NETS[dataset],
        trainPerClass: 60,
        testPerClass: 20,
        train: {
          epochs: 3,
          batchSize: 50,
          optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
          schedule: { kind: 'cosine' },
          augment: augmentFor(dataset, 0, 0),
        },
      };
      break;
    case 'cpu':
      base = {
        profile,
        dataset,
        arch: SMALL_NETS[dataset],
        // 5,000 per class is all of CIFAR-10's training set; the first 5,000 of each GTSRB class.
        trainPerClass: dataset === 'mnist' ? null : dataset === 'tiny-imagenet' ? 100 : 5000,
        testPerClass: dataset === 'mnist' ? null : dataset === 'tiny-imagenet' ? 20 : 200,
        train: {
          epochs: dataset === 'mnist' ? 4 : 8,
          batchSize: 128,
          optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
          schedule: { kind: 'cosine', warmupEpochs: 0.3 },
          augment: augmentFor(dataset, dataset === 'mnist' ? 2 : 4, 0),
        },
      };
      break;
    case 'paper':
      base = {
        profile,
        dataset,
        arch: dataset === 'mnist' ? 'mnist-net' : dataset === 'tiny-imagenet' ? 'resnet18' : 'preact-resnet18',
        trainPerClass: null,
        testPerClass: null,
        train: {
          epochs: 100,
          batchSize: 128,
          optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
          schedule: { kind: 'cosine' },
          // The reference code augments with random crops and small rotations; 10° is our reading.
          augment: augmentFor(dataset, dataset === 'tiny-imagenet' ? 8 : 4, dataset === 'mnist' ? 0 : 10),
        },
      };
      break;
    default:
      throw new Error(`unknown profile '${profile as string}'; expected one of ${PROFILE_NAMES.join(', ')}`);
  }
  const train = { ...base.train, optimizer: { ...base.train.optimizer } };
  if (o.epochs !== undefined) train.epochs = o.epochs;
  if (o.batchSize !== undefined) train.batchSize = o.batchSize;
  if (o.lr !== undefined) train.optimizer.lr = o.lr;
  return {
    ...base,
    arch: o.arch ?? base.arch,
    trainPerClass: o.trainPerClass !== undefined ? o.trainPerClass : base.trainPerClass,
    testPerClass: o.testPerClass !== undefined ? o.testPerClass : base.testPerClass,
    train,
  };
}
