#!/usr/bin/env bash
# Installs the Debian packages scriptrt needs that are missing (run as root).
# Usage: tools/deps.sh [--fuzz] [extra-package ...]
#   --fuzz adds clang-14 and libclang-rt-14-dev: optional, only for the libFuzzer
#   build (the `fuzz` preset); the default build and tests never need them.
set -euo pipefail
extra=()
for a in "$@"; do
  if [ "$a" = "--fuzz" ]; then extra+=(clang-14 libclang-rt-14-dev); else extra+=("$a"); fi
done
pkgs=(gcc make cmake pkg-config libunwind-dev libcmocka-dev libdw-dev libjson-c-dev libmicrohttpd-dev curl jq wrk "${extra[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
