// The command line of the collective perf tools: nccl-tests' flags and defaults, plus tidal's
// -A/--algo and -N/--blocking, resolved into the sizes, types, ops and roots to run.
//
//   -b,--minbytes 32M   -e,--maxbytes 32M   -f,--stepfactor F | -i,--stepbytes 1M (sizes take
//   K, M, G suffixes, powers of 1024)   -n,--iters 20   -w,--warmup_iters 5   -c,--check 1
//   -o,--op sum|prod|min|max|avg|all   -d,--datatype float|double|half|bfloat16|int8|uint8|int32|
//   int64|all (and tidal's aliases)   -r,--root 0|all (-1: all)   -a,--average 0..3 (rank 0, avg,
//   min, max over ranks)   -z 0|1   -T,--timeout S   -J,--output_file out.json   -t,--nthreads 1
//   -g,--ngpus 1   (tidal) -A,--algo auto|ring|direct|chain|pairwise|shm   -N,--blocking (= -z 1:
//   wait for each operation, then a barrier)
// Sizes step by -i when it is given, else by -f when it is above 1, else by 1M (nccl-tests).
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "coll_perf/colls.h"
#include "tidal/coll/algorithm.h"
#include "tidal/coll/types.h"
#include "tidal/core/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tidal::perf {

struct Flags {
  std::string min_bytes = "32M";
  std::string max_bytes = "32M";
  double step_factor = 1;
  std::string step_bytes;  // set: additive steps
  int iters = 20;
  int warmup = 5;
  int check = 1;
  std::string op = "sum";
  std::string datatype = "float";
  std::string root = "0";
  int average = 1;
  int blocking_z = 0;  // nccl-tests' -z 0|1
  bool blocking = false;
  std::string algo = "auto";
  double timeout_s = 0;  // 0: TIDAL_TIMEOUT_MS
  std::string json_path;
  int nthreads = 1;
  int ngpus = 1;
};

// The flags, resolved once the world size is known.
struct Plan {
  size_t min_bytes = 0;
  size_t max_bytes = 0;
  std::optional<size_t> step_bytes;  // else step_factor
  double step_factor = 1;
  std::vector<size_t> sizes;
  std::vector<coll::DataType> types;
  std::vector<coll::ReduceOp> ops;
  std::vector<int> roots;  // {-1} for unrooted collectives
  coll::Algorithm algorithm = coll::Algorithm::kAuto;
  bool blocking = false;
};

void AddFlags(CLI::App& app, Flags& flags);

// "64M" -> 67108864; "1.5K" -> 1536. kInvalidArgument naming `what` otherwise.
Result<size_t> ParseSize(const std::string& text, const char* what);

// Everything that can be checked before joining the world (the same on every rank).
Result<Plan> ResolveFlags(const CollSpec& spec, const Flags& flags);
// The roots, once the world size is known: kInvalidArgument for a root out of range.
Status ResolveRoots(const CollSpec& spec, const Flags& flags, int n, Plan& plan);

}  // namespace tidal::perf
