#!/usr/bin/env bash
# compare.sh: tidal's AllReduce beside Open MPI's MPI_Allreduce and Gloo's ring AllReduce on this
# host, fp32 sum, in place, per rank count and size. The peers run interleaved in short rounds
# (round 1: tidal ompi ompi_yield ompi_ucx gloo, round 2 starts one peer later, ...) because this
# machine's shared-memory bandwidth swings several-fold within seconds; the figure of merit is the
# median over rounds of the per-round ratio tidal / peer.
#
#   perf/compare.sh [-B|--build build/release] [-n|--ranks "2 4"] [-r|--rounds 5]
#                   [-s|--sizes "4 4096 1048576 67108864 268435456"] [-p|--peers "PEER..."]
#                   [-V|--volume 268435456] [-i|--max-iters 200] [-m|--min-ratio 0]
#                   [--peers-dir build/peers] [--no-install]
#
# Peers (-p; default "tidal ompi ompi_yield ompi_ucx gloo memcpy"):
#   tidal       tidalrun -n N all_reduce_perf -N -b S -e S -d float -o sum (its in-place column;
#               algorithm auto; -N: the blocking AllReduce back to back, as the peers' blocking
#               MPI_Allreduce / gloo::allreduce calls are timed)
#   ompi        mpirun default: pml ob1, btl vader. Open MPI yields the CPU while waiting only when
#               it sees more ranks than CPUs (mpi_yield_when_idle defaults to 1 when oversubscribed),
#               so at 2 ranks on 2 CPUs it busy-polls and at 4 it yields; the table says which.
#   ompi_yield  ompi with --mca mpi_yield_when_idle 1 (skipped where ranks > CPUs: same as ompi)
#   ompi_ucx    --mca pml ucx (with pml_ucx_tls/devices "any": Open MPI 4.1 otherwise accepts UCX
#               only with an InfiniBand or RoCE device); ompi_ucx_yield adds the yield
#   gloo        gloo::allreduce, Algorithm::RING, tcp device on 127.0.0.1 (gloo_legacy: the older
#               gloo::AllreduceRing); ranks are separate processes started by tidalrun, which sets
#               TIDAL_RANK and TIDAL_WORLD_SIZE; they meet in a FileStore in a fresh directory
#   memcpy      the physical reference, not a competitor: n processes each memcpy the size at
#               once (perf/peers/memcpy_bench.c); its busbw column is one copy's GB/s and its
#               ratio is tidal busbw / that (the fraction of a plain copy's speed tidal reaches)
# Open MPI runs get --allow-run-as-root --oversubscribe. The peers' benchmarks are this
# repository's own (perf/peers/*; each prints "bytes count iters time_us busbw algbw wrong"); the
# script compiles them into --peers-dir when missing or older than their source, and installs
# openmpi-bin, libopenmpi-dev and libgloo-dev with apt-get when missing (unless --no-install).
#
# Every run of every peer: the same size, -V/size timed calls clamped to [3, -i] (warm-up: a quarter
# of that, 1..20), then one checked call on closed-form data (a wrong element fails the run).
# time = mean per call, averaged over ranks; algbw = bytes / time; busbw = algbw * 2(n-1)/n
# (nccl-tests), in GB/s = 1e9 B/s. ratio = peer time / tidal time = tidal busbw / peer busbw,
# so above 1 means tidal is faster. A run is bounded by a timeout; a failed run is reported and
# left out. Exit status: 0; 1 when a run failed, or when -m is given and tidal's median ratio
# against the best peer (the smallest median ratio) of some rank count and size is below it.
set -euo pipefail

build="build/release"
ranks="2 4"
sizes="4 4096 1048576 67108864 268435456"
rounds=5
peers="tidal ompi ompi_yield ompi_ucx gloo memcpy"
volume=268435456
max_iters=200
min_ratio=0
peers_dir="build/peers"
install=1
usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -B|--build) build="$2"; shift 2 ;;
    -n|--ranks) ranks="$2"; shift 2 ;;
    -s|--sizes) sizes="$2"; shift 2 ;;
    -r|--rounds) rounds="$2"; shift 2 ;;
    -p|--peers) peers="$2"; shift 2 ;;
    -V|--volume) volume="$2"; shift 2 ;;
    -i|--max-iters) max_iters="$2"; shift 2 ;;
    -m|--min-ratio) min_ratio="$2"; shift 2 ;;
    --peers-dir) peers_dir="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    *) usage ;;
  esac
done

cd "$(dirname "$0")/.."
. perf/lib.sh  # median, val, need_bins
need_bins "$build/bin" tidalrun all_reduce_perf
for peer in $peers; do
  case "$peer" in
    tidal|ompi|ompi_yield|ompi_ucx|ompi_ucx_yield|gloo|gloo_legacy|memcpy) ;;
    *) echo "compare: unknown peer '$peer'" >&2; exit 2 ;;
  esac
done
cpus=$(nproc)

# --- Dependencies and the peers' benchmarks ---

install_missing() {
  local missing=()
  command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
  command -v mpicc >/dev/null 2>&1 || missing+=(libopenmpi-dev)
  [ -f /usr/include/gloo/allreduce.h ] || missing+=(libgloo-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$install" = 0 ]; then
    echo "compare: missing ${missing[*]} (and --no-install)" >&2
    exit 1
  fi
  echo "compare: installing ${missing[*]}" >&2
  local sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { $sudo_cmd apt-get update >&2 &&
      $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

# Compiles source $2 into $1 with compiler $3 and the rest as flags (after the source, so that
# libraries link) when the binary is missing or older than the source.
build_peer() {
  local out="$1" src="$2" cc="$3"
  shift 3
  if [ -x "$out" ] && [ "$out" -nt "$src" ]; then return 0; fi
  echo "compare: compiling $out" >&2
  "$cc" "$src" -o "$out.tmp" "$@" && mv "$out.tmp" "$out"
}

install_missing
mkdir -p "$peers_dir"
mpi_bench="$peers_dir/mpi_allreduce_bench"
gloo_bench="$peers_dir/gloo_allreduce_bench"
memcpy_bench="$peers_dir/memcpy_bench"
build_peer "$mpi_bench" perf/peers/mpi_allreduce_bench.c mpicc -O2 -std=c11 -Wall -Wextra
build_peer "$gloo_bench" perf/peers/gloo_allreduce_bench.cc "${CXX:-c++}" -O2 -std=c++17 -Wall \
    -Wextra -pthread -lgloo
build_peer "$memcpy_bench" perf/peers/memcpy_bench.c "${CC:-cc}" -O2 -std=c11 -Wall -Wextra

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

# --- One run of one peer: prints "time_us busbw" of the in-place AllReduce, or fails ---

iters_for() { awk -v v="$volume" -v s="$1" -v m="$max_iters" \
    'BEGIN { i = int(v / (s > 0 ? s : 1)); if (i > m) i = m; if (i < 3) i = 3; print i }'; }
warmup_for() { awk -v i="$1" 'BEGIN { w = int(i / 4); if (w < 1) w = 1; if (w > 20) w = 20; print w }'; }
run_timeout() { awk -v s="$1" 'BEGIN { print 60 + int(s / 1048576) }'; }  # 316 s at 256 MiB

# Prints "time_us busbw" from a peer benchmark's row for size $2 in file $1.
peer_row() {
  awk -v size="$2" '$1 !~ /^#/ && $1 == size {
      if ($7 != 0) { print "wrong elements: " $7 > "/dev/stderr"; exit 1 }
      print $4, $5; found = 1 }
    END { exit !found }' "$1"
}

run_tidal() {
  local n="$1" size="$2" iters="$3" warmup="$4" out="$log/run.out" json="$log/run.json"
  rm -f "$json"
  timeout "$(run_timeout "$size")" "$build/bin/tidalrun" -n "$n" --timeout "$(run_timeout "$size")" \
      "$build/bin/all_reduce_perf" -b "$size" -e "$size" -d float -o sum -n "$iters" \
      -w "$warmup" -N -c 1 -J "$json" >"$out" 2>&1 || return 1
  python3 - "$json" "$size" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["rows"] if r["size"] == int(sys.argv[2])]
if not rows or rows[0]["in_place"]["wrong"] != 0 or rows[0]["out_of_place"]["wrong"] != 0:
    sys.exit("missing row or wrong elements")
print(rows[0]["in_place"]["time_us"], rows[0]["in_place"]["busbw"])
EOF
}

run_mpi() {
  local peer="$1" n="$2" size="$3" iters="$4" warmup="$5" out="$log/run.out"
  local mca=()
  case "$peer" in *ucx*) mca+=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any) ;; esac
  case "$peer" in *yield) mca+=(--mca mpi_yield_when_idle 1) ;; esac
  timeout "$(run_timeout "$size")" mpirun --allow-run-as-root --oversubscribe -np "$n" \
      "${mca[@]}" "$mpi_bench" -n "$iters" -w "$warmup" -c 1 "$size" >"$out" 2>&1 || return 1
  peer_row "$out" "$size"
}

run_gloo() {
  local peer="$1" n="$2" size="$3" iters="$4" warmup="$5" out="$log/run.out" store algo=ring
  [ "$peer" = gloo_legacy ] && algo=ring_legacy
  store=$(mktemp -d "$log/store.XXXXXX")
  timeout "$(run_timeout "$size")" "$build/bin/tidalrun" -n "$n" --no-tag-output \
      --timeout "$(run_timeout "$size")" "$gloo_bench" --store "$store" -a "$algo" -n "$iters" \
      -w "$warmup" -c 1 "$size" >"$out" 2>&1 || return 1
  rm -rf "$store"
  peer_row "$out" "$size"
}

run_memcpy() {
  local n="$1" size="$2" iters="$3" warmup="$4" out="$log/run.out"
  timeout "$(run_timeout "$size")" "$memcpy_bench" -p "$n" -n "$iters" -w "$warmup" "$size" \
      >"$out" 2>&1 || return 1
  peer_row "$out" "$size"
}

run_peer() {
  local peer="$1"
  shift
  case "$peer" in
    tidal) run_tidal "$@" ;;
    ompi*) run_mpi "$peer" "$@" ;;
    gloo*) run_gloo "$peer" "$@" ;;
    memcpy) run_memcpy "$@" ;;
  esac
}

# The peers that run at n ranks (ompi_yield is ompi itself when Open MPI already yields).
peers_at() {
  for peer in $peers; do
    if [ "$1" -gt "$cpus" ] && [[ "$peer" = ompi*_yield ]]; then continue; fi
    echo "$peer"
  done
}

# How an Open MPI peer waits at n ranks, for the table.
waits() {
  case "$1" in
    ompi*_yield) echo "yield" ;;
    ompi*) if [ "$2" -gt "$cpus" ]; then echo "yield(auto)"; else echo "poll"; fi ;;
    *) echo "-" ;;
  esac
}

human() { awk -v s="$1" 'BEGIN { if (s >= 1048576) printf "%gM", s / 1048576;
  else if (s >= 1024) printf "%gK", s / 1024; else printf "%g", s }'; }

# --- Rounds ---

echo "# compare: AllReduce fp32 sum in place, $rounds interleaved rounds; ranks: $ranks;" \
     "sizes: $sizes; peers: $peers"
echo "# $(date -u +%FT%TZ) $(uname -n), $cpus CPUs, load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$(mpirun --version 2>/dev/null | head -1);" \
     "gloo $(dpkg-query -W -f='${Version}' libgloo-dev 2>/dev/null || echo '?')"
echo "# per run: time_us/busbw_GBps (median table at the end)"
status=0
results="$log/results"  # lines: n size peer round time_us busbw
: >"$results"
for round in $(seq "$rounds"); do
  for n in $ranks; do
    mapfile -t order < <(peers_at "$n")
    shift_by=$(( (round - 1) % ${#order[@]} ))
    order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
    for size in $sizes; do
      iters=$(iters_for "$size")
      warmup=$(warmup_for "$iters")
      line=$(printf "round %d  n=%d  %6s  x%-4d" "$round" "$n" "$(human "$size")" "$iters")
      for peer in "${order[@]}"; do
        if result=$(run_peer "$peer" "$n" "$size" "$iters" "$warmup" 2>>"$log/run.out"); then
          echo "$n $size $peer $round $result" >>"$results"
          line+=$(awk -v p="$peer" -v t="${result% *}" -v b="${result#* }" \
              'BEGIN { printf "  %s %.1f/%.4g", p, t, b }')
        else
          echo "compare: $peer failed (n=$n, size=$size, round $round):" >&2
          tail -n 20 "$log/run.out" >&2
          line+="  $peer FAILED"
          status=1
        fi
      done
      echo "$line"
    done
  done
done

# --- Medians ---

echo "#"
echo "# medians over rounds; ratio = tidal/peer (peer time / tidal time; > 1: tidal faster);"
echo "# memcpy: busbw = one copy's GB/s with n processes copying at once, ratio = tidal busbw / it"
printf "%5s %8s  %-14s %-11s %10s %12s %9s %6s\n" "ranks" "bytes" "peer" "waits" "busbw_GBps" \
    "time_us" "ratio" "rounds"
for n in $ranks; do
  for size in $sizes; do
    worst=""
    for peer in $(peers_at "$n"); do
      mine="$log/$n.$size.$peer"
      awk -v n="$n" -v s="$size" -v p="$peer" '$1 == n && $2 == s && $3 == p' "$results" >"$mine"
      busbw=$(awk '{ print $6 }' "$mine" | median)
      time_us=$(awk '{ print $5 }' "$mine" | median)
      ratio="-"
      if [ "$peer" = memcpy ]; then
        # The reference: tidal's busbw over one copy's GB/s in the same round.
        ratio=$(awk -v n="$n" -v s="$size" 'NR == FNR { if ($1 == n && $2 == s && $3 == "tidal")
            t[$4] = $6; next } ($4 in t) && $6 > 0 { print t[$4] / $6 }' "$results" "$mine" |
            median)
      elif [ "$peer" != tidal ]; then
        # Per-round ratio where both tidal and the peer completed that round.
        ratio=$(awk -v n="$n" -v s="$size" 'NR == FNR { if ($1 == n && $2 == s && $3 == "tidal")
            t[$4] = $5; next } ($4 in t) { print $5 / t[$4] }' "$results" "$mine" | median)
        if [ "$ratio" != nan ] && { [ -z "$worst" ] ||
            awk -v a="$ratio" -v b="${worst% *}" 'BEGIN { exit !(a < b) }'; }; then
          worst="$ratio $peer"
        fi
      fi
      [ "$ratio" = - ] || ratio=$(printf "%.4g" "$ratio")
      printf "%5d %8s  %-14s %-11s %10.4g %12.1f %9s %6d\n" "$n" "$(human "$size")" "$peer" \
          "$(waits "$peer" "$n")" "$busbw" "$time_us" "$ratio" "$(wc -l <"$mine")"
    done
    if [ -n "$worst" ] && awk -v r="${worst% *}" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then
      echo "# BELOW -m $min_ratio: n=$n size=$size, tidal/${worst#* } = ${worst% *}" >&2
      status=1
    fi
  done
done
exit "$status"
