#!/usr/bin/env bash
# delay_sweep.sh: Overlap Local-SGD's time per step against Local SGD's as the per-collective delay
# D grows, from interleaved runs; optionally under several runtime settings (environment variants).
#
#   perf/train/delay_sweep.sh [-n 8] [--rounds 5] [--steps 900] [--tau 12]
#                             [--delays "0 25000 30000 35000 40000"] [--variants "default"]
#                             [-B build/release] [--out /tmp/tidal_delay_sweep]
#
# --variants: space-separated; "default" runs with the environment as it is, anything else is
# VAR=VALUE[,VAR=VALUE...] added to it (e.g. --variants "default TIDAL_SPIN_US=0").
# A round runs, for each variant v: Local SGD without delay, Overlap Local-SGD (alpha 0.6) at every
# D, and Local SGD at the largest D; each round starts one run later in that list, so that drifts
# of this shared machine's load hit every run alike. All at lr 0.05, seed 0, --steps steps,
# evaluated only at the end; ms/step = training wall time / steps. Every Overlap run also writes
# its round timeline (--round-trace), and the last round's are summarized by round_trace.sh.
# Printed: per round the ms/step of each run; then the medians over rounds of
#   overlap(D) / local      for each variant (the claim: within 10% for D <= tau x t)
#   run(v) / run(first v)   each configuration under variant v against the first variant
# Every run is bounded by a timeout and talks over 127.0.0.1 only (tidalrun).
set -euo pipefail
cd "$(dirname "$0")/../.."
. perf/lib.sh  # median, val, need_bins

ranks=8
rounds=5
steps=900
tau=12
delays="0 25000 30000 35000 40000"
variants="default"
build="build/release"
out="/tmp/tidal_delay_sweep"
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --tau) tau="$2"; shift 2 ;;
    --delays) delays="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    -B|--build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "delay_sweep.sh: unknown argument $1" >&2; usage ;;
  esac
done
bin="$build/bin"
need_bins "$bin" tidalrun train
mkdir -p "$out"
timeout_s=300
# shellcheck disable=SC2086
max_delay=$(printf "%s\n" $delays | sort -n | tail -1)
first_variant=${variants%% *}

# The runs of one round: "variant:name:args".
runs=()
for s in $variants; do
  runs+=("$s:local:--algo local")
  for d in $delays; do runs+=("$s:overlap$d:--algo overlap --alpha 0.6 --delay-us $d"); done
  runs+=("$s:local$max_delay:--algo local --delay-us $max_delay")
done

run() {  # run <variant> <name> <args...>: prints ms/step
  local s="$1" name="$2"; shift 2
  local tag="${s//[^A-Za-z0-9]/_}" env_vars=()
  local log="$out/${name}_$tag.log" trace=()
  [ "$s" = default ] || IFS=, read -r -a env_vars <<< "$s"
  case "$name" in overlap*) rm -f "$out/trace_${name}_$tag".*; trace=(--round-trace "$out/trace_${name}_$tag") ;; esac
  if ! env "${env_vars[@]}" timeout "$timeout_s" "$bin/tidalrun" -n "$ranks" --timeout "$timeout_s" \
      "$bin/train" --lr 0.05 --seed 0 --steps "$steps" --eval-every "$steps" --quiet --tau "$tau" \
      "$@" "${trace[@]}" > "$log" 2>&1; then
    echo "delay_sweep.sh: run $name ($s) failed (see $log)" >&2
    exit 1
  fi
  grep -o 'summary .*' "$log" | tail -1 | val ms_per_step
}

: > "$out/ms.tsv"  # round variant name ms
echo "== $ranks ranks, tau $tau, $steps steps, delays (us): $delays; variants: $variants"
for ((r = 0; r < rounds; r++)); do
  line="round $r:"
  for ((k = 0; k < ${#runs[@]}; k++)); do
    IFS=: read -r s name args <<< "${runs[$(( (k + r) % ${#runs[@]} ))]}"
    # shellcheck disable=SC2086
    ms=$(run "$s" "$name" $args)
    printf '%d\t%s\t%s\t%s\n' "$r" "$s" "$name" "$ms" >> "$out/ms.tsv"
    line="$line $name/$s=$ms"
  done
  echo "$line"
done

echo
echo "== medians over $rounds rounds of the per-round ratios"
ratio() {  # ratio <variant> <name> <variant0> <name0>: median over rounds of ms(s,name)/ms(s0,name0)
  awk -F'\t' -v s="$1" -v n="$2" -v s0="$3" -v n0="$4" '
    $2 == s && $3 == n { a[$1] = $4 } $2 == s0 && $3 == n0 { b[$1] = $4 }
    END { for (r in a) if (r in b) print a[r] / b[r] }' "$out/ms.tsv" | median
}
for s in $variants; do
  t=$(awk -F'\t' -v s="$s" '$2 == s && $3 == "local" { print $4 }' "$out/ms.tsv" | median)
  row="$s: local $t ms/step (tau x t = $(awk -v t="$t" -v tau="$tau" 'BEGIN { printf "%.1f", tau * t }') ms);"
  for d in $delays; do row="$row overlap D=$((d / 1000)) ms $(ratio "$s" "overlap$d" "$s" local);"; done
  row="$row local D=$((max_delay / 1000)) ms $(ratio "$s" "local$max_delay" "$s" local)"
  echo "$row"
done
for s in $variants; do
  [ "$s" = "$first_variant" ] && continue
  row="$s / $first_variant, same run:"
  for entry in "${runs[@]}"; do
    IFS=: read -r es name _ <<< "$entry"
    [ "$es" = "$s" ] || continue
    row="$row $name $(ratio "$s" "$name" "$first_variant" "$name")"
  done
  echo "$row"
done
echo
echo "== the last round's Overlap timelines (round_trace.sh)"
for s in $variants; do
  for d in $delays; do
    echo "-- $s, D = $d us"
    perf/train/round_trace.sh "$out/trace_overlap${d}_${s//[^A-Za-z0-9]/_}" "$d" || true
  done
done
