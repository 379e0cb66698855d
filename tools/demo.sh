#!/usr/bin/env bash
# tidal's main job: builds tidal (installing what it needs) and runs a 4-rank demo on this
# machine under tidalrun: every rank joins the world through the rendezvous store and passes a
# token around the ring, then two ranks measure point-to-point bandwidth and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh release >/dev/null
bin=build/release/bin

echo "== tidalrun -n 4 tidal-info --check"
"$bin/tidalrun" -n 4 --timeout 120 "$bin/tidal-info" --check
if [ -x "$bin/p2p_perf" ]; then
  echo "== tidalrun -n 2 p2p_perf"
  "$bin/tidalrun" -n 2 --timeout 300 "$bin/p2p_perf" -b 8 -e 64M -f 4
fi
if [ -x "$bin/train" ]; then
  echo "== perf/train/compare.sh -n 4 --quick (Fashion-MNIST MLP: sync SGD, Local SGD, SlowMo, Overlap)"
  perf/train/compare.sh -n 4 --quick -B build/release
fi
