#!/usr/bin/env bash
# compare_p2p.sh: tidal's p2p_perf against UCX's own ucx_perftest -t tag_bw, on loopback, at one
# message size (default 64 MiB), per UCX transport set. The two run interleaved (A B A B ...) in
# short rounds because this machine's shared-memory bandwidth swings several-fold within seconds;
# the figure of merit is the median over rounds of the per-round ratio tidal / ucx_perftest.
#
#   perf/compare_p2p.sh [-B build/release] [-s 67108864] [-r 7] [-n 20] [-w 3]
#                       [-t "default sm,self tcp,self"] [-m 0.8]
#
# Units: p2p_perf's bw column is GB/s = 1e9 bytes/s. ucx_perftest's "bandwidth (MB/s)" is MiB/s
# (bytes / 2^20, libperf's print_progress), converted here to GB/s as MB/s * 1048576 / 1e9.
# Both move the same bytes: -n messages of -s bytes, one sender, one receiver, same UCX_TLS
# ("default" leaves UCX_TLS unset); UCX_NET_DEVICES=lo keeps network transports on loopback.
# Every process is bounded by a timeout. Exit status: 0, or 1 when a run fails or a transport's
# median ratio is below -m (default 0: report only).
set -euo pipefail

build="build/release"
size=67108864
rounds=7
iters=20
warmup=3
transports="default sm,self tcp,self"
min_ratio=0
while getopts "B:s:r:n:w:t:m:h" opt; do
  case "$opt" in
    B) build="$OPTARG" ;;
    s) size="$OPTARG" ;;
    r) rounds="$OPTARG" ;;
    n) iters="$OPTARG" ;;
    w) warmup="$OPTARG" ;;
    t) transports="$OPTARG" ;;
    m) min_ratio="$OPTARG" ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
. perf/lib.sh  # median, val, need_bins
need_bins "$build/bin" tidalrun p2p_perf
if ! command -v ucx_perftest >/dev/null 2>&1; then
  echo "compare_p2p: installing ucx-utils (ucx_perftest)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get install -y ucx-utils >&2
fi

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

# Runs a command with the UCX environment of transport set $1.
with_tls() {
  local tls="$1"
  shift
  if [ "$tls" = default ]; then
    env -u UCX_TLS UCX_NET_DEVICES=lo "$@"
  else
    env UCX_TLS="$tls" UCX_NET_DEVICES=lo "$@"
  fi
}

# Prints p2p_perf's bandwidth in GB/s.
run_tidal() {
  local tls="$1" out="$log/tidal.out"
  if ! with_tls "$tls" timeout 120 "$build/bin/tidalrun" -n 2 --timeout 90 "$build/bin/p2p_perf" \
      -b "$size" -e "$size" -n "$iters" -w "$warmup" -c 0 --tests bw >"$out" 2>&1; then
    echo "compare_p2p: p2p_perf failed (UCX_TLS=$tls):" >&2
    cat "$out" >&2
    return 1
  fi
  # Row: "[0] size count type bw_iters bw(GB/s) ...".
  awk -v size="$size" '$1 == "[0]" && $2 == size { print $6; found = 1 } END { exit !found }' \
      "$out"
}

# Waits (at most 5 s) until something listens on TCP port $1.
wait_listening() {
  for _ in $(seq 50); do
    if ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Prints ucx_perftest tag_bw's bandwidth in GB/s (converted from its MiB/s).
run_ucx() {
  local tls="$1" out="$log/ucx.out" port server
  port=$((20000 + RANDOM % 20000))
  with_tls "$tls" timeout 90 ucx_perftest -t tag_bw -s "$size" -n "$iters" -w "$warmup" \
      -p "$port" >"$log/ucx_server.out" 2>&1 &
  server=$!
  if ! wait_listening "$port" ||
      ! with_tls "$tls" timeout 90 ucx_perftest 127.0.0.1 -p "$port" -t tag_bw -s "$size" \
          -n "$iters" -w "$warmup" -f -v >"$out" 2>&1; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    echo "compare_p2p: ucx_perftest failed (UCX_TLS=$tls):" >&2
    cat "$out" "$log/ucx_server.out" >&2 2>/dev/null || true
    return 1
  fi
  wait "$server" || true
  # CSV: iterations,50.0_percentile_lat,avg_lat,overall_lat,avg_bw,overall_bw,avg_mr,overall_mr
  awk -F, '$1 ~ /^ *[0-9]+$/ { printf "%.4f\n", $6 * 1048576 / 1e9; found = 1 }
           END { exit !found }' "$out"
}


echo "# compare_p2p: $size-byte tag bandwidth, tidal p2p_perf vs ucx_perftest -t tag_bw," \
     "$rounds interleaved rounds of $iters messages ($warmup warm-up) per transport set"
echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) CPUs, UCX $(ucx_info -v 2>/dev/null | sed -n "s/^# Version //p")"
printf "%-10s %5s %12s %12s %8s\n" "UCX_TLS" "round" "tidal(GB/s)" "ucx(GB/s)" "ratio"
status=0
summary=""
for tls in $transports; do
  : >"$log/t" && : >"$log/u" && : >"$log/r"
  for round in $(seq "$rounds"); do
    t=$(run_tidal "$tls") || exit 1
    u=$(run_ucx "$tls") || exit 1
    r=$(awk -v t="$t" -v u="$u" 'BEGIN { printf "%.3f", t / u }')
    printf "%-10s %5d %12.3f %12.3f %8s\n" "$tls" "$round" "$t" "$u" "$r"
    echo "$t" >>"$log/t" && echo "$u" >>"$log/u" && echo "$r" >>"$log/r"
  done
  tm=$(median <"$log/t") um=$(median <"$log/u") rm=$(median <"$log/r")
  summary+=$(printf "%-10s %14.3f %14.3f %13.3f\n" "$tls" "$tm" "$um" "$rm")$'\n'
  if awk -v r="$rm" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then status=1; fi
done
echo "#"
printf "%-10s %14s %14s %13s\n" "UCX_TLS" "tidal_median" "ucx_median" "median_ratio"
printf "%s" "$summary"
if [ "$status" != 0 ]; then echo "# FAILED: a median ratio is below $min_ratio" >&2; fi
exit "$status"
