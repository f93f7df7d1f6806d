/**
 * The public API of pbe-lab: `import * as pbe from 'pbe-lab'` in a notebook or a script (inside
 * this repository, `from './src'`) gives everything below without deep imports. Anything not
 * exported here is an implementation detail that may move.
 *
 * Notebooks run under tslab, which compiles this file and what it imports with its own
 * TypeScript 5.0 and no tsconfig: keep to TS 5.0 features here and below.
 */

// Backend and runtime
export { activeBackend, BACKEND_ORDER, type BackendName, initBackend, runtimeInfo, type RuntimeInfo, runtimeSummary } from './backend';

// Cache, seeds, progress
export { Cache, cacheRoot, configKey, writeFileAtomic } from './cache';
export { unwritable } from './io/writable';
export { Rng, type Seed } from './rng';
export {
  consoleSink,
  type PoolProgressSink,
  poolProgressSink,
  Progress,
  PROGRESS_METADATA,
  type ProgressSink,
  type ProgressUpdate,
  silentSink,
} from './progress';
export { type Definition, DefinitionRegistry, type Options, type OptionValue } from './registry';

// Datasets
export { balancedIndices, classCounts, type Dataset, type DatasetSplits, type FloatDataset, type ImageSet, subset } from './data/dataset';
export {
  DATASET_NAMES,
  datasetLocation,
  type DatasetName,
  describeDataset,
  findLocalDatasets,
  loadDataset,
  type LoadOptions,
  type LocalDataset,
  registerDataset,
} from './data/registry';
export { type AugmentConfig, makeBatch, NO_AUGMENT } from './data/augment';

// Profiles, models, training
export { PROFILE_NAMES, type ProfileName, type ProfileOverrides, type ResolvedProfile, resolveProfile } from './train/profiles';
export type { Model, ModelArch, ModelConfig, ParamModulator } from './models/model';
export { createModel, MODEL_ARCHS, registerModel } from './models/registry';
export { weightsHash } from './models/weights';
export {
  accuracy,
  type Batch,
  type BatchContext,
  dataHash,
  type EpochRecord,
  predictLabels,
  train,
  type TrainConfig,
  type TrainOptions,
  type TrainResult,
} from './train/trainer';
export {
  type FineTuned,
  type FineTuneJob,
  fineTuneOrLoad,
  type FineTuneRecord,
  profileData,
  trainBenign,
  type TrainedModel,
  trainOrLoad,
  type TrainRecord,
} from './train/run';
export { loadTensors, saveTensors } from './io/checkpoint';

// Backdoor attacks
export { type AttackMode, type BackdoorAttack, type LabelRule, targetLabel, type Trigger } from './attacks/backdoor/trigger';
export type {
  AttackConfig,
  AttackDefinition,
  AttackRequest,
  InfectedModel,
  InfectedTrainer,
  InfectedTrainingContext,
  PoisonedSet,
  StampOrder,
  StaticAttack,
  TriggeredTestSet,
} from './attacks/backdoor/attack';
export {
  attackDefinition,
  attackIdentity,
  attackNames,
  attackProvenance,
  buildAttack,
  checkAttack,
  registerAttack,
  stampOrderOf,
} from './attacks/backdoor/registry';
export { poisonAndTrain, trainInfected } from './attacks/backdoor/run';
export { attackSuccessRate, evaluateBackdoor, poisonTrainingSet, triggeredTestSet } from './attacks/backdoor/poison';
export { DEFAULT_STAMP_ORDER, STAMP_ORDERS, trainingView, type TrainingView } from './attacks/backdoor/stamping';

// Adversarial attacks
export { fgsmConfig, type Norm, pgd, PGD_DEFAULT, type PgdConfig, validatePgd } from './attacks/adversarial/pgd';

// Analyses (each returns data and a Vega-Lite spec)
export {
  adversarialExamples,
  adversarialLabelDistribution,
  allToAllMatrix,
  averagePrecisionSpec,
  benignMatrix,
  type BudgetRow,
  budgetSweep,
  budgetSweepSpec,
  featureDistances,
  featureDistanceSpec,
  featureEmbedding,
  infectedMatrix,
  type LabelMatrix,
  labelDistributionOf,
  labelMatrixSpec,
  type MatrixSummary,
  type PbeAnalysisDetails,
  type PbeIterationMetrics,
  pbeDetails,
  pbeIterations,
  prCurvesSpec,
  type StageMetrics,
  stagesSpec,
  summarizeMatrix,
  THEOREM1_TRAIN,
  theorem1Experiment,
  theorem1Spec,
  tsneSpec,
} from './analysis';

// Defenses: the interface, the registry, the shared clean extra set, PBE
export {
  cleanExtraSet,
  type DefenderData,
  type DefenseAnalysis,
  type DefenseContext,
  type DefenseDefinition,
  DefenseInterrupted,
  type DefenseOptions,
  type DefenseResult,
  defenseDefinition,
  defenseNames,
  type GroundTruth,
  optionProvenance,
  PBE_DEFAULTS,
  type PbeIntermediate,
  type PbeSetting,
  type PbeOptions,
  registerDefense,
  resolveDefenseOptions,
  runDefense,
  selectCleanExtra,
  type BudgetCandidate,
  type BudgetScore,
  chooseBudget,
  concentration,
  DEFAULT_BUDGET_GRID,
} from './defenses';
export { precisionRecall, type PrCurve } from './analysis/precision-recall';

// Figures
export { heatmapSpec, renderPng, renderSvg, VEGA_LITE_MIME, vegaLite, type VegaLiteSpec } from './plots/vega';

// Experiments (typed config in, report and figure specs out, written under the cache)
export {
  evaluateAdversarial,
  type AdversarialEvalConfig,
  type AdversarialEvalResult,
  experimentContext,
  type ExperimentOptions,
  type FigureSpecs,
  observe,
  type ObserveConfig,
  type ObserveResult,
  resultOutput,
  type ResultOutput,
  theorem1Report,
  type Theorem1ReportResult,
  type Theorem1RunConfig,
  trainModels,
  defend,
  type DefendConfig,
  type DefendResult,
  defendKey,
  loadPurified,
} from './experiments';

// The adversarial scan (our extension): is a model backdoored, and toward which label?
export {
  type LabelScore,
  scan,
  type ScanOptions,
  type ScanResult,
  scanScoresSpec,
  type ScanScores,
  SCAN_THRESHOLD,
  type ScanVerdict,
  scoreScan,
  scoreTransitions,
  type ShiftScore,
} from './analysis/scan';
export { robustDeviations, type RobustDeviations } from './defenses/anomaly-index';
export {
  loadCheckpoint,
  loadScanModel,
  type LoadedModel,
  type ModelTruth,
  SCAN_IMAGES,
  SCAN_PGD,
  scanModel,
  type ScanModelSource,
  scanSample,
  type ScanThreshold,
  SCAN_THRESHOLDS,
} from './experiments/scan';
export {
  type DetectorSummary,
  evaluateScan,
  type NcDetection,
  neuralCleanseDetect,
  rocAuc,
  rocCurve,
  rocSpec,
  type ScanEvalConfig,
  type ScanEvalReport,
} from './experiments/scan-eval';

// Baseline defenses (the paper's FT, FP, NAD, NC and ANP columns) and the comparison tables
export {
  ANP,
  type AnpLog,
  type AnpOptions,
  anomalyIndices,
  type AnomalyReport,
  attentionLoss,
  attentionMap,
  FINE_PRUNING,
  FINE_TUNING,
  type FinePruningLog,
  type FinePruningOptions,
  type FineTuneOptions,
  NAD,
  type NadLog,
  type NadOptions,
  NEURAL_CLEANSE,
  type NeuralCleanseLog,
  type NeuralCleanseOptions,
  type ReversedTrigger,
} from './defenses';
export {
  cellConfig,
  compare,
  type CompareCell,
  compareColumns,
  type CompareConfig,
  COMPARE_DEFENSES,
  type CompareDefense,
  type CompareReport,
  type CompareResult,
  compareSpec,
  compareTable,
  paperTableFor,
} from './experiments';

// Paper numbers, the reproduction (settings, measure functions, claims, verdicts), notebook display, the trigger gallery
export * from './paper/numbers';
export * from './repro';
export * from './notebook';
export * from './attacks/backdoor/gallery';
