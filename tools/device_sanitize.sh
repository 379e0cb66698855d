#!/usr/bin/env bash
# device_sanitize.sh (copied to .device/sanitize.sh by tools/device_bundle.sh): the CUDA tests of
# the device paths under compute-sanitizer on a machine with a GPU — memcheck (out-of-bounds and
# misaligned device accesses, leaks) and initcheck (reads of device memory never written). Writes
# one report per tool to $OUT (or /tmp/tidal_device) and exits non-zero when a tool reports an
# error or a test fails. Both tools together took 3 s on an H100 (2026-11-26); each has 90 s.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/tidal_device}"
mkdir -p "$out"
sanitizer=$(command -v compute-sanitizer ||
  find /usr/local/cuda*/bin /opt/nvidia -name compute-sanitizer -type f 2>/dev/null | head -1)
[ -n "$sanitizer" ] || { echo "device_sanitize: compute-sanitizer not found"; exit 1; }
# The sanitizer injects a library built for the host's C and C++ libraries, so cuda_tests runs
# under the host's loader here, with the bundle's libraries except glibc's own and, where the host
# has them, libstdc++ and libgcc_s (the host's are newer and backward compatible).
host_cxx=0
ldconfig -p | grep -q 'libstdc++\.so\.6 ' && host_cxx=1
libs="$(mktemp -d)"
for f in "$here"/lib/*; do
  case "$(basename "$f")" in
    ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*) ;;
    libstdc++.so*|libgcc_s.so*) [ "$host_cxx" = 1 ] || ln -s "$f" "$libs/" ;;
    *) ln -s "$f" "$libs/" ;;
  esac
done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export UCX_MODULE_DIR="$here/ucx"
filter='DeviceSlowMo*:OptimKernelsCudaDevice*:CudaDevice*:DeviceBuffer*'
status=0
for tool in memcheck initcheck; do
  extra=()
  [ "$tool" = memcheck ] && extra=(--leak-check full)
  timeout 90 "$sanitizer" --tool "$tool" "${extra[@]}" --error-exitcode 3 \
    "$here/bin/cuda_tests" --gtest_filter="$filter" > "$out/sanitize_$tool.txt" 2>&1
  rc=$?
  echo "device_sanitize: $tool exit $rc"
  grep -E '^\[  (PASSED|FAILED) *\]|ERROR SUMMARY|LEAK SUMMARY' "$out/sanitize_$tool.txt"
  [ "$rc" = 0 ] || status=1
done
echo "device_sanitize: exit $status (reports in $out)"
exit "$status"
