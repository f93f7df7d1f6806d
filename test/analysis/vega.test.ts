import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { compileVegaLite, heatmapSpec, renderPng, renderSvg, VEGA_LITE_SCHEMA, vegaLite } from '../../src/plots/vega';

const cells = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => ({ row: `l=${r}`, column: String(c), value: r === c ? 0.8 : 0.1, text: r === c ? '80' : '10' })));
const spec = heatmapSpec(cells, {
  title: 'a small heatmap',
  rowTitle: 'target',
  columnTitle: 'predicted',
  rows: ['l=0', 'l=1', 'l=2'],
  columns: ['0', '1', '2'],
  valueTitle: 'share',
  domain: [0, 1],
});

describe('Vega-Lite figures', function () {
  it('builds v5 specs that compile', () => {
    assert.equal(spec.$schema, VEGA_LITE_SCHEMA);
    const vg = compileVegaLite(spec) as { marks?: unknown[] };
    assert.ok(Array.isArray(vg.marks) && vg.marks.length > 0);
    assert.throws(() => compileVegaLite(vegaLite({ title: 'broken', mark: 'nope' } as never)), /vega-lite spec 'broken' does not compile/);
  });

  it('renders to SVG headless, with the cells and annotations', async () => {
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg/);
    assert.match(svg, /a small heatmap/);
    assert.equal(svg.match(/>80</g)?.length, 3);
    // The spec is left as it was: vega's row tags go on a copy.
    assert.deepEqual(spec.data, { values: cells });
    assert.ok((spec.data as { values: object[] }).values.every((v) => Object.getOwnPropertySymbols(v).length === 0));
  });

  it('renders to PNG through resvg at the requested scale', async () => {
    const png = await renderPng(spec, 2);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const image = PNG.sync.read(png);
    const single = PNG.sync.read(await renderPng(spec, 1));
    assert.ok(image.width > 200 && image.height > 150, `${image.width}×${image.height}`);
    assert.ok(Math.abs(image.width - 2 * single.width) <= 1);
    // Not blank: dark cells (the 80% diagonal) and the white background are both there.
    let dark = 0;
    let white = 0;
    for (let p = 0; p < image.data.length; p += 4) {
      const [r, g, b] = [image.data[p], image.data[p + 1], image.data[p + 2]];
      if (r === 255 && g === 255 && b === 255) white++;
      else if (b > 120 && r < 100) dark++;
    }
    assert.ok(dark > 1000 && white > 10000, `dark ${dark}, white ${white}`);
    await assert.rejects(renderPng(spec, 0), /renderPng: scale must be a positive number, got 0/);
  });
});
