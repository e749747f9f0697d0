#!/usr/bin/env bash
# The SmolLM2 experiment (experiments/smol-indomain.toml), resumable: rerun the same command after a kill.
#   nohup experiments/run-smol-indomain.sh [OUT] > smol.log 2>&1 &
# Core arms of every seed first (zero-shot, sft, sft-steps, vbift, spft), then the other arms; each
# finished (seed, arm) is cached under OUT/runs/ and reused; OUT/results.md is rewritten after each call.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$HOME/runs/smol-indomain}
export SPFT_DATA_ROOT=${SPFT_DATA_ROOT:-$(cd .. && pwd)/shared/data}
make -s smollm2
.venv/bin/train experiment experiments/smol-indomain.toml --out "$OUT" --arms zero-shot,sft,sft-steps,vbift,spft
.venv/bin/train experiment experiments/smol-indomain.toml --out "$OUT"
