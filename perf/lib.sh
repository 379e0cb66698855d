# perf/lib.sh: small helpers the perf scripts share (sourced, from the repository root).
#   median            the median of the numbers on stdin, one per line ("nan" when there are none)
#   val KEY           the value of the first KEY=value word on stdin (the tools' summary lines)
median() { sort -g | awk '{ v[NR] = $1 }
  END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
val() { grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }
