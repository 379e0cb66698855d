#!/usr/bin/env bash
# Configures and builds one flavour of tidal into build/<flavour>:
#   tools/build.sh release   optimized, gcc, CUDA kernels when nvcc is found (the default)
#   tools/build.sh asan      clang, AddressSanitizer + UBSan, -Wthread-safety, no CUDA, no perf
# Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
shift || true
jobs="${TIDAL_BUILD_JOBS:-$(nproc)}"

case "$flavour" in
  release)
    args=(-DCMAKE_BUILD_TYPE=Release)
    ;;
  asan)
    args=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
          -DTIDAL_SANITIZE=address,undefined -DTIDAL_CUDA=OFF -DTIDAL_BUILD_PERF=OFF)
    ;;
  *)
    echo "usage: tools/build.sh [release|asan] [cmake args...]" >&2
    exit 2
    ;;
esac

# nvcc usually lives outside PATH on Debian-style CUDA installs.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" "$@" >/dev/null
cmake --build "build/$flavour" -j "$jobs"
