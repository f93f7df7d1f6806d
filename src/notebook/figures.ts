import * as fs from 'node:fs';
import type { AdversarialLabelDistribution, AdversarialSet, FeatureEmbedding } from '../analysis';
import type { Dataset } from '../data/dataset';
import { encodePng } from '../image/png';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';

/** The Vega-Lite spec a command wrote beside one of its SVG figures (`<name>.svg` → `<name>.vl.json`). */
export function specBesideSvg(svgFile: string): VegaLiteSpec {
  const file = svgFile.replace(/\.svg$/, '.vl.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: no Vega-Lite spec beside the figure ${svgFile}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as VegaLiteSpec;
}

/** Where the adversarial examples of several models land: one bar per predicted label and model. */
export function adversarialLabelBarsSpec(
  models: readonly { model: string; distribution: AdversarialLabelDistribution }[],
  target: number | null,
  title: string,
): VegaLiteSpec {
  const values = models.flatMap(({ model, distribution: d }) =>
    d.overall.map((count, c) => ({ model, label: d.classNames[c], share: count / Math.max(1, d.total), count, isTarget: c === target })),
  );
  return vegaLite({
    title: { text: title, subtitle: target === null ? '' : `target label ${models[0]?.distribution.classNames[target]} outlined` },
    data: { values },
    mark: { type: 'bar', strokeWidth: 2 },
    width: { step: 14 },
    height: 180,
    encoding: {
      x: {
        field: 'label',
        type: 'nominal',
        sort: models[0]?.distribution.classNames ?? [],
        title: 'predicted label of the adversarial example',
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'model', type: 'nominal' },
      y: { field: 'share', type: 'quantitative', axis: { format: '.0%' }, title: 'share of adversarial examples' },
      color: { field: 'model', type: 'nominal', title: 'PGD against', scale: { range: ['#4c78a8', '#e45756'] } },
      stroke: { condition: { test: 'datum.isTarget', value: 'black' }, value: null },
      tooltip: [{ field: 'model' }, { field: 'label' }, { field: 'count' }, { field: 'share', format: '.1%' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

/** The paper's D_infected / D_benign beside ours under both readings of f, per attack. */
export function distanceRatioSpec(rows: readonly { attack: string; paper: number | null; infectedF: number; ownF: number }[]): VegaLiteSpec {
  const series = ['paper (Table 5)', 'ours, f = infected model', "ours, f = each model's own"];
  const values = rows.flatMap((r) =>
    [r.paper, r.infectedF, r.ownF].flatMap((ratio, j) => (ratio === null ? [] : [{ attack: r.attack, series: series[j], ratio }])),
  );
  return vegaLite({
    title: {
      text: 'D_infected / D_benign: below 1 when infected adversarial examples sit nearer the triggered images',
      subtitle: 'Table 5 (paper) beside the measured ratio under both readings of f',
    },
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'attack', type: 'nominal', axis: { labelAngle: 0 } },
          xOffset: { field: 'series', type: 'nominal', sort: series },
          y: { field: 'ratio', type: 'quantitative', title: 'D_infected / D_benign' },
          color: {
            field: 'series',
            type: 'nominal',
            sort: series,
            title: null,
            scale: { range: ['#bab0ac', '#e45756', '#4c78a8'] },
            legend: { labelLimit: 300 },
          },
          tooltip: [{ field: 'attack' }, { field: 'series' }, { field: 'ratio', format: '.3f' }],
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { y: { datum: 1 } } },
    ],
    width: { step: 20 },
    height: 220,
  } as Omit<VegaLiteSpec, '$schema'>);
}

/** A uint8 HWC image, magnified `scale`× by pixel repetition, as a PNG data URL. */
function dataUrl(pixels: Float32Array, h: number, w: number, c: number, scale: number): string {
  const data = new Uint8Array(h * scale * w * scale * c);
  for (let y = 0; y < h * scale; y++) {
    for (let x = 0; x < w * scale; x++) {
      for (let ch = 0; ch < c; ch++)
        data[(y * w * scale + x) * c + ch] = Math.round(255 * Math.min(1, Math.max(0, pixels[(Math.floor(y / scale) * w + Math.floor(x / scale)) * c + ch])));
    }
  }
  return `data:image/png;base64,${encodePng({ width: w * scale, height: h * scale, channels: c, data }).toString('base64')}`;
}

/**
 * Fig. 5 with the image behind every point: each point carries a small PNG (the clean image, its
 * adversarial example or its triggered version), which the tooltip shows on hover.
 */
export function tsneImageSpec(spec: VegaLiteSpec, e: FeatureEmbedding, images: Dataset, adversarial: AdversarialSet, triggered: Uint8Array): VegaLiteSpec {
  const [, h, w, c] = images.shape;
  if (triggered.length !== images.images.length) {
    throw new Error(`tsneImageSpec: ${triggered.length} triggered pixels for ${images.images.length} image pixels; expected one triggered image per image`);
  }
  const scale = Math.max(1, Math.ceil(56 / w));
  const size = h * w * c;
  const urls = new Map<string, string>();
  for (const i of new Set(e.points.map((p) => p.sourceIndex))) {
    const at = (px: ArrayLike<number>, div: number) => Float32Array.from({ length: size }, (_, k) => px[i * size + k] / div);
    urls.set(`clean/${i}`, dataUrl(at(images.images, 255), h, w, c, scale));
    urls.set(`adversarial/${i}`, dataUrl(adversarial.images.subarray(i * size, (i + 1) * size), h, w, c, scale));
    urls.set(`triggered/${i}`, dataUrl(at(triggered, 255), h, w, c, scale));
  }
  const s = spec as { data: { values: { kind: string; sourceIndex: number }[] }; encoding: { tooltip: object[] } };
  return {
    ...spec,
    data: { values: s.data.values.map((v) => ({ ...v, image: urls.get(`${v.kind}/${v.sourceIndex}`) })) },
    // vega-tooltip draws the value under the key `image` as a picture; tsneSpec titles the image index so.
    encoding: {
      ...s.encoding,
      tooltip: [...s.encoding.tooltip.map((t) => ((t as { title?: string }).title === 'image' ? { ...t, title: 'image no.' } : t)), { field: 'image' }],
    },
  } as VegaLiteSpec;
}
