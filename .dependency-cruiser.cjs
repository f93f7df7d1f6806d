/**
 * The house's import rules, checked by dependency-cruiser in `npm run lint` (docs/architecture.md,
 * "Layers"): no import circle, type-only imports included, and no import from a layer up to a
 * layer above it. A module may import its own layer and any layer below.
 */

// Top to bottom. A module belongs to the first layer whose pattern it matches.
const LAYERS = [
  { name: 'entry', path: '^src/(index\\.ts$|cli/)', what: 'the package entry and the pbe command' },
  { name: 'reproduction', path: '^src/(repro|bench)/|^src/notebook/(?!output\\.ts$)', what: 'the reproduction suite, notebook display, benchmarks' },
  { name: 'experiments', path: '^src/experiments/', what: 'experiments: typed config to cached report and figures' },
  { name: 'methods', path: '^src/(attacks|defenses|analysis)/', what: "attacks, defenses and the paper's analyses" },
  { name: 'building-blocks', path: '^src/(train|models|data|nn|image)/', what: 'training, models, datasets, layers, image codecs' },
  {
    name: 'foundation',
    // notebook/output.ts is the kernel's display hook, which progress bars write through.
    path: '^src/(backend|webgpu|cache|rng|progress|registry)\\.ts$|^src/(kernels|io|jobs|plots|paper)/|^src/notebook/output\\.ts$',
    what: 'backends and kernels, cache, seeds, progress, the registry, io, the job pool, plots, the paper numbers',
  },
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle means a file does two jobs: split the types (an interface file) from what uses them.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-stands-alone',
      severity: 'error',
      comment: 'The library never imports the tests, the reproduction suite, the notebooks or the scripts.',
      from: { path: '^src/' },
      to: { path: '^(test|paper-repro|notebooks|scripts)/' },
    },
    {
      name: 'src-in-a-layer',
      severity: 'error',
      comment: 'Every library module belongs to a layer (LAYERS in .dependency-cruiser.cjs, docs/architecture.md).',
      from: { path: '^src/', pathNot: LAYERS.map((l) => l.path) },
      to: {},
    },
    ...LAYERS.slice(1).map((layer, i) => ({
      name: `no-upward-from-${layer.name}`,
      severity: 'error',
      comment: `${layer.what} must not import a layer above (${LAYERS.slice(0, i + 1)
        .map((l) => l.name)
        .join(', ')})`,
      from: { path: layer.path, pathNot: LAYERS.slice(0, i + 1).map((l) => l.path) },
      to: { path: LAYERS.slice(0, i + 1).map((l) => l.path) },
    })),
  ],
  options: {
    // Type-only imports count: a circle of types is a circle of meaning.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|build|data-cache)/' },
  },
};
