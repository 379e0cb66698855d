#!/usr/bin/env bash
# device_bundle.sh: packs the GPU checks into .device/ (ignored by git) so that a machine with a
# GPU but without tidal's build dependencies (UCX, hwloc, GoogleTest) runs them as they are: the
# CUDA test binary, the GPU perf tools, tidalrun and all_reduce_perf (a check of the host
# runtime), every shared library they load (glibc and its loader included, so the host's C library
# version does not matter; the CUDA driver is the host's) and UCX's transport modules. tools/device_check.sh, copied in, runs them there;
# tools/device_sanitize.sh runs the device-path CUDA tests under compute-sanitizer.
#
#   tools/device_bundle.sh [-B build/cuda]       then, on the GPU machine:  .device/check.sh
#
# Builds a Release configuration with CUDA (nvcc required) for sm_80 and sm_90.
set -euo pipefail
cd "$(dirname "$0")/.."
build="build/cuda"
while [ $# -gt 0 ]; do
  case "$1" in
    -B|--build) build="$2"; shift 2 ;;
    *) echo "usage: tools/device_bundle.sh [-B build-dir]" >&2; exit 2 ;;
  esac
done
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
command -v nvcc >/dev/null || { echo "device_bundle.sh: nvcc not found" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTIDAL_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="80;90" >/dev/null
tools=(cuda_tests outer_overlap_perf reduce_cuda_bench optim_cuda_bench tidalrun all_reduce_perf)
cmake --build "$build" --target "${tools[@]}"

out=.device
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/ucx"
for t in "${tools[@]}"; do cp "$build/bin/$t" "$out/bin/"; done
ucx_modules=$(dirname "$(readlink -f "$(ldconfig -p | awk '/libucp.so.0 / {print $NF; exit}')")")/ucx
cp -L "$ucx_modules"/libuct_*.so.0 "$out/ucx/" 2>/dev/null || true
# Every library the binaries and modules load, except the CUDA driver (the host's must be used).
for f in "$out"/bin/* "$out"/ucx/*; do
  ldd "$f" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | grep -v -E '/libcuda\.so' | while read -r lib; do
  cp -L "$lib" "$out/lib/"
done
cp tools/device_check.sh "$out/check.sh"
cp tools/device_sanitize.sh "$out/sanitize.sh"
du -sh "$out"
