#include "coll_perf/report.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tidal/coll/types.h"
#include "tidal/core/build_info.h"

namespace tidal::perf {
namespace {

std::string TimeString(double seconds) {
  const double us = seconds * 1e6;
  char text[32];
  if (us >= 10000.0) {
    std::snprintf(text, sizeof text, "%7.0f", us);
  } else if (us >= 100.0) {
    std::snprintf(text, sizeof text, "%7.1f", us);
  } else {
    std::snprintf(text, sizeof text, "%7.2f", us);
  }
  return text;
}

std::string OpName(const CollSpec& spec, const CollCase& c) {
  return spec.reduces ? std::string(coll::ReduceOpName(c.op)) : "none";
}

size_t SizeBytes(const CollCase& c) {
  return std::max(c.counts.send, c.counts.recv) * coll::DataTypeSize(c.type);
}

nlohmann::json PlacedJson(const Placed& placed, const Bandwidth& bw) {
  nlohmann::json j = {{"time_us", placed.seconds * 1e6}, {"algbw", bw.alg}, {"busbw", bw.bus}};
  j["wrong"] = placed.wrong >= 0 ? nlohmann::json(placed.wrong) : nlohmann::json(nullptr);
  return j;
}

}  // namespace

Report::Report(const CollSpec& spec, const Flags& flags, const Plan& plan, int ranks, bool print)
    : spec_(spec), flags_(flags), plan_(plan), ranks_(ranks), print_(print) {}

void Report::PrintHeader(const std::vector<std::string>& rank_lines) const {
  if (!print_) {
    return;
  }
  const BuildInfo& build = GetBuildInfo();
  std::printf("# Collective test starting: %s\n", std::string(spec_.tool).c_str());
  std::printf("# tidal %s (%s): %d ranks, algorithm %s%s\n", build.version.c_str(),
              build.build_type.c_str(), ranks_,
              std::string(coll::AlgorithmName(plan_.algorithm)).c_str(),
              plan_.algorithm == coll::Algorithm::kAuto ? " (tidal's selection)" : " (forced)");
  const std::string step = plan_.step_bytes ? std::to_string(*plan_.step_bytes) + "(bytes)"
                                            : StrCat(plan_.step_factor, "(factor)");
  std::printf(
      "# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %s warmup iters: %d iters: %d "
      "agg iters: 1 validation: %d graph: 0\n",
      plan_.min_bytes, plan_.max_bytes, step.c_str(), flags_.warmup, flags_.iters, flags_.check);
  if (plan_.blocking) {
    std::printf("# Blocking Enabled: wait for completion and barrier after each collective \n");
  }
  std::printf("#\n# Using devices\n");
  for (const std::string& line : rank_lines) {
    std::printf("%s\n", line.c_str());
  }
  std::printf("#\n");
  std::printf(
      "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
      "          \n",
      "", "", "", "", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "size",
              "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw",
              "busbw", "#wrong");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n", "(B)",
              "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
              "");
  std::fflush(stdout);
}

void Report::PrintPlaced(const RowResult& row, const Placed& placed) const {
  const Bandwidth bw = BandwidthFor(spec_.coll, row.c.counts, coll::DataTypeSize(row.c.type),
                                    ranks_, placed.seconds);
  const std::string wrong = placed.wrong >= 0 ? std::to_string(placed.wrong) : "N/A";
  std::printf("  %7s  %6.2f  %6.2f  %5s", TimeString(placed.seconds).c_str(), bw.alg, bw.bus,
              wrong.c_str());
}

void Report::AddRow(const RowResult& row) {
  rows_.push_back(row);
  for (const Placed* placed : {&row.out_of_place, &row.in_place}) {
    const Bandwidth bw = BandwidthFor(spec_.coll, row.c.counts, coll::DataTypeSize(row.c.type),
                                      ranks_, placed->seconds);
    busbw_sum_ += bw.bus;
    ++busbw_count_;
    out_of_bounds_ += placed->failed_ranks;
    wrong_ += std::max<int64_t>(placed->wrong, 0);
  }
  if (!print_) {
    return;
  }
  std::printf("%12zu  %12zu  %8s  %6s  %6d", SizeBytes(row.c), row.c.counts.param,
              std::string(coll::DataTypeName(row.c.type)).c_str(), OpName(spec_, row.c).c_str(),
              spec_.rooted ? row.c.root : -1);
  PrintPlaced(row, row.out_of_place);
  PrintPlaced(row, row.in_place);
  std::printf("\n");
  std::fflush(stdout);
}

double Report::AvgBusBw() const { return busbw_count_ > 0 ? busbw_sum_ / busbw_count_ : 0.0; }

void Report::PrintFooter() const {
  if (!print_) {
    return;
  }
  std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(out_of_bounds_),
              out_of_bounds_ != 0 ? "FAILED" : "OK");
  std::printf("# Avg bus bandwidth    : %g \n", AvgBusBw());
  std::printf("#\n");
  std::fflush(stdout);
}

Status Report::WriteJson(const std::string& path) const {
  nlohmann::json out;
  out["tool"] = spec_.tool;
  out["collective"] = spec_.name;
  out["ranks"] = ranks_;
  out["tidal_version"] = GetBuildInfo().version;
  out["algorithm"] = coll::AlgorithmName(plan_.algorithm);
  out["blocking"] = plan_.blocking;
  out["iters"] = flags_.iters;
  out["warmup_iters"] = flags_.warmup;
  out["check"] = flags_.check;
  out["average"] = flags_.average;
  out["time"] = static_cast<int64_t>(std::time(nullptr));
  out["rows"] = nlohmann::json::array();
  for (const RowResult& row : rows_) {
    const size_t elem = coll::DataTypeSize(row.c.type);
    nlohmann::json r = {{"size", SizeBytes(row.c)},
                        {"count", row.c.counts.param},
                        {"type", coll::DataTypeName(row.c.type)},
                        {"redop", OpName(spec_, row.c)},
                        {"root", spec_.rooted ? row.c.root : -1}};
    r["out_of_place"] =
        PlacedJson(row.out_of_place,
                   BandwidthFor(spec_.coll, row.c.counts, elem, ranks_, row.out_of_place.seconds));
    r["in_place"] = PlacedJson(
        row.in_place, BandwidthFor(spec_.coll, row.c.counts, elem, ranks_, row.in_place.seconds));
    out["rows"].push_back(std::move(r));
  }
  out["out_of_bounds"] = out_of_bounds_;
  out["avg_busbw"] = AvgBusBw();
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  file.close();
  if (!file) {
    return IoError("rank 0: cannot write the JSON output to ", path);
  }
  return Status::Ok();
}

}  // namespace tidal::perf
