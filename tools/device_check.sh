#!/usr/bin/env bash
# device_check.sh (copied to .device/check.sh by tools/device_bundle.sh): the GPU checks, run from
# the repository root on a machine with a GPU. Every program runs under the bundled loader and
# libraries. Writes its reports to $OUT (or /tmp/tidal_device) and prints a summary:
#   1. cuda_tests: the CUDA kernels against the CPU oracles, the device buffers, the CUDA Device,
#      DeviceSlowMo against host SlowMo bit for bit (nothing may be skipped on a GPU machine)
#   2. reduce_cuda_bench: the CUDA reduction kernels' GB/s beside cudaMemcpy
#   3. outer_overlap_perf under tidalrun -n 2 and -n 4: the fraction of the outer step hidden
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/tidal_device}"
mkdir -p "$out"
loader=$(ls "$here"/lib/ld-linux-x86-64.so.* | head -1)
export UCX_MODULE_DIR="$here/ucx"
# A wrapper so that tidalrun's children run under the bundled loader too.
wrap="$out/run_bundled.sh"
# The host's LD_LIBRARY_PATH stays searched after the bundle: the CUDA driver may be found there.
cat > "$wrap" <<WRAP
#!/bin/sh
exec "$loader" --library-path "$here/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" "\$@"
WRAP
chmod +x "$wrap"
nvidia-smi -L 2>&1 | tee "$out/gpu.txt"
status=0
"$wrap" "$here/bin/cuda_tests" > "$out/cuda_tests.txt" 2>&1
grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ test' "$out/cuda_tests.txt"
grep -q '^\[  PASSED  \]' "$out/cuda_tests.txt" && ! grep -q '^\[  FAILED  \]' "$out/cuda_tests.txt" || status=1
if grep -q '^\[  SKIPPED \]' "$out/cuda_tests.txt"; then
  echo "device_check: some CUDA tests skipped (is a GPU visible?)"
  status=1
fi
timeout 120 "$wrap" "$here/bin/reduce_cuda_bench" --benchmark_min_time=0.05s > "$out/reduce_cuda_bench.txt" 2>&1 || status=1
for n in 2 4; do
  timeout 180 "$wrap" "$here/bin/tidalrun" -n "$n" --timeout 170 "$wrap" "$here/bin/outer_overlap_perf" \
    --rounds 5 --iters 8 > "$out/outer_overlap_n$n.txt" 2>&1 || status=1
  tail -2 "$out/outer_overlap_n$n.txt"
done
echo "device_check: exit $status (reports in $out)"
exit "$status"
