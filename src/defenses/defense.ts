import type { PgdConfig } from '../attacks/adversarial/pgd';
import type { LabelRule } from '../attacks/backdoor/trigger';
import type { Cache } from '../cache';
import type { AugmentConfig } from '../data/augment';
import type { Dataset } from '../data/dataset';
import type { Model } from '../models/model';
import type { VegaLiteSpec } from '../plots/vega';
import type { Definition, OptionValue } from '../registry';
import type { ProgressSink } from '../progress';
import type { Seed } from '../rng';
import type { PgdBudget } from './pgd-budget';

/** Defense options are flat JSON values (lists of numbers allowed), so resolved options can go into a cache key. */
export type DefenseOptionValue = OptionValue;
export type DefenseOptions = Record<string, DefenseOptionValue>;

/**
 * The data a defense may see. Never the test sets: ACC and ASR are measured by the runner, in
 * one place, through `DefenseContext.measure`.
 */
export interface DefenderData {
  /** the training set as the defender received it: poisoned images in place, labelled as the attacker labelled them */
  train?: Dataset;
  /** a clean extra set (the paper gives every defense 5% of the training images, none of them poisoned) */
  clean?: Dataset;
}

export interface DefenseContext<O extends DefenseOptions = DefenseOptions> {
  /** the infected model, read-only: work on `model.clone()` (the runner checks its weights' hash afterwards) */
  model: Model;
  data: DefenderData;
  /** every option, defaults filled in and validated */
  options: O;
  /** the PGD budget, resolved and validated, for a definition with a PGD step (`pgd`); null for one without */
  pgd: PgdConfig | null;
  /** the augmentation the infected model was trained with (the defender knows the training recipe) */
  augment: AugmentConfig;
  seed: Seed;
  progress: ProgressSink;
  /** where fine-tunes and checkpoints go: a defense resumes and reuses finished work through it */
  cache: Cache;
  /**
   * Asks the runner to measure ACC and ASR of `model` at `stage` (e.g. 'iteration 1') on its own
   * test sets and record them in its log. Nothing comes back to the defense.
   */
  measure(stage: string, model: Model): Promise<void>;
  /** stops after a finished epoch, as an interruption would; the defense then throws DefenseInterrupted */
  shouldStop?: (finishedEpochs: number) => boolean;
}

export interface DefenseLogEntry {
  stage: string;
  message: string;
  /** wall time of the stage */
  seconds?: number;
}

export interface DefenseResult<I = unknown> {
  /** the purified model; the caller owns it */
  model: Model;
  log: DefenseLogEntry[];
  /** what the defense computed on the way, as plain data (PBE: each iteration's extra set and ranking) */
  intermediate: I;
}

/** Thrown when `shouldStop` ended a defense early: its finished work is in the cache, the rest resumes. */
export class DefenseInterrupted extends Error {
  constructor(
    readonly defense: string,
    readonly stage: string,
  ) {
    super(`${defense}: interrupted during ${stage}; run it again to resume`);
  }
}

/** What only the experiment knows, given to `analyze` after the defense has run. */
export interface GroundTruth {
  /** ascending positions in the training set of the poisoned images */
  poisoned: Int32Array;
  /** ascending positions of images the attack altered but did not poison (WaNet's noise mode): clean for the defender */
  cross: Int32Array;
  trainSize: number;
  rule: LabelRule;
}

/** One plain-JSON row of a defense's analysis. */
export type AnalysisRow = Record<string, number | string | null>;

/** A defense's own reading of its intermediate results against the ground truth: rows to print and figures; each defense types its rows. */
export interface DefenseAnalysis<R extends AnalysisRow = AnalysisRow, D = unknown> {
  /** one row per stage or iteration */
  rows: R[];
  /** anything else worth keeping in the report (e.g. thinned curves) */
  details?: D;
  specs: Record<string, VegaLiteSpec>;
}

/** What a defense needs to see: the clean extra set, the (poisoned) training set, or either. */
export type DataNeed = 'clean' | 'train' | 'either';

/** A defense on the generic registry: options with defaults, provenance and per-profile schedules, and what it does. */
export interface DefenseDefinition<O extends DefenseOptions = DefenseOptions, I = unknown> extends Definition<O> {
  description: string;
  data: DataNeed;
  /**
   * The options that set how many images one gradient computation holds (fine-tuning, PGD, mask or
   * trigger optimisation). `defend` checks each against the backend's heap for the model before
   * any work, so a defense that adds such a batch lists it here.
   */
  gradientBatches: readonly (keyof O & string)[];
  /** a defense with a PGD step: its budget's defaults, and where each comes from */
  pgd?: { defaults: Readonly<PgdBudget>; provenance: Readonly<Record<keyof PgdBudget, string>> };
  run(ctx: DefenseContext<O>): Promise<DefenseResult<I>>;
  /** measures the intermediate results against the ground truth (the experiment calls it after `run`) */
  analyze?(intermediate: I, truth: GroundTruth): DefenseAnalysis;
}
