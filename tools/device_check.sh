#!/usr/bin/env bash
# device_check.sh (copied to .device/check.sh by tools/device_bundle.sh): the GPU checks, run from
# the repository root on a machine with a GPU. Every program runs under the bundled loader and
# libraries. Writes its reports to $OUT (or /tmp/tidal_device), at most five files, and prints a
# summary:
#   1. cuda_tests: the CUDA kernels against the CPU oracles, the device buffers, the CUDA Device,
#      DeviceSlowMo against host SlowMo bit for bit (on a GPU machine only the two tests of the
#      behaviour without a GPU may skip)
#   2. optim_cuda_bench: the CUDA optimizer kernels' GB/s beside cudaMemcpy (after a bit-for-bit
#      check against ref::)
#   3. reduce_cuda_bench: the CUDA reduction kernels' GB/s beside cudaMemcpy device-to-device
#   4. all_reduce_perf under tidalrun -n 2 (the host runtime works there), then outer_overlap_perf
#      under tidalrun -n 2 and -n 4, with light (20 kernels per layer) and heavy (200) compute: the
#      fraction of the outer step hidden; the first failure skips the rest
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/tidal_device}"
mkdir -p "$out"
loaders=("$here"/lib/ld-linux-x86-64.so.*)
loader="${loaders[0]}"
export UCX_MODULE_DIR="$here/ucx"
# A wrapper so that tidalrun's children run under the bundled loader too (outside $out, whose
# files come back).
wrap="$(mktemp -d)/run_bundled.sh"
# The host's LD_LIBRARY_PATH stays searched after the bundle: the CUDA driver may be found there.
cat > "$wrap" <<WRAP
#!/bin/sh
exec "$loader" --library-path "$here/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" "\$@"
WRAP
chmod +x "$wrap"
{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv; } \
  2>&1 | tee "$out/gpu.txt"
status=0
timeout 120 "$wrap" "$here/bin/cuda_tests" > "$out/cuda_tests.txt" 2>&1
grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ test' "$out/cuda_tests.txt"
grep -q '^\[  PASSED  \]' "$out/cuda_tests.txt" && ! grep -q '^\[  FAILED  \]' "$out/cuda_tests.txt" || status=1
# Two tests check the behaviour without CUDA or without a GPU and skip by design where one is
# visible; any other skip means the GPU was not used.
if grep -E '^\[  SKIPPED \] [A-Za-z/]+\.' "$out/cuda_tests.txt" | grep -v -E '\.Without' | grep -q .; then
  echo "device_check: some CUDA tests skipped (is a GPU visible?)"
  status=1
fi
for bench in optim_cuda_bench reduce_cuda_bench; do
  # About 95 s for reduce_cuda_bench's 51 cases on an H100 (most of it filling 256 MiB buffers).
  timeout 180 "$wrap" "$here/bin/$bench" --benchmark_min_time=0.05 > "$out/$bench.txt" 2>&1 ||
    { echo "device_check: $bench failed"; status=1; }
done
grep -E '^(memcpy|optim_cuda)' "$out/optim_cuda_bench.txt"
: > "$out/outer_overlap.txt"
light="outer_overlap_perf --layer-reps 20 --rounds 5 --iters 8"
heavy="outer_overlap_perf --layer-reps 200 --rounds 5 --iters 8"
runs=("2 all_reduce_perf -b 8 -e 4M -f 8" "2 $light" "4 $light" "2 $heavy" "4 $heavy")
for run in "${runs[@]}"; do
  read -r n tool args <<< "$run"
  echo "## tidalrun -n $n $tool $args" >> "$out/outer_overlap.txt"
  # shellcheck disable=SC2086  # args is a list of words
  if ! timeout 60 "$wrap" "$here/bin/tidalrun" -n "$n" --timeout 55 "$wrap" "$here/bin/$tool" \
      $args >> "$out/outer_overlap.txt" 2>&1; then
    echo "device_check: tidalrun -n $n $tool failed; skipping the rest"
    status=1
    break
  fi
done
grep -E '^(##|#|median)' "$out/outer_overlap.txt"
echo "device_check: exit $status (reports in $out)"
exit "$status"
