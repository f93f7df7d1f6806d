import { observe, trainObservationModels } from '../../experiments/observe';
import { PAPER_ATTACKS, type PaperAttack, TABLE5, table5Cell } from '../../paper/numbers';
import type { ReproSettings } from '../settings';

/** One attack's feature distances (Table 5) and where its adversarial examples land. */
export interface AttackDistances {
  ratioInfectedF: number;
  ratioOwnF: number;
  dBenign: number;
  dInfected: number;
  targetShareInfected: number;
  targetShareBenign: number;
  asr: number;
}

/** D_infected / D_benign with f = the infected model, per attack of Table 5; null for an attack the scale does not measure. */
export type DistanceMetrics = Record<`ratioInfectedF.${PaperAttack}`, number | null>;

/** 02-feature-distances: Table 5 (and Fig. 3) per attack of the scale, target 0. */
export interface FeatureDistancesValues {
  attacks: Record<string, AttackDistances>;
  metrics: DistanceMetrics;
}

export async function measureFeatureDistances(s: ReproSettings, seed: number, backend?: string): Promise<{ values: FeatureDistancesValues }> {
  const attacks: Record<string, AttackDistances> = {};
  const configs = s.distanceAttacks.map((name) => ({
    profile: s.training,
    attack: { name, mode: 'all2one' as const },
    targets: [0],
    seed,
    pgd: s.pgd,
    images: s.images,
    tsnePoints: 120,
    backend,
  }));
  // Every attack's model on the pool at once (PBE_WORKERS side by side), then each observation from the cache.
  await trainObservationModels(configs);
  for (const cfg of configs) {
    const name = cfg.attack.name;
    const r = await observe(cfg);
    attacks[name] = {
      ratioInfectedF: r.distances.infected.ratio,
      ratioOwnF: r.distances.own.ratio,
      dBenign: r.distances.infected.dBenign,
      dInfected: r.distances.infected.dInfected,
      targetShareInfected: r.distances.targetShare.infected,
      targetShareBenign: r.distances.targetShare.benign,
      asr: r.models.infected[0].asr,
    };
  }
  const metrics = Object.fromEntries(PAPER_ATTACKS.map((a) => [`ratioInfectedF.${a}`, attacks[a]?.ratioInfectedF ?? null])) as DistanceMetrics;
  return { values: { attacks, metrics } };
}

/** The paper's ratio for an attack of Table 5; null for an attack it does not print. */
export function paperDistanceRatio(attack: string): number | null {
  return (TABLE5.attacks as readonly string[]).includes(attack) ? table5Cell(attack as PaperAttack).ratio : null;
}

export function featureDistancesReading(v: FeatureDistancesValues): string {
  const measured = Object.entries(v.attacks);
  const below = measured.filter(([, m]) => m.ratioInfectedF < 1).map(([a]) => a);
  return `The paper: D_infected < D_benign for every attack (ratios ${TABLE5.attacks.map((a) => `${a} ${table5Cell(a).ratio.toFixed(2)}`).join(', ')}). Measured with f = the infected model: ${measured.map(([a, m]) => `${a} ${m.ratioInfectedF.toFixed(2)}`).join(', ')}; below 1 for ${below.length ? below.join(', ') : 'none'}. With each model's own f: ${measured.map(([a, m]) => `${a} ${m.ratioOwnF.toFixed(2)}`).join(', ')} (two different feature spaces, so that reading compares scales as much as positions).`;
}
