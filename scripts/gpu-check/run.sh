#!/usr/bin/env bash
# The GPU check, in one go, from the copy pack.sh makes (or from a checkout with npm ci done):
# the adapter, the webgpu tests, `pbe bench --backend webgpu` for smallcnn and PreAct-ResNet18,
# one PreAct-ResNet18 CIFAR-10 epoch at the `paper` profile, and the PyTorch peer when it is
# given. Everything printed is also kept under gpu-check-out/. See docs/webgpu.md.
#
# Environment: PBE_CIFAR10_PATH  a cifar-10-batches-bin folder or its .tar.gz (the epoch and the
#                                PyTorch peer need it; neither is run without it)
#              PEER              the shared peer_torch_gpu.py (with peer_torch.py beside it)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=gpu-check-out
mkdir -p "$out"
# From pack.sh's copy: unpack the packages and Node (with xz, else Python's lzma).
unxz() { xz -dc "$1" 2>/dev/null || python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$1"; }
if [[ -f runtime/node_modules.tar.xz && ! -d node_modules ]]; then unxz runtime/node_modules.tar.xz | tar -x; fi
if [[ -f runtime/node.xz ]]; then
  [[ -x runtime/node ]] || { unxz runtime/node.xz > runtime/node && chmod +x runtime/node; }
  export PATH="$PWD/runtime:$PATH"
fi
export PBE_BACKEND=webgpu
step() { echo; echo "== $1"; }

step "adapter"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null
node bin/pbe.js info 2>&1 | tee "$out/info.txt"

step "webgpu tests"
/usr/bin/time -f '%e s' node node_modules/mocha/bin/mocha.js --no-parallel test/backend/webgpu.test.ts 2>&1 | tee "$out/tests.txt"

step "bench (train step, PGD-7, inference) on webgpu"
node bin/pbe.js bench --backend webgpu > "$out/bench.json" 2> >(tee "$out/bench.txt" >&2)

step "one PreAct-ResNet18 CIFAR-10 epoch at the paper profile"
if [[ -n "${PBE_CIFAR10_PATH:-}" ]]; then
  PBE_CACHE_DIR="$PWD/$out/cache" /usr/bin/time -f '%e s' node bin/pbe.js train --profile paper --dataset cifar10 --epochs 1 2>&1 | tee "$out/epoch.txt"
else
  echo "skipped: set PBE_CIFAR10_PATH to CIFAR-10 (binary version) to time it" | tee "$out/epoch.txt"
fi

step "PyTorch peer on the same GPU"
if [[ -n "${PEER:-}" && -n "${PBE_CIFAR10_PATH:-}" ]]; then
  python3 "$PEER" --data "$PBE_CIFAR10_PATH" --device cuda --out "$out/peer.json" 2>&1 | tee "$out/peer.txt"
else
  echo "skipped: set PEER to peer_torch_gpu.py and PBE_CIFAR10_PATH to time PyTorch" | tee "$out/peer.txt"
fi
