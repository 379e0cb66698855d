#!/usr/bin/env bash
# delay_compare.sh: Overlap Local-SGD against Local SGD when every training collective is delayed
# (perf/train; ALGORITHMS.md §3's claim: with a per-collective delay D <= tau x step time, Overlap's
# time per step stays within 10% of Local SGD without delay, Local SGD with D pays about D/tau per
# step, and Overlap's loss against wall time beats Local SGD's).
#
#   perf/train/delay_compare.sh [-n 8] [--epochs 10] [--tau 12] [--lrs "0.01 0.02 0.05 0.1"]
#                               [--seeds "0 1 2"] [--delay-us D] [-B build/release]
#                               [--out perf/train/results/delay] [--quick]
#
# 1. D: unless --delay-us gives it, D = 0.8 x tau x t_c, where t_c is the compute time per step of
#    Local SGD without delay: its wall time per step less its blocking averaging time per step
#    (median of 2 runs of 300 steps, lr 0.05, seed 0). The anchor AllReduce can only hide behind
#    the tau steps' computation (ALGORITHMS.md §3: hidden while t_allreduce <= tau x t_step); with 8
#    ranks on 2 cores Local SGD's own averaging is about 30% of its step time, so timing.sh's
#    D = 0.8 x tau x (the whole step time) is about 1.2 x tau x t_c.
# 2. Candidates, all with delay D on every training collective of every rank (CollOptions::delay):
#      localD       Local SGD, tau
#      overlapD     Overlap Local-SGD, tau, alpha 0.6, gmf 0.7 (the paper's momentum variant)
#      overlapD_g0  Overlap Local-SGD, tau, alpha 0.6, gmf 0 (compare.sh's overlap)
#    Each candidate's learning rate is tuned on seed 0 over --lrs by the lowest final full training
#    loss (the averaged model's mean loss over the whole training set, as compare.sh), then every
#    other seed of --seeds runs at that rate. These "curve" runs evaluate every quarter epoch (at a
#    divisor of the epoch's steps) with --eval-full-loss.
# 3. Time: "timing" runs of the same configurations evaluate only at the end and log the training
#    clock after every step (--wall-csv). Evaluation pauses the clock but not an AllReduce in flight,
#    so in a curve run every evaluation would hide part of Overlap's delay; the timing runs have no
#    pauses. Per seed, in an order rotated by seed: local (no delay, at localD's learning rate),
#    localD and every Overlap candidate. The training is deterministic given the seed (the delay
#    changes when, not what), so a timing run's final loss equals its curve run's (checked).
#    Ratios: overlap+D / local and local+D / local, local+D's extra time per step / (D/tau), and
#    D / (tau x t) and D / (tau x t_c) for that local run (t: its step time; t_c: its computing).
# 4. Loss against wall time: each curve run's rows (step, full training loss, test accuracy) are
#    placed at the wall time its timing run reached after that step (csv/wall_<cand>_s<seed>.csv).
#    Per seed and per Overlap candidate, T = the Overlap timing run's wall time; at 25%, 50%, 75%
#    and 100% of T, the full training loss of the Overlap run and of localD, each linearly
#    interpolated between rows, and which is lower.
# Output (--out): csv/<run>.csv (curve runs), csv/time_<run>.csv and .wall.csv (timing runs),
# csv/wall_<cand>_s<seed>.csv (the joined curves), log/<run>.log, runs.tsv (one summary line per
# curve run), timing.tsv, table.md (all of the above) and vs_wall_delay.png (full training loss
# and test accuracy against wall time, every seed; gnuplot). --quick: 4 ranks, 1 epoch on 16000
# images, 2 learning rates, seeds 0 1: a smoke test of the pipeline, not a result. Every run is
# bounded by a timeout; ranks talk over 127.0.0.1 only (tidalrun). Exit status 1 when a run failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. perf/lib.sh  # median, val, need_bins, best_lr

ranks=8
epochs=10
tau=12
lrs="0.01 0.02 0.05 0.1"
seeds="0 1 2"
delay_us=""
build="build/release"
out="perf/train/results/delay"
quick=0
extra=""
usage() { sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --tau) tau="$2"; shift 2 ;;
    --lrs) lrs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --delay-us) delay_us="$2"; shift 2 ;;
    -B|--build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) usage ;;
    *) echo "delay_compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
train_items=60000
if [ "$quick" = 1 ]; then
  ranks=4
  epochs=1
  lrs="0.02 0.05"
  seeds="0 1"
  train_items=16000
  extra="--train-subset 16000 --test-subset 2000"
  [ "$out" = "perf/train/results/delay" ] && out="/tmp/tidal_train_delay_quick"
fi

bin="$build/bin"
need_bins "$bin" tidalrun train
mkdir -p "$out/csv" "$out/log"
: > "$out/runs.tsv"
timeout_s=$(( 600 + 120 * epochs ))
steps_per_epoch=$(( train_items / ranks / 32 ))
total_steps=$(( steps_per_epoch * epochs ))
eval_every=$(( steps_per_epoch / 4 > 0 ? steps_per_epoch / 4 : 1 ))
while [ $(( steps_per_epoch % eval_every )) -ne 0 ]; do eval_every=$(( eval_every - 1 )); done
failed=0

# tc < summary line: "<ms per step> <computing ms per step>", the latter = ms_per_step less the
# blocking communication per step (blocking_comm_ms is per round; Local SGD blocks every round).
tc() {
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         if (v["steps"] > 0) printf "%.4f %.4f", v["ms_per_step"], v["ms_per_step"] - v["blocking_comm_ms"] * v["rounds"] / v["steps"] }'
}

# run <name> <args...>: one training run; prints its summary line (nothing when it failed; called
# in $(...), so the caller records the failure).
run() {
  local name="$1"; shift
  local log="$out/log/$name.log"
  # shellcheck disable=SC2086
  if timeout "$timeout_s" "$bin/tidalrun" -n "$ranks" --timeout "$timeout_s" "$bin/train" \
      --tau "$tau" --quiet --csv "$out/csv/$name.csv" $extra "$@" > "$log" 2>&1; then
    grep -o 'summary .*' "$log" | tail -1
  else
    echo "delay_compare.sh: run $name failed (see $log)" >&2
  fi
}

echo "== D: $ranks ranks, tau $tau"
if [ -z "$delay_us" ]; then
  p1=$(run probe1 --algo local --lr 0.05 --seed 0 --steps 300 --eval-every 300 | tc)
  p2=$(run probe2 --algo local --lr 0.05 --seed 0 --steps 300 --eval-every 300 | tc)
  if [ -z "$p1" ] || [ -z "$p2" ]; then
    echo "delay_compare.sh: the step-time probe failed" >&2
    exit 1
  fi
  t_step=$(printf '%s\n%s\n' "${p1% *}" "${p2% *}" | median)
  t_comp=$(printf '%s\n%s\n' "${p1#* }" "${p2#* }" | median)
  delay_us=$(awk -v t="$t_comp" -v tau="$tau" 'BEGIN { printf "%d", 0.8 * tau * t * 1000 }')
  echo "   Local SGD: t = $t_step ms per step, t_c = $t_comp ms of it computing (runs: $p1 / $p2);"
  echo "   D = 0.8 x tau x t_c = $delay_us us"
else
  echo "   D = $delay_us us (--delay-us)"
fi

declare -A cand_args=(
  [localD]="--algo local"
  [overlapD]="--algo overlap --alpha 0.6 --gmf 0.7"
  [overlapD_g0]="--algo overlap --alpha 0.6 --gmf 0"
)
cands="localD overlapD overlapD_g0"
overlaps="overlapD overlapD_g0"

curve() {  # curve <cand> <lr> <seed>: a loss-curve run
  local cand="$1" lr="$2" seed="$3" line
  # shellcheck disable=SC2086
  line=$(run "${cand}_lr${lr}_s${seed}" ${cand_args[$cand]} --delay-us "$delay_us" --lr "$lr" \
    --seed "$seed" --epochs "$epochs" --eval-every "$eval_every" --eval-full-loss)
  if [ -z "$line" ]; then failed=1; return 0; fi
  printf '%s\t%s\t%s\t%s\n' "$cand" "$lr" "$seed" "$line" >> "$out/runs.tsv"
  printf '  %-12s lr %-5s seed %s: %s\n' "$cand" "$lr" "$seed" \
    "$(echo "$line" | grep -o 'full_train_loss=[^ ]*\|test_acc=[^ ]*\|ms_per_step=[^ ]*' | tr '\n' ' ')"
}

echo "== tuning on seed 0: $epochs epochs, lr in {$lrs}, evaluation every $eval_every steps"
for lr in $lrs; do
  for cand in $cands; do curve "$cand" "$lr" 0; done
done
declare -A best_lr
for cand in $cands; do
  best_lr[$cand]=$(best_lr "$out/runs.tsv" "$cand")
  echo "  $cand: lr ${best_lr[$cand]:-none}"
done
if [ -z "${best_lr[localD]}" ]; then
  echo "delay_compare.sh: no localD run succeeded" >&2
  exit 1
fi

echo "== seeds {$seeds} at each candidate's learning rate"
for seed in $seeds; do
  [ "$seed" = 0 ] && continue
  for cand in $cands; do
    [ -n "${best_lr[$cand]}" ] && curve "$cand" "${best_lr[$cand]}" "$seed"
  done
done

echo "== time per step: evaluation only at the end"
: > "$out/timing.tsv"
read -r -a tnames <<< "local localD $overlaps"
k=0
for seed in $seeds; do
  for ((j = 0; j < ${#tnames[@]}; j++)); do
    name="${tnames[$(( (j + k) % ${#tnames[@]} ))]}"
    if [ "$name" = local ]; then
      lr="${best_lr[localD]}"; args="--algo local"
    else
      lr="${best_lr[$name]}"; args="${cand_args[$name]} --delay-us $delay_us"
      [ -z "$lr" ] && continue
    fi
    # shellcheck disable=SC2086
    line=$(run "time_${name}_s${seed}" $args --lr "$lr" --seed "$seed" --epochs "$epochs" \
      --eval-every "$total_steps" --wall-csv "$out/csv/time_${name}_s${seed}.wall.csv")
    if [ -z "$line" ]; then failed=1; continue; fi
    ms=$(echo "$line" | val ms_per_step)
    loss=$(echo "$line" | val full_train_loss)
    # seed, run, ms/step, final full loss, exposed comm ms per round, computing ms per step
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$seed" "$name" "$ms" "$loss" "$(echo "$line" | val exposed_comm_ms)" \
      "$(echo "$line" | tc | cut -d' ' -f2)" >> "$out/timing.tsv"
    printf '  seed %s %-12s %s ms/step, final full train loss %s (exposed comm %s ms per round)\n' \
      "$seed" "$name" "$ms" "$loss" "$(echo "$line" | val exposed_comm_ms)"
  done
  k=$(( k + 1 ))
done

# join <curve csv> <wall csv> > joined: step,wall_s,full_train_loss,test_acc, the curve run's rows
# at the timing run's wall time after the same step.
join_wall() {
  awk -F, 'FNR == NR { if ($1 ~ /^[0-9]/) w[$1] = $2; next }
    FNR == 1 { print "step,wall_s,full_train_loss,test_acc" }
    $1 ~ /^[0-9]/ && ($1 in w) { printf "%s,%s,%s,%s\n", $1, w[$1], $7, $5 }' "$2" "$1"
}
# interp <joined csv> <column> <t>: the column linearly interpolated in wall time (column 2) at t;
# "-" outside the rows' span.
interp() {
  awk -F, -v c="$2" -v t="$3" '$1 ~ /^[0-9]/ && $c != "" {
      if ($2 >= t && !done) { if (n == 0) { r = ($2 == t) ? $c : "-" }
                              else { r = pw == $2 ? $c : pl + ($c - pl) * (t - pw) / ($2 - pw) }
                              done = 1 }
      pw = $2; pl = $c; n++ }
    END { print (done ? r : "-") }' "$1"
}
last_wall() { awk -F, '$1 ~ /^[0-9]/ { w = $2 } END { print w }' "$1"; }
joined() { echo "$out/csv/wall_${1}_s${2}.csv"; }  # joined <cand> <seed>

for cand in $cands; do
  lr="${best_lr[$cand]:-}"
  [ -z "$lr" ] && continue
  for seed in $seeds; do
    c="$out/csv/${cand}_lr${lr}_s${seed}.csv" w="$out/csv/time_${cand}_s${seed}.wall.csv"
    if [ -f "$c" ] && [ -f "$w" ]; then join_wall "$c" "$w" > "$(joined "$cand" "$seed")"; fi
  done
done

{
  echo "Fashion-MNIST MLP 784-256-128-10, $ranks ranks, $epochs epochs ($total_steps steps), batch 32/rank,"
  echo "momentum 0.9, tau $tau; D = $delay_us us on every training collective of every rank"
  if [ -n "${t_comp:-}" ]; then
    echo "(0.8 x tau x t_c: Local SGD's step time $t_step ms, of which computing t_c = $t_comp ms)."
  else
    echo "(--delay-us)."
  fi
  echo "lr tuned on seed 0 over {$lrs} by final full training loss; seeds {$seeds}."
  echo "Machine load (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "Final, at equal steps: full training loss and test accuracy of the averaged model (curve"
  echo "run); training wall time and ms/step of the timing run; the timing run's final loss (the same"
  echo "training, so the same loss)."
  echo
  echo "| run | lr | seed | full train loss | test acc | wall s | ms/step | timing run's loss |"
  echo "|---|---|---|---|---|---|---|---|"
  for cand in $cands; do
    lr="${best_lr[$cand]:-}"
    [ -z "$lr" ] && continue
    # timing.tsv: seed, run, ms/step, final full loss, exposed comm ms; runs.tsv: cand, lr, seed, summary
    awk -F'\t' -v c="$cand" -v lr="$lr" -v steps="$total_steps" '
      function v(s, k) { if (match(s, k "=[^ ]*")) return substr(s, RSTART + length(k) + 1, RLENGTH - length(k) - 1); return "" }
      FNR == NR { if ($2 == c) { ms[$1] = $3; tl[$1] = $4 } next }
      $1 == c && $2 == lr {
        t = ($3 in ms)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c, lr, $3, v($4, "full_train_loss"), v($4, "test_acc"),
          t ? sprintf("%.2f", ms[$3] * steps / 1000) : "-", t ? ms[$3] : "-", t ? tl[$3] : "-" }' \
      "$out/timing.tsv" "$out/runs.tsv"
  done
  echo
  echo "Time per step (timing runs; claim: overlap+D / local <= 1.1 while D <= tau x step time, local+D"
  echo "pays about D/tau per step; t_c: local's step time less its blocking averaging):"
  echo
  echo "| seed | local ms/step (t) | computing (t_c) | D / (tau x t) | D / (tau x t_c) | local+D | $(for ov in $overlaps; do printf '%s | ' "$ov"; done)local+D / local | extra / (D/tau) | $(for ov in $overlaps; do printf '%s / local | ' "$ov"; done)"
  echo "|---|---|---|---|---|---|$(for ov in $overlaps; do printf -- '---|'; done)---|---|$(for ov in $overlaps; do printf -- '---|'; done)"
  for seed in $seeds; do
    awk -F'\t' -v s="$seed" -v D="$delay_us" -v tau="$tau" -v ovs="$overlaps" '
      $1 == s { ms[$2] = $3; tc[$2] = $6 }
      END {
        if (!("local" in ms) || !("localD" in ms)) exit
        no = split(ovs, ov, " ")
        line = sprintf("| %s | %.3f | %.3f | %.2f | %.2f | %.3f |", s, ms["local"], tc["local"], D / 1000 / (tau * ms["local"]),
                       D / 1000 / (tau * tc["local"]), ms["localD"])
        for (i = 1; i <= no; i++) line = line sprintf(" %s |", (ov[i] in ms) ? sprintf("%.3f", ms[ov[i]]) : "-")
        line = line sprintf(" %.3f | %.2f |", ms["localD"] / ms["local"], (ms["localD"] - ms["local"]) / (D / 1000 / tau))
        for (i = 1; i <= no; i++) line = line sprintf(" %s |", (ov[i] in ms) ? sprintf("%.3f", ms[ov[i]] / ms["local"]) : "-")
        print line
      }' "$out/timing.tsv"
  done
  echo
  echo "Loss against wall time: full training loss at fractions of the Overlap timing run's wall time"
  echo "T (curve-run losses at timing-run wall times, linear interpolation); lower in bold."
  echo
  echo "| overlap run | seed | T (s) | at | t (s) | overlap+D | local+D | lower |"
  echo "|---|---|---|---|---|---|---|---|"
  for ov in $overlaps; do
    [ -z "${best_lr[$ov]:-}" ] && continue
    for seed in $seeds; do
      ojs="$(joined "$ov" "$seed")" ljs="$(joined localD "$seed")"
      if [ ! -f "$ojs" ] || [ ! -f "$ljs" ]; then continue; fi
      T=$(last_wall "$ojs")
      for f in 0.25 0.5 0.75 1; do
        t="$T"
        [ "$f" = 1 ] || t=$(awk -v T="$T" -v f="$f" 'BEGIN { printf "%.5f", T * f }')
        lo=$(interp "$ojs" 3 "$t")
        ll=$(interp "$ljs" 3 "$t")
        awk -v ov="$ov" -v s="$seed" -v T="$T" -v f="$f" -v t="$t" -v lo="$lo" -v ll="$ll" 'BEGIN {
          w = (lo == "-" || ll == "-") ? "-" : (lo + 0 < ll + 0 ? "overlap" : "local")
          a = (lo == "-") ? "-" : sprintf("%.4f", lo); b = (ll == "-") ? "-" : sprintf("%.4f", ll)
          if (w == "overlap") a = "**" a "**"; if (w == "local") b = "**" b "**"
          printf "| %s | %s | %.2f | %d%% | %.2f | %s | %s | %s |\n", ov, s, T, f * 100, t, a, b, w }'
      done
    done
  done
} > "$out/table.md"
echo
cat "$out/table.md"

if command -v gnuplot > /dev/null; then
  plot_cmd() {  # plot_cmd <y column of the joined csv>
    local sep="" cmd="plot " dt=1
    for seed in $seeds; do
      for cand in $cands; do
        local csv
        csv="$(joined "$cand" "$seed")"
        [ -f "$csv" ] || continue
        local lc=1
        [ "$cand" = overlapD ] && lc=2
        [ "$cand" = overlapD_g0 ] && lc=3
        cmd+="$sep'$csv' using 2:$1 with linespoints lc $lc dt $dt pt 7 ps 0.3 title '$cand lr ${best_lr[$cand]} s$seed'"
        sep=", "
      done
      dt=$(( dt + 1 ))
    done
    echo "$cmd"
  }
  gnuplot <<GP || echo "delay_compare.sh: gnuplot failed" >&2
set terminal pngcairo size 1200,500 font ",10" noenhanced
set output '$out/vs_wall_delay.png'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 1,2 title 'Fashion-MNIST MLP, $ranks ranks, tau $tau, delay $delay_us us on every collective (wall time of the timing runs)'
set grid
set xlabel 'wall time (s, training only)'
set ylabel 'full training loss (averaged model)'
set logscale y
set key top right
$(plot_cmd 3)
unset logscale y
set ylabel 'test accuracy (averaged model)'
set key bottom right
$(plot_cmd 4)
unset multiplot
GP
  echo "plot: $out/vs_wall_delay.png"
fi
exit "$failed"
