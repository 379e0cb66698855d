# shellcheck shell=bash
# perf/lib.sh: small helpers the perf scripts share (sourced, from the repository root).
#   median            the median of the numbers on stdin, one per line ("nan" when there are none)
#   val KEY           the value of the first KEY=value word on stdin (the tools' summary lines)
#   need_bins DIR TOOL...  exits 1, naming the script and the tool, unless every DIR/TOOL is
#                     executable
#   best_lr TSV CAND  the learning rate of CAND's seed-0 run with the lowest full_train_loss (ties:
#                     the higher test_acc) among the rows "cand<TAB>lr<TAB>seed<TAB>summary line"
#                     of TSV; empty when CAND has no such run with a number there
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
best_lr() {
  awk -F'\t' -v c="$2" '$1 == c && $3 == 0 {
      match($4, /full_train_loss=[^ ]*/); l = substr($4, RSTART + 16, RLENGTH - 16) + 0;
      match($4, /test_acc=[^ ]*/); a = substr($4, RSTART + 9, RLENGTH - 9) + 0;
      if (l == l && (best == "" || l < bl || (l == bl && a > ba))) { best = $2; bl = l; ba = a } }
      END { print best }' "$1"
}
