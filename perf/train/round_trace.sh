#!/usr/bin/env bash
# round_trace.sh: where Overlap Local-SGD's time per round goes, from the per-rank timelines that
# `train --algo overlap --round-trace FILE` writes (FILE.0, FILE.1, ...).
#
#   perf/train/round_trace.sh FILE DELAY_US
#
# Per round k (skipping the first and last two), over the ranks, with D = DELAY_US:
#   period      last issue of round k - last issue of round k-1: the time per round every rank
#               ends up paying (ms/step = period / tau)
#   issue skew  last issue - first issue of round k (the anchor AllReduce starts when the last
#               rank's delayed start comes, last issue + D)
#   anchor      last rank's finish - (last issue + D): the AllReduce itself once every rank may
#               start it ("issue" is when AfterLocalStep returned, after the CPU hand-over of
#               TIDAL_OVERLAP_YIELD when on, so the AllReduce may have started before it and
#               anchor reads low, even below 0)
#   wake        for ranks that waited: their return from the sync - the anchor's finish on their
#               progress thread (the trainer thread's wake-up latency, plus the pull-back)
# Prints the medians (and 90th percentiles) in ms. With D close to tau x t, period is about
# D + issue skew + anchor: whatever the ranks' own scheduling spreads out adds to the delay.
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
trace="$1"
delay_us="$2"
files=("$trace".*)
[ -e "${files[0]}" ] || { echo "round_trace.sh: no $trace.<rank> files" >&2; exit 1; }

awk -F, -v D="$delay_us" '
  FNR == 1 { rank = nranks++; next }
  {
    k = $1; arrive[k, rank] = $2; issued[k, rank] = $3; fin[k, rank] = $4
    if (k > maxk) maxk = k
  }
  function pct(a, n, p,    i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return a[int((n - 1) * p) + 1]
  }
  END {
    np = ns = na = nw = 0
    for (k = 2; k <= maxk - 2; k++) {
      lo = hi = issued[k, 0]; prev = issued[k - 1, 0]; last = fin[k, 0]
      for (r = 1; r < nranks; r++) {
        if (issued[k, r] < lo) lo = issued[k, r]
        if (issued[k, r] > hi) hi = issued[k, r]
        if (issued[k - 1, r] > prev) prev = issued[k - 1, r]
        if (fin[k, r] > last) last = fin[k, r]
      }
      period[++np] = (hi - prev) / 1000; skew[++ns] = (hi - lo) / 1000
      anchor[++na] = (last - hi - D) / 1000
      for (r = 0; r < nranks; r++) {
        if (arrive[k, r] < fin[k - 1, r]) wake[++nw] = (issued[k, r] - fin[k - 1, r]) / 1000
      }
    }
    if (np == 0) { print "round_trace.sh: fewer than 5 rounds" > "/dev/stderr"; exit 1 }
    printf "ranks %d, rounds %d (of %d), D %.1f ms; median / p90 in ms:\n", nranks, np, maxk + 1, D / 1000
    printf "  period      %7.2f / %7.2f\n", pct(period, np, 0.5), pct(period, np, 0.9)
    printf "  issue skew  %7.2f / %7.2f\n", pct(skew, ns, 0.5), pct(skew, ns, 0.9)
    printf "  anchor      %7.2f / %7.2f\n", pct(anchor, na, 0.5), pct(anchor, na, 0.9)
    if (nw > 0) printf "  wake        %7.2f / %7.2f  (%d rank-rounds waited)\n", pct(wake, nw, 0.5), pct(wake, nw, 0.9), nw
  }' "${files[@]}"
