#!/usr/bin/env bash
# README command 2: install what is missing, build (Release, warnings as
# errors), run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake --preset release -DHENN_WERROR=ON >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
ctest --preset release -j"$(nproc)"
