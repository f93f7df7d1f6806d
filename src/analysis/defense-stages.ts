import { vegaLite, type VegaLiteSpec } from '../plots/vega';

/** Fig. 7: clean accuracy and attack success rate of the model after each stage of a defense, as `defend` measures them. */

export interface StageMetrics {
  stage: string;
  acc: number;
  asr: number;
}

/** Fig. 7: clean accuracy and attack success rate at each stage of the defense. */
export function stagesSpec(stages: readonly StageMetrics[], title: string): VegaLiteSpec {
  const values = stages.flatMap((s, i) => [
    { step: i, stage: s.stage, metric: 'ACC', value: s.acc },
    { step: i, stage: s.stage, metric: 'ASR', value: s.asr },
  ]);
  return vegaLite({
    title: { text: title, subtitle: 'ACC on the clean, ASR on the triggered test set, after each stage (Fig. 7)' },
    data: { values },
    width: 320,
    height: 220,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'stage', type: 'ordinal', sort: stages.map((s) => s.stage), title: null, axis: { labelAngle: -30 } },
      y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '%' }, title: null },
      color: { field: 'metric', type: 'nominal', sort: ['ACC', 'ASR'] },
      tooltip: [{ field: 'stage' }, { field: 'metric' }, { field: 'value', format: '.2%' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}
