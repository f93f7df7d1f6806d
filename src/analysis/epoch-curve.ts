import { vegaLite, type VegaLiteSpec } from '../plots/vega';

/** One epoch of a training run with the observation measured on its weights (question 7 of the fidelity review). */
export interface EpochObservation {
  epoch: number;
  /** share of the infected model's adversarial examples predicted as the target */
  infectedTargetShare: number;
  /** share of the benign model's adversarial examples on the same label, same images, same epoch */
  benignTargetShare: number;
  infectedAcc: number | null;
  infectedAsr: number | null;
  benignAcc: number | null;
}

/** Share on the target over training epochs, infected beside benign, with the infected model's ACC and ASR. */
export function epochCurveSpec(rows: readonly EpochObservation[], title: string): VegaLiteSpec {
  const share = 'share of adversarial examples on the target';
  const backdoor = 'infected model: ACC and ASR';
  const values = rows.flatMap((r) => [
    { epoch: r.epoch, panel: share, series: 'infected', value: r.infectedTargetShare },
    { epoch: r.epoch, panel: share, series: 'benign', value: r.benignTargetShare },
    ...(r.infectedAcc === null ? [] : [{ epoch: r.epoch, panel: backdoor, series: 'ACC', value: r.infectedAcc }]),
    ...(r.infectedAsr === null ? [] : [{ epoch: r.epoch, panel: backdoor, series: 'ASR', value: r.infectedAsr }]),
  ]);
  return vegaLite({
    title: { text: title, subtitle: 'the same clean test images and PGD budget at every epoch' },
    data: { values },
    facet: { row: { field: 'panel', type: 'nominal', title: null, sort: [share, backdoor] } },
    spec: {
      width: 360,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', title: null, axis: { format: '.0%' } },
        color: { field: 'series', type: 'nominal', title: null },
        tooltip: [{ field: 'epoch' }, { field: 'series' }, { field: 'value', format: '.1%' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as Omit<VegaLiteSpec, '$schema'>);
}
