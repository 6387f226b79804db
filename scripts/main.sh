#!/usr/bin/env bash
# README command 1: install what is missing, build (Release), run the main job:
# intrusion detection on KDD Cup 1999, trained in plaintext and on
# Paillier-encrypted records (n = 2048), with the side-by-side table.
# Extra arguments go to 'henn kdd train'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
mkdir -p out
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
./build/release/henn kdd train --encrypted --features intcode --hidden 41 --rows 10000 \
    --epochs 1 --seed 1 --json out/kdd-main.json --model out/kdd-main.model "$@"
