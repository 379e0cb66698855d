// Report: rank 0's output in nccl-tests' layout, and the optional JSON file.
//
//   # <header lines: tool, flags, one line per rank ("Rank r ... Pid p on host device d")>
//   #                                                   out-of-place               in-place
//   #       size         count      type   redop    root     time   algbw   busbw #wrong ...
//   #        (B)    (elements)                               (us)  (GB/s)  (GB/s)        ...
//            8             2     float     sum      -1    10.33    0.00    0.00      0 ...
//   # Out of bounds values : 0 OK
//   # Avg bus bandwidth    : 1.2345
//   #
// Columns and formats are nccl-tests' (common.cu): redop "none" and root -1 where they do not
// apply, #wrong "N/A" without -c. "Out of bounds values" counts the (rank, row, placement) checks
// that found a wrong element; the average bus bandwidth is over every row and placement.
//
// Thread safety: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coll_perf/bench.h"
#include "coll_perf/colls.h"
#include "coll_perf/options.h"
#include "tidal/core/status.h"

namespace tidal::perf {

class Report {
 public:
  // Prints only when `print` (rank 0); every rank keeps the totals.
  Report(const CollSpec& spec, const Flags& flags, const Plan& plan, int ranks, bool print);

  void PrintHeader(const std::vector<std::string>& rank_lines) const;
  void AddRow(const RowResult& row);
  void PrintFooter() const;
  Status WriteJson(const std::string& path) const;

  // Checks that found wrong elements, and wrong elements, over all rows.
  int64_t out_of_bounds() const { return out_of_bounds_; }
  int64_t wrong() const { return wrong_; }

 private:
  void PrintPlaced(const RowResult& row, const Placed& placed) const;
  double AvgBusBw() const;

  const CollSpec& spec_;
  const Flags& flags_;
  const Plan& plan_;
  int ranks_;
  bool print_;
  std::vector<RowResult> rows_;
  double busbw_sum_ = 0;
  int busbw_count_ = 0;
  int64_t out_of_bounds_ = 0;
  int64_t wrong_ = 0;
};

}  // namespace tidal::perf
