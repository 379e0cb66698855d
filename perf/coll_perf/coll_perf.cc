#include "coll_perf/coll_perf.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "coll_perf/bench.h"
#include "coll_perf/options.h"
#include "coll_perf/report.h"
#include "tidal/comm/communicator.h"
#include "tidal/core/check.h"
#include "tidal/core/strcat.h"

namespace tidal::perf {
namespace {

constexpr uint32_t kHeaderTag = 4243;
constexpr size_t kLineBytes = 256;
constexpr size_t kPageBytes = 4096;

// Page-aligned bytes, touched at allocation so that page faults stay out of the timings.
class HostBuffer {
 public:
  explicit HostBuffer(size_t bytes) {
    const size_t rounded = std::max(kPageBytes, (bytes + kPageBytes - 1) / kPageBytes * kPageBytes);
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kPageBytes, rounded)));
    TIDAL_CHECK(data_ != nullptr) << "cannot allocate " << rounded << " bytes";
    std::memset(data_.get(), 0, rounded);
  }
  uint8_t* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
};

std::string RankLine(const Communicator& comm) {
  char host[128] = {};
  if (gethostname(host, sizeof host - 1) != 0) {
    std::snprintf(host, sizeof host, "?");
  }
  char line[kLineBytes];
  std::snprintf(line, sizeof line,
                "#  Rank %2d Group  0 Pid %6d on %10s device %2d [cpu] host memory, ring "
                "position %d",
                comm.rank(), static_cast<int>(getpid()), host, comm.local_rank(),
                comm.ring_position());
  return line;
}

// Rank 0 gets every rank's line (others get an empty list).
Result<std::vector<std::string>> GatherRankLines(Communicator& comm) {
  char line[kLineBytes] = {};
  std::snprintf(line, sizeof line, "%s", RankLine(comm).c_str());
  if (comm.rank() != 0) {
    TIDAL_RETURN_IF_ERROR(comm.Send(0, line, sizeof line, kHeaderTag));
    return std::vector<std::string>{};
  }
  std::vector<std::string> lines = {line};
  for (int r = 1; r < comm.size(); ++r) {
    TIDAL_RETURN_IF_ERROR(comm.Recv(r, line, sizeof line, kHeaderTag));
    line[kLineBytes - 1] = '\0';
    lines.emplace_back(line);
  }
  return lines;
}

CollCase CaseAt(PerfColl coll, size_t bytes, coll::DataType type, coll::ReduceOp op, int root,
                int n) {
  CollCase c;
  c.type = type;
  c.op = op;
  c.root = root;
  c.counts = CountsFor(coll, bytes / coll::DataTypeSize(type), n);
  return c;
}

// Every size of one (type, op, root), after nccl-tests' warm-up.
Status RunSweep(const CollSpec& spec, const Plan& plan, Bench& bench, Report& report,
                coll::DataType type, coll::ReduceOp op, int root, int n) {
  TIDAL_RETURN_IF_ERROR(bench.Warmup(CaseAt(spec.coll, plan.max_bytes, type, op, root, n),
                                     CaseAt(spec.coll, plan.min_bytes, type, op, root, n)));
  for (size_t bytes : plan.sizes) {
    const CollCase c = CaseAt(spec.coll, bytes, type, op, root, n);
    Result<RowResult> row = bench.Measure(c);
    if (!row.ok()) {
      return row.status().WithContext(
          StrCat(spec.tool, " at ", bytes, " bytes, ", coll::DataTypeName(type)));
    }
    report.AddRow(*row);
  }
  return Status::Ok();
}

Status Run(const CollSpec& spec, const Flags& flags) {
  TIDAL_ASSIGN_OR_RETURN(Plan plan, ResolveFlags(spec, flags));
  TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm, Communicator::CreateWorld());
  if (flags.timeout_s > 0) {
    comm->set_timeout(std::chrono::milliseconds(std::llround(flags.timeout_s * 1e3)));
  }
  const int n = comm->size();
  TIDAL_RETURN_IF_ERROR(ResolveRoots(spec, flags, n, plan));
  TIDAL_ASSIGN_OR_RETURN(const std::vector<std::string> lines, GatherRankLines(*comm));

  const bool staged = spec.coll == PerfColl::kAllToAll || spec.coll == PerfColl::kSendRecv;
  const HostBuffer send(plan.max_bytes);
  const HostBuffer recv(plan.max_bytes);
  const HostBuffer staging(staged ? plan.max_bytes : 0);
  const CollBuffers buffers{send.data(), recv.data(), staged ? staging.data() : nullptr};

  BenchConfig config;
  config.iters = flags.iters;
  config.warmup = flags.warmup;
  config.checks = flags.check;
  config.average = flags.average;
  config.blocking = plan.blocking;
  config.options.algorithm = plan.algorithm;
  Bench bench(spec.coll, *comm, buffers, config);
  Report report(spec, flags, plan, n, comm->rank() == 0);
  report.PrintHeader(lines);
  for (coll::DataType type : plan.types) {
    for (coll::ReduceOp op : plan.ops) {
      for (int root : plan.roots) {
        TIDAL_RETURN_IF_ERROR(RunSweep(spec, plan, bench, report, type, op, root, n));
      }
    }
  }
  report.PrintFooter();
  if (comm->rank() == 0 && !flags.json_path.empty()) {
    TIDAL_RETURN_IF_ERROR(report.WriteJson(flags.json_path));
  }
  if (report.out_of_bounds() != 0) {
    return InternalError("rank ", comm->rank(), ": data check failed: ", report.wrong(),
                         " wrong elements in ", report.out_of_bounds(),
                         " (rank, size, placement) checks");
  }
  return comm->Barrier();
}

}  // namespace

int CollPerfMain(PerfColl coll, int argc, char** argv) {
  const CollSpec& spec = SpecOf(coll);
  Flags flags;
  CLI::App app{StrCat(spec.tool, ": tidal's ", spec.name,
                      " with nccl-tests' flags and columns (run under tidalrun)")};
  AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const Status status = Run(spec, flags);
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", std::string(spec.tool).c_str(), status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace tidal::perf
