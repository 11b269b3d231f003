#!/usr/bin/env bash
# The device check: one script from a fresh GPU machine to a table of figures
# (gpu-check.ts says what it runs). About 8 minutes on an H100/H200, most of it
# writing and loading a star-1024-d30-shaped random model (~7 GB).
#
#   gpu-service/bench/gpu-check.sh                 npm ci with the CUDA provider, then the check
#   gpu-service/bench/gpu-check.sh --no-install    node_modules already holds it
#   gpu-service/bench/gpu-check.sh --device cpu --dry --no-install
#                                                  the same steps on star-tiny, in seconds
#   --out DIR                                      logs and summary.{md,json} (default bench/results/gpu-check)
set -euo pipefail
cd "$(dirname "$0")/../.."

install=1
args=()
for arg in "$@"; do
  if [ "$arg" = --no-install ]; then install=0; else args+=("$arg"); fi
done

if [ "$install" = 1 ]; then
  # onnxruntime-node's install script fetches the CUDA 12 provider libraries (NuGet) only when asked.
  ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/.bin:$PATH" # the repository's Node 24
exec node gpu-service/bench/gpu-check.ts "${args[@]}"
