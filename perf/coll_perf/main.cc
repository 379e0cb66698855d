// main() of one collective perf tool; perf/CMakeLists.txt compiles it once per tool with
// TIDAL_PERF_COLL set to that tool's PerfColl enumerator (kAllReduce, ...).
#include "coll_perf/coll_perf.h"

#ifndef TIDAL_PERF_COLL
#error "define TIDAL_PERF_COLL (e.g. kAllReduce)"
#endif

int main(int argc, char** argv) {
  return tidal::perf::CollPerfMain(tidal::perf::PerfColl::TIDAL_PERF_COLL, argc, argv);
}
