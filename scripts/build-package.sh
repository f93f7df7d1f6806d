#!/usr/bin/env bash
# The package's dist/: JavaScript and declarations from tsc, then tfjs's gradient registration
# bundled into one CommonJS file (src/kernels/tfjs-gradients.ts says why). `npm pack` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
node_modules/.bin/tsc -p tsconfig.build.json
node_modules/.bin/esbuild src/kernels/tfjs-gradients.ts --bundle --platform=node --format=cjs \
  --outfile=dist/kernels/tfjs-gradients.js --allow-overwrite --log-level=warning
