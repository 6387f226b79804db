#!/usr/bin/env bash
# Install what henn needs from Debian's packages, only if something is missing.
# Extra package names may be passed as arguments (the CI adds clang).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libgmp-dev libsodium-dev libjansson-dev zlib1g-dev libopenblas-dev libdecaf-dev libmicrohttpd-dev libsqlite3-dev libcurl4-gnutls-dev openssl dataset-fashion-mnist python3 "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "henn: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
