/**
 * Every number the paper reports that pbe-lab compares against, typed, each with where it comes
 * from (Mu et al., CVPR 2023, arXiv:2202.06312 v4; transcribed in ../shared/PAPER.md). Tables hold
 * percentages as printed; shares are fractions. Nothing here is measured: claims and comparisons
 * read the paper from this one module instead of copying its numbers.
 */

export const PAPER_CITATION = 'Mu et al., "Progressive Backdoor Erasing via connecting Backdoor and Adversarial Attacks", CVPR 2023, arXiv:2202.06312 v4';

/** Where a number was read: the figure/table, its row and column as printed. */
export interface Provenance {
  source: string;
  row?: string;
  column?: string;
}

/** The attacks, by pbe-lab's registry names, and the names the paper prints. */
export const PAPER_ATTACKS = ['badnets', 'blend', 'sig', 'dynamic', 'wanet'] as const;
export type PaperAttack = (typeof PAPER_ATTACKS)[number];
export const PAPER_ATTACK_LABELS: Record<PaperAttack, string> = { badnets: 'BadNet', blend: 'Blend', sig: 'SIG', dynamic: 'DynamicAtt', wanet: 'WaNet' };

/** The columns of Tables 1 and 2, by key, and their printed headings. */
export const PAPER_DEFENSES = ['before', 'ft', 'fp', 'nad', 'nc', 'anp', 'pbeWithoutClean', 'pbeWithClean'] as const;
export type PaperDefense = (typeof PAPER_DEFENSES)[number];
export const PAPER_DEFENSE_LABELS: Record<PaperDefense, string> = {
  before: 'before',
  ft: 'FT',
  fp: 'FP',
  nad: 'NAD',
  nc: 'NC',
  anp: 'ANP',
  pbeWithoutClean: 'PBE w/o clean',
  pbeWithClean: 'PBE w/ clean',
};

/** Clean accuracy and attack success rate, in percent as printed. */
export interface AccAsr {
  acc: number;
  asr: number;
}

export interface DefenseTable<A extends string, D extends string> {
  id: string;
  caption: string;
  dataset: 'cifar10' | 'gtsrb' | 'tiny-imagenet';
  mode: 'all2one' | 'all2all';
  model: string;
  attacks: readonly A[];
  defenses: readonly D[];
  cells: Record<A, Partial<Record<D, AccAsr>>>;
}

const cell = (acc: number, asr: number): AccAsr => ({ acc, asr });

/** Table 1: CIFAR-10, all-to-one, PreAct-ResNet18; ACC/ASR (%). */
export const TABLE1: DefenseTable<PaperAttack, PaperDefense> = {
  id: 'Table 1',
  caption: 'CIFAR-10 all-to-one: ACC/ASR (%) before and after each defense',
  dataset: 'cifar10',
  mode: 'all2one',
  model: 'PreAct-ResNet18',
  attacks: PAPER_ATTACKS,
  defenses: PAPER_DEFENSES,
  cells: {
    badnets: {
      before: cell(94.67, 100.0),
      ft: cell(85.82, 6.53),
      fp: cell(89.8, 70.66),
      nad: cell(88.09, 2.17),
      nc: cell(93.73, 0.83),
      anp: cell(93.39, 1.66),
      pbeWithoutClean: cell(94.02, 11.3),
      pbeWithClean: cell(94.2, 1.09),
    },
    blend: {
      before: cell(94.63, 100.0),
      ft: cell(87.53, 11.31),
      fp: cell(89.3, 65.86),
      nad: cell(90.13, 1.6),
      nc: cell(93.28, 0.63),
      anp: cell(92.03, 1.81),
      pbeWithoutClean: cell(93.04, 1.16),
      pbeWithClean: cell(93.98, 0.93),
    },
    sig: {
      before: cell(94.81, 98.96),
      ft: cell(87.34, 4.14),
      fp: cell(88.93, 85.69),
      nad: cell(90.26, 4.59),
      nc: cell(92.23, 1.79),
      anp: cell(92.48, 1.27),
      pbeWithoutClean: cell(93.56, 1.76),
      pbeWithClean: cell(93.35, 1.39),
    },
    dynamic: {
      before: cell(94.65, 99.24),
      ft: cell(94.0, 8.77),
      fp: cell(89.91, 98.97),
      nad: cell(94.23, 4.59),
      nc: cell(94.65, 99.24),
      anp: cell(93.42, 1.36),
      pbeWithoutClean: cell(93.01, 1.12),
      pbeWithClean: cell(93.01, 1.12),
    },
    wanet: {
      before: cell(94.15, 99.5),
      ft: cell(93.42, 12.8),
      fp: cell(89.86, 99.36),
      nad: cell(94.02, 8.37),
      nc: cell(94.15, 99.5),
      anp: cell(93.36, 0.62),
      pbeWithoutClean: cell(93.67, 0.86),
      pbeWithClean: cell(94.32, 0.46),
    },
  },
};

/**
 * Table 2: GTSRB, all-to-one, PreAct-ResNet18; ACC/ASR (%). The paper's project page swaps the
 * dataset names of Tables 1 and 2; the arXiv captions are used (they fit ~95% on CIFAR-10, ~99% on GTSRB).
 */
export const TABLE2: DefenseTable<PaperAttack, PaperDefense> = {
  id: 'Table 2',
  caption: 'GTSRB all-to-one: ACC/ASR (%) before and after each defense',
  dataset: 'gtsrb',
  mode: 'all2one',
  model: 'PreAct-ResNet18',
  attacks: PAPER_ATTACKS,
  defenses: PAPER_DEFENSES,
  cells: {
    badnets: {
      before: cell(99.02, 100.0),
      ft: cell(95.01, 8.32),
      fp: cell(89.6, 75.03),
      nad: cell(94.22, 2.06),
      nc: cell(96.78, 0.12),
      anp: cell(95.13, 1.35),
      pbeWithoutClean: cell(90.13, 12.31),
      pbeWithClean: cell(94.43, 0.47),
    },
    blend: {
      before: cell(99.39, 99.92),
      ft: cell(90.68, 40.12),
      fp: cell(88.21, 90.53),
      nad: cell(92.61, 8.56),
      nc: cell(96.48, 5.81),
      anp: cell(94.02, 2.68),
      pbeWithoutClean: cell(90.1, 8.74),
      pbeWithClean: cell(94.57, 1.72),
    },
    sig: {
      before: cell(98.56, 95.81),
      ft: cell(91.63, 36.3),
      fp: cell(89.53, 93.26),
      nad: cell(92.94, 6.9),
      nc: cell(93.4, 1.32),
      anp: cell(93.32, 3.65),
      pbeWithoutClean: cell(90.31, 7.59),
      pbeWithClean: cell(94.05, 1.78),
    },
    dynamic: {
      before: cell(99.27, 99.84),
      ft: cell(97.1, 16.33),
      fp: cell(89.15, 97.21),
      nad: cell(98.17, 3.8),
      nc: cell(99.27, 99.84),
      anp: cell(95.88, 1.68),
      pbeWithoutClean: cell(96.68, 0.99),
      pbeWithClean: cell(96.68, 0.99),
    },
    wanet: {
      before: cell(98.97, 98.78),
      ft: cell(96.7, 4.2),
      fp: cell(87.49, 98.79),
      nad: cell(97.07, 2.2),
      nc: cell(98.97, 98.78),
      anp: cell(96.47, 0.94),
      pbeWithoutClean: cell(91.23, 3.63),
      pbeWithClean: cell(96.56, 0.47),
    },
  },
};

export const TABLE3_ATTACKS = ['badnets', 'blend', 'sig', 'wanet'] as const;
export const PBE_DEFENSES = ['before', 'pbeWithClean', 'pbeWithoutClean'] as const;
export type PbeDefense = (typeof PBE_DEFENSES)[number];

/** Table 3: Tiny-ImageNet, all-to-one, ResNet-18 (ImageNet-pretrained, 224×224); only PBE is reported. */
export const TABLE3: DefenseTable<(typeof TABLE3_ATTACKS)[number], PbeDefense> = {
  id: 'Table 3',
  caption: 'Tiny-ImageNet all-to-one: ACC/ASR (%) before and after PBE',
  dataset: 'tiny-imagenet',
  mode: 'all2one',
  model: 'ResNet-18',
  attacks: TABLE3_ATTACKS,
  defenses: PBE_DEFENSES,
  cells: {
    badnets: { before: cell(62.99, 99.89), pbeWithClean: cell(63.23, 1.65), pbeWithoutClean: cell(58.23, 8.25) },
    blend: { before: cell(63.3, 99.7), pbeWithClean: cell(62.37, 1.19), pbeWithoutClean: cell(60.21, 4.23) },
    sig: { before: cell(64.1, 99.74), pbeWithClean: cell(62.58, 4.12), pbeWithoutClean: cell(60.01, 7.41) },
    wanet: { before: cell(60.76, 99.92), pbeWithClean: cell(60.52, 5.32), pbeWithoutClean: cell(57.98, 6.41) },
  },
};

/** Table 4: CIFAR-10, all-to-all (target y+1), PreAct-ResNet18; only PBE is reported. */
export const TABLE4: DefenseTable<PaperAttack, PbeDefense> = {
  id: 'Table 4',
  caption: 'CIFAR-10 all-to-all: ACC/ASR (%) before and after PBE',
  dataset: 'cifar10',
  mode: 'all2all',
  model: 'PreAct-ResNet18',
  attacks: PAPER_ATTACKS,
  defenses: PBE_DEFENSES,
  cells: {
    badnets: { before: cell(94.63, 94.41), pbeWithClean: cell(93.84, 0.62), pbeWithoutClean: cell(93.62, 0.68) },
    blend: { before: cell(94.89, 87.94), pbeWithClean: cell(93.65, 0.68), pbeWithoutClean: cell(92.76, 0.84) },
    sig: { before: cell(94.66, 84.34), pbeWithClean: cell(93.52, 1.01), pbeWithoutClean: cell(93.71, 1.07) },
    dynamic: { before: cell(94.4, 92.72), pbeWithClean: cell(93.28, 0.75), pbeWithoutClean: cell(93.28, 0.75) },
    wanet: { before: cell(94.49, 93.47), pbeWithClean: cell(93.45, 0.8), pbeWithoutClean: cell(93.24, 1.02) },
  },
};

export const DEFENSE_TABLES = { TABLE1, TABLE2, TABLE3, TABLE4 } as const;

/** One ACC/ASR cell of a defense table, with its provenance; throws naming the table, row and column when absent. */
export function paperCell<A extends string, D extends string>(table: DefenseTable<A, D>, attack: A, defense: D): AccAsr & { provenance: Provenance } {
  const value = table.cells[attack]?.[defense];
  if (!value) {
    throw new Error(
      `${table.id} has no cell for attack '${attack}' (rows: ${table.attacks.join(', ')}) and defense '${defense}' (columns: ${table.defenses.join(', ')})`,
    );
  }
  const label = (PAPER_ATTACK_LABELS as Record<string, string>)[attack] ?? attack;
  const column = (PAPER_DEFENSE_LABELS as Record<string, string>)[defense] ?? defense;
  return { ...value, provenance: { source: table.id, row: label, column } };
}

/** Table 5: mean l2 feature distance to the triggered images, CIFAR-10, 10,000 images. */
export interface FeatureDistanceEntry {
  /** D_benign = ‖f(x̃) − f(xᵗ)‖, x̃ adversarial against a benign model */
  dBenign: number;
  /** D_infected = ‖f(x̃') − f(xᵗ)‖, x̃' adversarial against the infected model */
  dInfected: number;
}

export const TABLE5 = {
  id: 'Table 5',
  caption: 'l2 distance in feature space between adversarial and triggered images, CIFAR-10, averaged over 10,000 images',
  dataset: 'cifar10' as const,
  images: 10_000,
  /** the paper does not say which network's f measures each term */
  extractorStated: false,
  attacks: PAPER_ATTACKS,
  cells: {
    badnets: { dBenign: 102.58, dInfected: 85.11 },
    sig: { dBenign: 135.91, dInfected: 78.18 },
    blend: { dBenign: 124.22, dInfected: 75.09 },
    dynamic: { dBenign: 40.42, dInfected: 28.66 },
    wanet: { dBenign: 48.13, dInfected: 15.85 },
  } satisfies Record<PaperAttack, FeatureDistanceEntry>,
};

export function table5Cell(attack: PaperAttack): FeatureDistanceEntry & { ratio: number; provenance: Provenance } {
  const c = TABLE5.cells[attack];
  if (!c) throw new Error(`Table 5 has no column '${attack}' (columns: ${TABLE5.attacks.join(', ')})`);
  return { ...c, ratio: c.dInfected / c.dBenign, provenance: { source: TABLE5.id, column: PAPER_ATTACK_LABELS[attack], row: 'D_benign, D_infected' } };
}

/** Fig. 1b / Fig. 4: the least share of an infected model's adversarial examples predicted as its target. */
export const FIG1_MIN_TARGET_SHARE = {
  value: 0.4,
  provenance: { source: 'Fig. 1b', row: 'every target label l = 0..9', column: 'predicted label l' } as Provenance,
  statement:
    'at least 40% of the untargeted adversarial examples of an infected model are predicted as its target label, for every l (WaNet, CIFAR-10, 10,000 adversarial examples)',
};

/** Fig. 6: average precision of the clean-vs-poisoned ranking, first and last iteration (Blend, CIFAR-10). */
export const FIG6_AVERAGE_PRECISION = {
  first: 0.25,
  last: 0.93,
  attack: 'blend' as PaperAttack,
  dataset: 'cifar10' as const,
  provenance: { source: 'Fig. 6', row: 'Blend, CIFAR-10', column: 'AP, first → last PBE iteration' } as Provenance,
};

/**
 * The adversarial budget of the reference code (pbe_main.py / aft_train.py), the paper's CIFAR-10
 * setting: L∞, ε = 6/255, step ε/5, 7 iterations, no random start. Every default PGD budget in
 * pbe-lab (PGD_DEFAULT, PBE's options) is read from here.
 */
export const REFERENCE_PGD = {
  norm: 'linf' as const,
  eps: 6 / 255,
  /** the step is ε divided by this */
  stepDivisor: 5,
  iterations: 7,
  randomStart: false,
  provenance: { source: 'reference code (Syyabb/BPE) pbe_main.py / aft_train.py' } as Provenance,
};

/** Algorithm 1 / the reference code's progressive schedule. */
export const PBE_SCHEDULE = {
  extraDataShare: 0.05,
  steps: 4,
  topRates: [0.2, 0.5, 0.7],
  epochsPerStep: 10,
  sgd: { lr: 0.001, momentum: 0.9, weightDecay: 5e-4, batchSize: 128 },
  pgd: REFERENCE_PGD,
  provenance: { source: 'Algorithm 1 and the reference code (Syyabb/BPE)' } as Provenance,
};

/**
 * Theorem 1's lower bound on |r∥|/|r| for a linear softmax classifier with an additive trigger P,
 * margin τ and K classes, in the paper's form:
 *   (√2−1)ℓ|P|² / sqrt((√2−1)²ℓ²|P|⁴ + (ℓ|P|² + √2K/(exp(τ)+K))²).
 * ℓ is defined in the supplement, which is not available: src/analysis/theorem1.ts states our reading.
 */
export const THEOREM1 = {
  provenance: { source: 'Theorem 1' } as Provenance,
  form: '|r⊥|/|r| ≥ (√2−1)ℓ|P|² / sqrt((√2−1)²ℓ²|P|⁴ + (ℓ|P|² + √2K/(exp(τ)+K))²)',
  /** the bound's limit as ℓ|P|² → ∞: (√2−1)/√((√2−1)² + 1) */
  limit: (Math.SQRT2 - 1) / Math.sqrt((Math.SQRT2 - 1) ** 2 + 1),
  statement:
    'the adversarial perturbation r points along the trigger P far more than along a random direction, and far more for the infected model than for a benign one',
};

/** Fig. 7: the shape of the defense over PBE iterations (no number printed beside the curves). */
export const FIG7 = {
  provenance: { source: 'Fig. 7' } as Provenance,
  statement: 'ASR falls fast in the first iterations, ACC recovers over later ones',
};
