#!/usr/bin/env bash
# Installs what building, testing and running tidal needs on Debian 12, from Debian's packages.
# Idempotent: asks apt only for what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang libclang-rt-14-dev                      # the sanitizer build
  libucx-dev ucx-utils libhwloc-dev hwloc       # transport and topology
  libgtest-dev libgmock-dev libbenchmark-dev    # tests and micro-benchmarks
  libcli11-dev nlohmann-json3-dev librandom123-dev zlib1g-dev
  libopenblas-dev dataset-fashion-mnist gnuplot-nox   # the training benchmark (perf/train)
  iproute2 procps
  openmpi-bin python3-torch                     # launcher tests: mpirun, torchrun
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "tidal setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
