#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (whose prepack compiles dist/), the tarball installed
# into an empty project, then a script through `require`, one through `import`, and a type-check
# of a file importing it with this project's TypeScript and with tslab's own (5.0, the compiler a
# notebook's cells go through).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/pbe-package-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "packed $tarball: $(du -k "$work/$tarball" | cut -f1) KiB, $(tar -tzf "$work/$tarball" | wc -l) files"
if tar -tzf "$work/$tarball" | grep -E '^package/(src|test|paper-repro|notebooks)/' >/dev/null; then
  echo "the tarball holds sources or tests; package.json \"files\" should keep them out" >&2
  exit 1
fi

mkdir "$work/app"
cd "$work/app"
# arquero's newest @uwdata/flechette needs a package missing from the registry; a consumer pins it
# as this project does (docs/package.md).
cat > package.json <<'JSON'
{ "name": "pbe-lab-consumer", "private": true, "overrides": { "@uwdata/flechette": "2.6.0" } }
JSON
# --prefer-offline: the dependencies come from npm's cache where `npm ci` put them. Optional ones
# stay (resvg's binary is one); tfjs-node's, which download libtensorflow, are skipped where that fails.
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$work/$tarball" >install.log 2>&1 || {
  cat install.log >&2
  exit 1
}
grep '^pbe-lab: native' install.log || true

cat > check.cjs <<'JS'
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pbe = require('pbe-lab');

(async () => {
  const backend = await pbe.initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-package-cache-'));
  try {
    // Two MNIST models through the worker pool: the compiled worker, the job modules and the cache.
    const profile = pbe.resolveProfile('smoke', 'mnist', { epochs: 1 });
    const r = await pbe.trainModels(
      { profile, seed: 0, requests: [{ name: 'badnets', mode: 'all2one', target: 0 }] },
      { cache: new pbe.Cache(dir), backend, progress: () => {} },
    );
    console.log(`require: backend ${backend}; benign ACC ${(r.benign.record.cleanAccuracy * 100).toFixed(1)}%, BadNets ACC ${(r.infected[0].acc * 100).toFixed(1)}% ASR ${(r.infected[0].asr * 100).toFixed(1)}% (MNIST smoke, 1 epoch, through the pool)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
JS
node check.cjs

cat > check.mjs <<'JS'
import { createRequire } from 'node:module';
import * as pbe from 'pbe-lab';
import { configKey, PGD_DEFAULT, resolveProfile } from 'pbe-lab';

const names = Object.keys(createRequire(import.meta.url)('pbe-lab'));
const missing = names.filter((n) => !(n in pbe));
if (missing.length > 0) throw new Error(`import: ${missing.length} of ${names.length} exports missing: ${missing.join(', ')}`);
const key = configKey({ profile: resolveProfile('smoke', 'mnist'), pgd: PGD_DEFAULT });
console.log(`import: all ${names.length} exports of require('pbe-lab') are named exports; a config key ${key}`);
JS
node check.mjs

cat > check.ts <<'TS'
import * as pbe from 'pbe-lab';

const profile: pbe.ResolvedProfile = pbe.resolveProfile('smoke', 'mnist');
const pgd: pbe.PgdConfig = { ...pbe.PGD_DEFAULT, iterations: 3 };
const config: pbe.ObserveConfig = { profile, attack: { name: 'blend', mode: 'all2one' }, targets: [0], seed: 0, pgd, images: 100, tsnePoints: 60 };
export const ready: Promise<pbe.ObserveResult> = pbe.initBackend('cpu').then(() => pbe.observe(config, { cache: new pbe.Cache('/tmp/unused') }));
TS
# skipLibCheck as tslab and most projects set it: tfjs-core's and arquero's own declarations do not
# check under strict settings.
node "$root/node_modules/typescript/bin/tsc" --noEmit --strict --skipLibCheck --module node16 --moduleResolution node16 --types node check.ts
echo "tsc $(node "$root/node_modules/typescript/bin/tsc" --version | cut -d' ' -f2) (node16 resolution): check.ts type-checks"
# tslab's compiler and settings (dist/converter.js): Node10 resolution, which ignores "exports".
tslab_tsc=node_modules/@tslab/typescript-for-tslab/bin/tsc
node "$tslab_tsc" --noEmit --strict --skipLibCheck --esModuleInterop --target es2022 --module esnext --moduleResolution node --types node check.ts
echo "tslab's tsc $(node "$tslab_tsc" --version | cut -d' ' -f2) (Node10 resolution, as in a notebook): check.ts type-checks"
