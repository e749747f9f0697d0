#!/usr/bin/env bash
# The SmolLM2 experiment (experiments/smol-indomain.toml), resumable: rerun the same command after a kill,
# on this machine or a fresh one.
#   nohup experiments/run-smol-indomain.sh [OUT] > smol.log 2>&1 &
# Core arms of every seed first (zero-shot, sft, spft, vbift, sft-steps), then the other arms; each
# finished (seed, arm) is cached under OUT/runs/ and reused; OUT/results.md is rewritten after each call.
# ARCHIVE (default experiments/results/smol-indomain, committed) keeps every finished result, never a
# weight: it is restored into OUT first and saved after every arm, so a fresh machine goes on where the
# last one stopped (commit ARCHIVE as arms finish). One seed's core arms take longer than a session:
# sft-steps needs only the step counts kept there; selfplay / vbift+dpo need their start model's weights, so
# they run in the session that trained it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$HOME/runs/smol-indomain}
ARCHIVE=${ARCHIVE:-experiments/results/smol-indomain}
export SPFT_DATA_ROOT=${SPFT_DATA_ROOT:-$(cd .. && pwd)/shared/data}
make -s smollm2
.venv/bin/train experiment experiments/smol-indomain.toml --out "$OUT" --archive "$ARCHIVE" --arms zero-shot,sft,sft-steps,vbift,spft
.venv/bin/train experiment experiments/smol-indomain.toml --out "$OUT" --archive "$ARCHIVE"
