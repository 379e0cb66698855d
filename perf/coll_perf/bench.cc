#include "coll_perf/bench.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "coll_perf/pattern.h"
#include "tidal/core/time.h"

namespace tidal::perf {
namespace {

// Point-to-point tag of the per-row tally (the sendrecv tool's data uses tag 0).
constexpr uint32_t kTallyTag = 4242;

struct Local {
  double seconds[2];
  uint64_t wrong[2];
};
struct Totals {
  double seconds[2];
  int64_t wrong[2];
  int64_t failed_ranks[2];
};

double Aggregate(const std::vector<Local>& all, int place, int average) {
  const auto p = static_cast<size_t>(place);
  double value = all[0].seconds[p];
  for (size_t r = 1; r < all.size(); ++r) {
    const double s = all[r].seconds[p];
    if (average == 1) {
      value += s;
    }
    if (average == 2) {
      value = std::min(value, s);
    }
    if (average == 3) {
      value = std::max(value, s);
    }
  }
  return average == 1 ? value / static_cast<double>(all.size()) : value;
}

Totals Combine(const std::vector<Local>& all, int average, bool checked) {
  Totals totals{};
  for (int place = 0; place < 2; ++place) {
    const auto p = static_cast<size_t>(place);
    totals.seconds[p] = Aggregate(all, place, average);
    totals.wrong[p] = checked ? 0 : -1;
    for (const Local& local : all) {
      if (checked) {
        totals.wrong[p] += static_cast<int64_t>(local.wrong[p]);
      }
      totals.failed_ranks[p] += local.wrong[p] != 0 ? 1 : 0;
    }
  }
  return totals;
}

}  // namespace

Bench::Bench(PerfColl coll, Communicator& comm, const CollBuffers& buffers,
             const BenchConfig& config)
    : coll_(coll), comm_(comm), buffers_(buffers), config_(config) {}

Status Bench::WaitAll() {
  for (Work& work : works_) {
    TIDAL_RETURN_IF_ERROR(work.Wait());
  }
  works_.clear();
  return Status::Ok();
}

Status Bench::Run(const CollCase& c, int iters) {
  const bool one_at_a_time = config_.blocking || RunsOneAtATime(coll_, c);
  works_.clear();
  for (int i = 0; i < iters; ++i) {
    if (config_.blocking) {
      // The blocking API, back to back, as MPI_Allreduce and nccl-tests -z 1 are timed.
      TIDAL_RETURN_IF_ERROR(RunOneBlocking(coll_, comm_, c, buffers_, config_.options));
      FinishOne(coll_, c, buffers_);
      continue;
    }
    TIDAL_RETURN_IF_ERROR(StartOne(coll_, comm_, c, buffers_, config_.options, works_));
    if (!one_at_a_time) {
      continue;
    }
    TIDAL_RETURN_IF_ERROR(WaitAll());
    FinishOne(coll_, c, buffers_);
  }
  return WaitAll();
}

Status Bench::Warmup(const CollCase& largest, const CollCase& smallest) {
  TIDAL_RETURN_IF_ERROR(Run(largest, config_.warmup));
  return Run(smallest, config_.warmup);
}

Result<double> Bench::Time(const CollCase& c) {
  std::memset(buffers_.send, 0, SendBytes(c));  // zeros: no subnormals, no overflow
  std::memset(buffers_.recv, 0, RecvBytes(c));
  if (buffers_.staging != nullptr) {
    std::memset(buffers_.staging, 0, RecvBytes(c));
  }
  TIDAL_RETURN_IF_ERROR(Run(c, 1));
  TIDAL_RETURN_IF_ERROR(comm_.Barrier());
  const Clock::time_point start = Clock::now();
  TIDAL_RETURN_IF_ERROR(Run(c, config_.iters));
  const std::chrono::duration<double> elapsed = Clock::now() - start;
  return elapsed.count() / config_.iters;
}

Result<uint64_t> Bench::Check(const CollCase& c, uint64_t seed) {
  std::optional<coll::ReduceOp> op;
  if (SpecOf(coll_).uses_op) {
    op = c.op;
  }
  const Pattern pattern(c.type, op, comm_.size(), seed);
  const CheckPlan plan = PlanCheck(coll_, c, buffers_, comm_, pattern.expected());
  const size_t elem = pattern.elem_bytes();
  const auto poison = [&] {
    for (const Region& out : plan.outputs) {
      pattern.Fill(plan.recv_ptr + out.offset * elem, out.table, out.first, out.count, true);
    }
  };
  const auto fill = [&] {
    for (const Region& in : plan.inputs) {
      pattern.Fill(plan.send_ptr + in.offset * elem, in.table, in.first, in.count);
    }
  };
  if (c.in_place) {  // the inputs overwrite part of the poisoned buffer
    poison();
    fill();
  } else {
    fill();
    poison();
  }
  TIDAL_RETURN_IF_ERROR(Run(c, 1));
  uint64_t wrong = 0;
  for (const Region& out : plan.outputs) {
    wrong += pattern.CountWrong(plan.recv_ptr + out.offset * elem, out.table, out.first, out.count,
                                out.untouched);
  }
  return wrong;
}

Status Bench::Tally(const double seconds[2], const uint64_t wrong[2], RowResult& row) {
  const Local local{{seconds[0], seconds[1]}, {wrong[0], wrong[1]}};
  Totals totals{};
  if (comm_.rank() != 0) {
    TIDAL_RETURN_IF_ERROR(comm_.Send(0, &local, sizeof local, kTallyTag));
    TIDAL_RETURN_IF_ERROR(comm_.Recv(0, &totals, sizeof totals, kTallyTag));
  } else {
    std::vector<Local> all = {local};
    for (int r = 1; r < comm_.size(); ++r) {
      Local other{};
      TIDAL_RETURN_IF_ERROR(comm_.Recv(r, &other, sizeof other, kTallyTag));
      all.push_back(other);
    }
    totals = Combine(all, config_.average, config_.checks > 0);
    for (int r = 1; r < comm_.size(); ++r) {
      TIDAL_RETURN_IF_ERROR(comm_.Send(r, &totals, sizeof totals, kTallyTag));
    }
  }
  Placed* placed[2] = {&row.out_of_place, &row.in_place};
  for (size_t p = 0; p < 2; ++p) {
    *placed[p] = {totals.seconds[p], totals.wrong[p], totals.failed_ranks[p]};
  }
  return Status::Ok();
}

Result<RowResult> Bench::Measure(const CollCase& base) {
  RowResult row;
  row.c = base;
  row.c.in_place = false;
  double seconds[2] = {0, 0};
  uint64_t wrong[2] = {0, 0};
  for (size_t place = 0; place < 2; ++place) {
    CollCase c = row.c;
    c.in_place = place == 1;
    TIDAL_ASSIGN_OR_RETURN(seconds[place], Time(c));
    for (int k = 0; k < config_.checks; ++k) {
      TIDAL_ASSIGN_OR_RETURN(const uint64_t w, Check(c, ++checks_run_));
      wrong[place] += w;
    }
  }
  TIDAL_RETURN_IF_ERROR(Tally(seconds, wrong, row));
  return row;
}

}  // namespace tidal::perf
