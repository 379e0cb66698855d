#include "coll_perf/options.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>

namespace tidal::perf {
namespace {

using coll::DataType;
using coll::ReduceOp;

// nccl-tests' order for -d all and -o all (tidal has no uint32/uint64).
constexpr DataType kAllTypes[] = {DataType::kInt8,    DataType::kUint8,   DataType::kInt32,
                                  DataType::kInt64,   DataType::kFloat16, DataType::kFloat32,
                                  DataType::kFloat64, DataType::kBFloat16};
constexpr ReduceOp kAllOps[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin,
                                ReduceOp::kAvg};

Result<std::vector<size_t>> Sizes(const Plan& plan) {
  std::vector<size_t> sizes;
  for (size_t s = plan.min_bytes; s <= plan.max_bytes;) {
    sizes.push_back(s);
    const size_t next = plan.step_bytes
                            ? s + *plan.step_bytes
                            : static_cast<size_t>(static_cast<double>(s) * plan.step_factor);
    if (next <= s) {
      break;  // 0 bytes with a factor
    }
    s = next;
  }
  return sizes;
}

Status ResolveSizes(const Flags& flags, Plan& plan) {
  TIDAL_ASSIGN_OR_RETURN(plan.min_bytes, ParseSize(flags.min_bytes, "-b/--minbytes"));
  TIDAL_ASSIGN_OR_RETURN(plan.max_bytes, ParseSize(flags.max_bytes, "-e/--maxbytes"));
  if (plan.min_bytes > plan.max_bytes) {
    return InvalidArgumentError("invalid sizes for 'minbytes' and 'maxbytes': ", plan.min_bytes,
                                " > ", plan.max_bytes);
  }
  plan.step_factor = flags.step_factor;
  if (!flags.step_bytes.empty()) {
    TIDAL_ASSIGN_OR_RETURN(const size_t step, ParseSize(flags.step_bytes, "-i/--stepbytes"));
    if (step == 0) {
      return InvalidArgumentError("-i/--stepbytes must be positive");
    }
    plan.step_bytes = step;
  } else if (flags.step_factor <= 1) {
    plan.step_bytes = size_t{1} << 20;  // nccl-tests' default increment
  }
  TIDAL_ASSIGN_OR_RETURN(plan.sizes, Sizes(plan));
  return Status::Ok();
}

Status ResolveTypes(const Flags& flags, Plan& plan) {
  if (flags.datatype == "all") {
    plan.types.assign(std::begin(kAllTypes), std::end(kAllTypes));
    return Status::Ok();
  }
  if (flags.datatype == "uint32" || flags.datatype == "uint64") {
    return InvalidArgumentError("-d ", flags.datatype,
                                ": tidal has no unsigned 32/64-bit type (expected float, double, "
                                "half, bfloat16, int8, uint8, int32, int64 or all)");
  }
  Result<DataType> type = coll::ParseDataType(flags.datatype);
  if (!type.ok()) {
    return type.status().WithContext("-d");
  }
  plan.types = {*type};
  return Status::Ok();
}

Status ResolveOps(const CollSpec& spec, const Flags& flags, Plan& plan) {
  if (!spec.reduces) {
    plan.ops = {ReduceOp::kSum};  // not printed ("none")
    return Status::Ok();
  }
  if (flags.op == "all") {
    plan.ops.assign(std::begin(kAllOps), std::end(kAllOps));
    return Status::Ok();
  }
  Result<ReduceOp> op = coll::ParseReduceOp(flags.op);
  if (!op.ok()) {
    return op.status().WithContext("-o");
  }
  plan.ops = {*op};
  return Status::Ok();
}

Status ResolveAlgorithm(const CollSpec& spec, const Flags& flags, Plan& plan) {
  Result<coll::Algorithm> algorithm = coll::ParseAlgorithm(flags.algo);
  if (!algorithm.ok()) {
    return algorithm.status().WithContext("-A");
  }
  plan.algorithm = *algorithm;
  if (plan.algorithm == coll::Algorithm::kAuto) {
    return Status::Ok();
  }
  std::string names;
  for (coll::Algorithm a : coll::AlgorithmsFor(spec.kind)) {
    if (a == plan.algorithm) {
      return Status::Ok();
    }
    names += names.empty() ? "" : ", ";
    names += coll::AlgorithmName(a);
  }
  return InvalidArgumentError("-A ", flags.algo, ": ", spec.tool, " has no such algorithm (",
                              names.empty() ? std::string("only auto") : "auto, " + names, ")");
}

}  // namespace

Result<size_t> ParseSize(const std::string& text, const char* what) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  const std::string suffix(end == nullptr ? "" : end);
  double unit = 1;
  if (suffix == "K" || suffix == "k") {
    unit = 1024.0;
  }
  if (suffix == "M" || suffix == "m") {
    unit = 1024.0 * 1024;
  }
  if (suffix == "G" || suffix == "g") {
    unit = 1024.0 * 1024 * 1024;
  }
  const bool bad_suffix = !suffix.empty() && unit == 1;
  if (end == text.c_str() || bad_suffix || !(value >= 0) || value * unit > 1e18) {
    return InvalidArgumentError("invalid size '", text, "' for ", what,
                                " (bytes, optionally with K, M or G: 8, 64K, 256M, 1G)");
  }
  return static_cast<size_t>(std::llround(value * unit));
}

Result<Plan> ResolveFlags(const CollSpec& spec, const Flags& flags) {
  Plan plan;
  TIDAL_RETURN_IF_ERROR(ResolveSizes(flags, plan));
  TIDAL_RETURN_IF_ERROR(ResolveTypes(flags, plan));
  TIDAL_RETURN_IF_ERROR(ResolveOps(spec, flags, plan));
  TIDAL_RETURN_IF_ERROR(ResolveAlgorithm(spec, flags, plan));
  if (flags.nthreads != 1 || flags.ngpus != 1) {
    return InvalidArgumentError(
        "-t/-g: tidal runs one rank per process (start more ranks with "
        "tidalrun -n N)");
  }
  plan.blocking = flags.blocking || flags.blocking_z != 0;
  if (spec.rooted && flags.root != "all" && flags.root != "-1") {
    char* end = nullptr;
    const long root = std::strtol(flags.root.c_str(), &end, 10);
    if (end == flags.root.c_str() || *end != '\0' || root < 0) {
      return InvalidArgumentError("-r ", flags.root, ": expected a rank, or all (-1)");
    }
  }
  return plan;
}

Status ResolveRoots(const CollSpec& spec, const Flags& flags, int n, Plan& plan) {
  plan.roots.clear();
  if (!spec.rooted) {
    plan.roots = {-1};
    return Status::Ok();
  }
  if (flags.root == "all" || flags.root == "-1") {
    for (int r = 0; r < n; ++r) {
      plan.roots.push_back(r);
    }
    return Status::Ok();
  }
  const long root = std::strtol(flags.root.c_str(), nullptr, 10);
  if (root >= n) {
    return InvalidArgumentError("-r ", flags.root, ": root out of range for ", n, " ranks");
  }
  plan.roots = {static_cast<int>(root)};
  return Status::Ok();
}

void AddFlags(CLI::App& app, Flags& flags) {
  // As getopt in nccl-tests: a repeated flag takes its last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-b,--minbytes", flags.min_bytes, "smallest size (K, M, G suffixes)");
  app.add_option("-e,--maxbytes", flags.max_bytes, "largest size");
  app.add_option("-f,--stepfactor", flags.step_factor, "size multiplier (used when above 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("-i,--stepbytes", flags.step_bytes, "size increment (instead of -f)");
  app.add_option("-n,--iters", flags.iters, "timed iterations per size")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("-w,--warmup_iters", flags.warmup, "warm-up iterations (at -e, then -b)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("-c,--check", flags.check, "data checks per size (0: none)")
      ->check(CLI::Range(0, 1000));
  app.add_option("-o,--op", flags.op, "reduction: sum, prod, min, max, avg or all");
  app.add_option("-d,--datatype", flags.datatype,
                 "float, double, half, bfloat16, int8, uint8, int32, int64 or all");
  app.add_option("-r,--root", flags.root, "root rank, or all (-1)");
  app.add_option("-a,--average", flags.average,
                 "time reported: 0 rank 0, 1 average, 2 minimum, 3 maximum over ranks")
      ->check(CLI::Range(0, 3));
  app.add_flag("-N,--blocking", flags.blocking,
               "wait for each operation and barrier after it (as nccl-tests' -z 1)");
  app.add_option("-z", flags.blocking_z, "nccl-tests' spelling of -N: 0 or 1")
      ->check(CLI::Range(0, 1));
  app.add_option("-A,--algo", flags.algo,
                 "tidal's algorithm: auto, or one this collective has (ring, direct, chain, "
                 "pairwise, shm, hier; "
                 "tidal/coll/algorithm.h)");
  app.add_option("-T,--timeout", flags.timeout_s,
                 "seconds any one operation may take (default: TIDAL_TIMEOUT_MS)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-J,--output_file", flags.json_path,
                 "also write the results as JSON to this file");
  app.add_option("-t,--nthreads", flags.nthreads, "threads per process (nccl-tests; only 1)");
  app.add_option("-g,--ngpus", flags.ngpus, "devices per thread (nccl-tests; only 1)");
}

}  // namespace tidal::perf
