#!/usr/bin/env bash
# ranks_scaling.sh: how tidal's AllReduce time grows when ranks outnumber the cores. Runs
# all_reduce_perf (fp32 sum, blocking, sizes 4 B .. 64 MiB by 4x) at -n A and -n B ranks in
# interleaved rounds (A B A B ...: this machine's shared-memory bandwidth swings several-fold
# within seconds) and prints, per size, the median in-place time of each and the median over
# rounds of the per-round ratio B / A (issue 5's bound: 8 ranks within 3x of 4 on 2 cores).
#
#   perf/ranks_scaling.sh [-B build/release] [-a 4] [-b 8] [-r 7] [-e 67108864] [-n 100]
#                         [-o raw-output-file]
#
# Extra environment (TIDAL_SHM_REDUCER=every, ...) applies to both. Every run is bounded by a
# timeout and stays on this host (tidalrun: 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

build="build/release"
a=4
b=8
rounds=7
max_bytes=67108864
iters=100
raw=""
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -B) build="$2"; shift 2 ;;
    -a) a="$2"; shift 2 ;;
    -b) b="$2"; shift 2 ;;
    -r) rounds="$2"; shift 2 ;;
    -e) max_bytes="$2"; shift 2 ;;
    -n) iters="$2"; shift 2 ;;
    -o) raw="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[ -x "$build/bin/all_reduce_perf" ] || { echo "no $build/bin/all_reduce_perf: build first" >&2; exit 1; }
[ -n "$raw" ] || raw="$(mktemp /tmp/tidal_ranks_scaling.XXXXXX)"

{
  echo "# tidalrun -n {$a,$b} all_reduce_perf -b 4 -e $max_bytes -f 4 -N -c 1 -n $iters -w 10" \
       "-d float -o sum; columns: size, out-of-place us, in-place us; $(date -u +%FT%TZ)"
  for round in $(seq 1 "$rounds"); do
    for n in "$a" "$b"; do
      echo "== round $round n=$n $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
      timeout 300 "$build/bin/tidalrun" -n "$n" "$build/bin/all_reduce_perf" -b 4 -e "$max_bytes" \
        -f 4 -N -c 1 -n "$iters" -w 10 -d float -o sum 2>&1 |
        awk '$1 == "[0]" && $2 ~ /^[0-9]+$/ { print $2, $7, $(NF - 3) }'
    done
  done
} > "$raw"

python3 - "$raw" "$a" "$b" <<'EOF'
import collections, re, statistics, sys
path, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = collections.defaultdict(dict)  # (round, n) -> size -> in-place us
key = None
for line in open(path):
    m = re.match(r"== round (\d+) n=(\d+)", line)
    if m:
        key = (int(m.group(1)), int(m.group(2)))
        continue
    f = line.split()
    if key and len(f) == 3 and not line.startswith("#"):
        times[key][int(f[0])] = float(f[2])
rounds = sorted({r for r, _ in times})
sizes = sorted(set.intersection(*(set(v) for v in times.values()))) if times else []
if not sizes:
    sys.exit("no complete results in " + path)
print(f"raw output: {path}")
print(f"{'bytes':>10} {f'{a} ranks us':>12} {f'{b} ranks us':>12} {'ratio':>6}  per round")
for s in sizes:
    ratios = [times[(r, b)][s] / times[(r, a)][s] for r in rounds]
    ta = statistics.median(times[(r, a)][s] for r in rounds)
    tb = statistics.median(times[(r, b)][s] for r in rounds)
    print(f"{s:>10} {ta:>12.2f} {tb:>12.2f} {statistics.median(ratios):>6.2f}  "
          + " ".join(f"{x:.2f}" for x in ratios))
EOF
