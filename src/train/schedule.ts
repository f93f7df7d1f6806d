/** Learning-rate schedules, evaluated at a fractional epoch so they can change every step. */
export type ScheduleConfig =
  | { kind: 'constant'; warmupEpochs?: number }
  | { kind: 'multistep'; milestones: number[]; gamma: number; warmupEpochs?: number }
  | { kind: 'cosine'; minFactor?: number; warmupEpochs?: number };

/**
 * The learning rate at `epoch` (fractional, from 0) of a run of `totalEpochs`, given the base
 * rate. An optional linear warm-up ramps from 0 over the first `warmupEpochs`.
 */
export function learningRate(cfg: ScheduleConfig, baseLr: number, epoch: number, totalEpochs: number): number {
  const warm = cfg.warmupEpochs ?? 0;
  const ramp = warm > 0 && epoch < warm ? (epoch + 1e-9) / warm : 1;
  switch (cfg.kind) {
    case 'constant':
      return baseLr * ramp;
    case 'multistep': {
      const passed = cfg.milestones.filter((m) => epoch >= m).length;
      return baseLr * ramp * cfg.gamma ** passed;
    }
    case 'cosine': {
      const min = cfg.minFactor ?? 0;
      const span = Math.max(totalEpochs - warm, 1e-9);
      const t = Math.min(Math.max(epoch - warm, 0) / span, 1);
      return baseLr * ramp * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
    default:
      throw new Error(`schedule.kind: expected constant, multistep or cosine, got '${(cfg as { kind: string }).kind}'`);
  }
}
