#!/usr/bin/env bash
# timing.sh: the training benchmark's timing claims (perf/train), from interleaved short runs.
#
#   perf/train/timing.sh [-n 8] [--rounds 5] [--steps 300] [--tau 12] [--delay-us D]
#                        [-B build/release] [--out /tmp/tidal_train_timing]
#
# First the step time t of Local SGD (tau, no delay) is measured (median of 2 runs), and the
# per-collective delay D is set to 0.8 x tau x t unless --delay-us gives it (D <= tau x t is the
# regime Overlap Local-SGD can hide). Then --rounds rounds of these runs, each round starting one
# run later in the list (A B C ..., then B C ... A) so that drifts of this shared machine's load hit
# every run alike:
#   local     Local SGD, tau, no delay                   (the baseline)
#   slowmo    SlowMo, tau, beta 0.5, no delay
#   bucketed  SlowMo with --bucket-per-layer (one bucket per layer, the next forward waits per
#             layer; every 2nd outer step blocks as a probe)
#   overlapD  Overlap Local-SGD, tau, alpha 0.6, delay D on every collective of every rank
#   localD    Local SGD, tau, delay D
# All at the same learning rate (0.05), seed 0, --steps steps, evaluated only at the end: an
# evaluation pauses the clock but not a collective in flight, so intermediate evaluations would
# hide part of an asynchronous round's delay (Overlap's anchor, the bucketed outer step) for free.
# ms/step = wall time / steps, training only. Printed: per round and the median over rounds of the
# ratios slowmo/local, overlapD/local, localD/local; localD's extra time per step against D/tau;
# and the bucketed outer step's hidden fraction. Loss against wall time under the delay:
# delay_compare.sh.
# Every run is bounded by a timeout and talks over 127.0.0.1 only (tidalrun).
set -euo pipefail
cd "$(dirname "$0")/../.."
. perf/lib.sh  # median, val, need_bins

ranks=8
rounds=5
steps=300
tau=12
delay_us=""
build="build/release"
out="/tmp/tidal_train_timing"
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --tau) tau="$2"; shift 2 ;;
    --delay-us) delay_us="$2"; shift 2 ;;
    -B|--build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "timing.sh: unknown argument $1" >&2; usage ;;
  esac
done
bin="$build/bin"
need_bins "$bin" tidalrun train
mkdir -p "$out"
timeout_s=300
common="--lr 0.05 --seed 0 --steps $steps --eval-every $steps --quiet --tau $tau"

run() {  # run <name> <args...>: prints the summary line
  local name="$1"; shift
  local log="$out/$name.log"
  # shellcheck disable=SC2086
  if ! timeout "$timeout_s" "$bin/tidalrun" -n "$ranks" --timeout "$timeout_s" "$bin/train" \
      $common --csv "$out/$name.csv" "$@" > "$log" 2>&1; then
    echo "timing.sh: run $name failed (see $log)" >&2
    exit 1
  fi
  grep -o 'summary .*' "$log" | tail -1
}

echo "== step time of Local SGD (tau $tau, $ranks ranks, $steps steps)"
t1=$(run probe1 --algo local | val ms_per_step)
t2=$(run probe2 --algo local | val ms_per_step)
t_step=$(printf '%s\n%s\n' "$t1" "$t2" | median)
if [ -z "$delay_us" ]; then
  delay_us=$(awk -v t="$t_step" -v tau="$tau" 'BEGIN { printf "%d", 0.8 * tau * t * 1000 }')
fi
echo "   t = $t_step ms/step (runs: $t1, $t2); D = $delay_us us (tau x t = $(awk -v t="$t_step" -v tau="$tau" 'BEGIN { printf "%.0f", tau * t * 1000 }') us)"

names=(local slowmo bucketed overlapD localD)
declare -A args=(
  [local]="--algo local"
  [slowmo]="--algo slowmo --beta 0.5"
  [bucketed]="--algo slowmo --beta 0.5 --bucket-per-layer --probe-every 2"
  [overlapD]="--algo overlap --alpha 0.6 --delay-us $delay_us"
  [localD]="--algo local --delay-us $delay_us"
)
: > "$out/ratios.tsv"
printf '%-5s %8s %8s %8s %8s %8s | %7s %7s %7s %9s %7s\n' round local slowmo bucketed \
  overlapD localD smo/loc ovD/loc locD/loc extra/D*t hidden
for ((r = 0; r < rounds; r++)); do
  declare -A ms=() line=()
  for ((k = 0; k < ${#names[@]}; k++)); do
    name="${names[$(( (k + r) % ${#names[@]} ))]}"
    # shellcheck disable=SC2086
    line[$name]=$(run "${name}_r$r" ${args[$name]})
    ms[$name]=$(echo "${line[$name]}" | val ms_per_step)
  done
  hidden=$(grep -o '[0-9.-]*% hidden' "$out/bucketed_r$r.log" | sed 's/% hidden//' || echo nan)
  awk -v r="$r" -v a="${ms[local]}" -v b="${ms[slowmo]}" -v bk="${ms[bucketed]}" \
      -v c="${ms[overlapD]}" -v d="${ms[localD]}" -v D="$delay_us" -v tau="$tau" -v h="$hidden" 'BEGIN {
    extra = (d - a) / (D / 1000 / tau)
    printf "%-5d %8.3f %8.3f %8.3f %8.3f %8.3f | %7.3f %7.3f %7.3f %9.2f %6s%%\n", r, a, b, bk, c, d, b / a, c / a, d / a, extra, h
    printf "%f\t%f\t%f\t%f\t%s\n", b / a, c / a, d / a, extra, h > "/dev/stderr" }' \
    2>> "$out/ratios.tsv"
done
echo
echo "== medians over $rounds rounds ($ranks ranks, tau $tau, D = $delay_us us, $steps steps)"
col() { cut -f"$1" "$out/ratios.tsv" | grep -v '^$' | grep -v nan | median; }
echo "slowmo / local ms/step:            $(col 1)   (claim: within 5%)"
echo "overlap+D / local (no delay):      $(col 2)   (claim: within 10%)"
echo "local+D / local (no delay):        $(col 3)"
echo "local+D extra per step / (D/tau):  $(col 4)   (claim: about 1)"
echo "bucketed SlowMo: outer step hidden $(col 5)%"
