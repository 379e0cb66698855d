#!/usr/bin/env bash
# compare.sh: the training benchmark's comparison protocol (perf/train). Trains the Fashion-MNIST
# MLP (784-256-128-10, per-rank batch 32, base SGD with momentum 0.9) with every candidate below
# under tidalrun, tunes each candidate's learning rate on seed 0, reruns the best on the other
# seeds, and prints a markdown table; gnuplot draws the curves.
#
#   perf/train/compare.sh [-n 8] [--epochs 10] [--lrs "0.01 0.02 0.05 0.1"] [--seeds "0 1 2"]
#                         [--out perf/train/results] [-B build/release] [--quick]
#
# Candidates (each gets the same tuning budget: every learning rate of --lrs on seed 0):
#   sync        synchronous SGD: gradient AllReduce(avg) every step
#   local       Local SGD, tau 12 (model average every 12 steps)
#   slowmo_b0.5 SlowMo on Local SGD, tau 12, beta 0.5, alpha 1
#   slowmo_b0.7 SlowMo on Local SGD, tau 12, beta 0.7, alpha 1 (the two betas are tuned as
#               separate candidates; the table shows both)
#   overlap     Overlap Local-SGD, tau 12 (the same bytes as local and slowmo), alpha 0.6, gmf 0
# Selection: the learning rate with the lowest final training loss on seed 0, measured as the
# mean loss over the whole training set of the model averaged over ranks after the last step
# ("full_train_loss"; ties: the higher test accuracy). Then seeds --seeds (seed 0's tuning run is
# reused).
#
# Columns: final loss = mean ± sd over seeds of full_train_loss; minibatch loss = the CSV's last
# train_loss (mean minibatch loss of the last evaluation interval, over ranks); test acc = mean
# over seeds, then each seed; bytes/rank = bytes each rank sent in training collectives, counted
# as a ring AllReduce moves them (2(n-1)/n x 4 x count per AllReduce); ms/step = median over
# seeds of wall time / steps (wall time excludes evaluation and logging).
#
# --quick: 4 ranks' worth of a short check (1 epoch on 16000 training images, 2 learning rates,
# seeds 0 and 1): a smoke test of the whole pipeline, minutes on 2 cores, not a result.
# Output (--out): csv/<run>.csv (one per run), log/<run>.log, runs.tsv (one summary line per run),
# table.md, and vs_steps.png, vs_wall.png, vs_bytes.png (loss and accuracy; one line per
# candidate, its chosen learning rate, seed 0). Every run is bounded by a timeout; ranks talk over
# 127.0.0.1 only (tidalrun). Exit status 1 when a run failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. perf/lib.sh  # need_bins, best_lr

ranks=8
epochs=10
lrs="0.01 0.02 0.05 0.1"
seeds="0 1 2"
out="perf/train/results"
build="build/release"
quick=0
extra=""
usage() { sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --lrs) lrs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -B|--build) build="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) usage ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
if [ "$quick" = 1 ]; then
  epochs=1
  lrs="0.02 0.05"
  seeds="0 1"
  extra="--train-subset 16000 --test-subset 2000"
  [ "$out" = "perf/train/results" ] && out="/tmp/tidal_train_quick"
fi

bin="$build/bin"
need_bins "$bin" tidalrun train
mkdir -p "$out/csv" "$out/log"
: > "$out/runs.tsv"

declare -A cand_args=(
  [sync]="--algo sync"
  [local]="--algo local --tau 12"
  [slowmo_b0.5]="--algo slowmo --tau 12 --beta 0.5 --alpha 1"
  [slowmo_b0.7]="--algo slowmo --tau 12 --beta 0.7 --alpha 1"
  [overlap]="--algo overlap --tau 12 --alpha 0.6 --gmf 0"
)
cands="sync local slowmo_b0.5 slowmo_b0.7 overlap"
failed=0

# Evaluations: at least 4 per epoch, at a divisor of the epoch's steps (so the last evaluation
# interval is as long as the others).
steps_per_epoch=$(( 60000 / ranks / 32 ))
if [ "$quick" = 1 ]; then steps_per_epoch=$(( 16000 / ranks / 32 )); fi
eval_every=$(( steps_per_epoch / 4 > 0 ? steps_per_epoch / 4 : 1 ))
while [ $(( steps_per_epoch % eval_every )) -ne 0 ]; do eval_every=$(( eval_every - 1 )); done
timeout_s=$(( 600 + 120 * epochs ))

run() {  # run <candidate> <lr> <seed>
  local cand="$1" lr="$2" seed="$3"
  local name="${cand}_lr${lr}_s${seed}"
  local csv="$out/csv/$name.csv" log="$out/log/$name.log"
  # shellcheck disable=SC2086
  if timeout "$timeout_s" "$bin/tidalrun" -n "$ranks" --timeout "$timeout_s" "$bin/train" \
      ${cand_args[$cand]} --lr "$lr" --seed "$seed" --epochs "$epochs" \
      --eval-every "$eval_every" --quiet --csv "$csv" $extra > "$log" 2>&1; then
    local line
    line=$(grep -o 'summary .*' "$log" | tail -1)
    printf '%s\t%s\t%s\t%s\n' "$cand" "$lr" "$seed" "$line" >> "$out/runs.tsv"
    printf '  %-12s lr %-6s seed %s: %s\n' "$cand" "$lr" "$seed" \
      "$(echo "$line" | grep -o 'full_train_loss=[^ ]*\|test_acc=[^ ]*\|ms_per_step=[^ ]*' | tr '\n' ' ')"
  else
    echo "  $name FAILED (see $log)" >&2
    failed=1
  fi
}

echo "== tuning on seed 0: $ranks ranks, $epochs epochs, lr in {$lrs}"
for lr in $lrs; do
  for cand in $cands; do run "$cand" "$lr" 0; done
done

declare -A best_lr
for cand in $cands; do
  best_lr[$cand]=$(best_lr "$out/runs.tsv" "$cand")
  echo "  $cand: lr ${best_lr[$cand]:-none}"
done

echo "== seeds {$seeds} at each candidate's learning rate"
for seed in $seeds; do
  [ "$seed" = 0 ] && continue
  for cand in $cands; do
    [ -n "${best_lr[$cand]}" ] && run "$cand" "${best_lr[$cand]}" "$seed"
  done
done

# The table.
{
  echo "Fashion-MNIST MLP 784-256-128-10, $ranks ranks, $epochs epochs, batch 32/rank, momentum 0.9;"
  echo "lr tuned on seed 0 over {$lrs} by final full training loss; seeds {$seeds}."
  echo
  echo "| algorithm | lr | final loss (mean ± sd) | minibatch loss | test acc (mean) | test acc per seed | bytes/rank | ms/step |"
  echo "|---|---|---|---|---|---|---|---|"
  for cand in $cands; do
    lr="${best_lr[$cand]}"
    [ -z "$lr" ] && continue
    awk -F'\t' -v c="$cand" -v lr="$lr" -v seeds="$seeds" '
      function val(s, k,   m) { if (match(s, k "=[^ ]*")) return substr(s, RSTART + length(k) + 1, RLENGTH - length(k) - 1); return "" }
      BEGIN { ns = split(seeds, order, " ") }
      $1 == c && $2 == lr { seen[$3] = 1; loss[$3] = val($4, "full_train_loss"); mb[$3] = val($4, "final_train_loss");
                            acc[$3] = val($4, "test_acc"); bytes = val($4, "bytes"); ms[$3] = val($4, "ms_per_step") }
      END {
        n = 0; sl = 0; sa = 0; smb = 0; accs = ""; k = 0
        for (i = 1; i <= ns; i++) { s = order[i]; if (!(s in seen)) { accs = accs (accs == "" ? "" : " / ") "-"; continue }
          n++; sl += loss[s]; sa += acc[s]; smb += mb[s]; accs = accs (accs == "" ? "" : " / ") sprintf("%.4f", acc[s]); msv[++k] = ms[s] + 0 }
        if (n == 0) exit
        ml = sl / n; v = 0
        for (i = 1; i <= ns; i++) { s = order[i]; if (s in seen) v += (loss[s] - ml) ^ 2 }
        sd = n > 1 ? sqrt(v / (n - 1)) : 0
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (msv[j] < msv[i]) { t = msv[i]; msv[i] = msv[j]; msv[j] = t }
        med = k % 2 ? msv[(k + 1) / 2] : (msv[k / 2] + msv[k / 2 + 1]) / 2
        printf "| %s | %s | %.4f ± %.4f | %.4f | %.4f | %s | %.3g | %.2f |\n", c, lr, ml, sd, smb / n, sa / n, accs, bytes, med
      }' "$out/runs.tsv"
  done
} > "$out/table.md"
echo
cat "$out/table.md"

# The plots: seed 0 of each candidate at its learning rate.
if command -v gnuplot > /dev/null; then
  plot_cmd() {  # plot_cmd <x column> <y column>
    local sep="" cmd="plot "
    for cand in $cands; do
      local lr="${best_lr[$cand]}"
      [ -z "$lr" ] && continue
      local csv="$out/csv/${cand}_lr${lr}_s0.csv"
      [ -f "$csv" ] || continue
      cmd+="$sep'$csv' using $1:$2 with linespoints pt 7 ps 0.4 title '$cand (lr $lr)'"
      sep=", "
    done
    echo "$cmd"
  }
  for xs in "steps:1:step" "wall:3:wall time (s, training only)" "bytes:4:bytes sent per rank"; do
    IFS=: read -r tag col label <<< "$xs"
    logx=""
    [ "$tag" = bytes ] && logx="set logscale x"
    [ "$tag" = bytes ] && col=6
    gnuplot <<GP || echo "compare.sh: gnuplot failed for $tag" >&2
set terminal pngcairo size 1200,500 font ",10" noenhanced
set output '$out/vs_$tag.png'
set datafile separator ','
set datafile commentschars '#'
set key autotitle columnhead
set multiplot layout 1,2 title 'Fashion-MNIST MLP, $ranks ranks, seed 0'
set grid
$logx
set xlabel '$label'
set ylabel 'training loss (minibatch, over ranks)'
set logscale y
set key top right
$(plot_cmd "$col" 4)
unset logscale y
set ylabel 'test accuracy (averaged model)'
set key bottom right
$(plot_cmd "$col" 5)
unset multiplot
GP
  done
  echo "plots: $out/vs_steps.png $out/vs_wall.png $out/vs_bytes.png"
fi
exit "$failed"
