# shellcheck shell=bash
# perf/lib.sh: small helpers the perf scripts share (sourced, from the repository root).
#   median            the median of the numbers on stdin, one per line ("nan" when there are none)
#   val KEY           the value of the first KEY=value word on stdin (the tools' summary lines)
#   need_bins DIR TOOL...  exits 1, naming the script and the tool, unless every DIR/TOOL is
#                     executable
median() { sort -g | awk '{ v[NR] = $1 }
  END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
val() { grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }
need_bins() {
  local dir="$1" tool; shift
  for tool in "$@"; do
    if [ ! -x "$dir/$tool" ]; then
      echo "$(basename "$0"): $dir/$tool missing (build it: tools/build.sh release, or pass the" \
        "build directory with -B)$([ "$tool" = train ] && echo '; train needs libopenblas-dev')" >&2
      exit 1
    fi
  done
}
