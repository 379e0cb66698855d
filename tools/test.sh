#!/usr/bin/env bash
# Builds tidal and runs every test: the README's test command, and all that .ci/run calls.
#   1. optimized build, every test (all labels);
#   2. AddressSanitizer + UBSan build (clang, -Wthread-safety) of the unit and multi-rank tests.
# Installs its dependencies first (tools/setup.sh). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

jobs="$(nproc)"
echo "== tidal: optimized build"
tools/build.sh release
echo "== tidal: every test (optimized)"
ctest --test-dir build/release -j "$jobs" --output-on-failure --timeout 300

echo "== tidal: AddressSanitizer + UBSan build"
tools/build.sh asan
echo "== tidal: unit and multi-rank tests (sanitized)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 300 -L 'unit|multirank'
