// p2p_perf: point-to-point send/recv bandwidth and latency between 2 ranks, one row per size, in
// the manner of nccl-tests (flags -b -e -f -i -n -w -c, and a #wrong column).
//
//   tidalrun -n 2 p2p_perf [-b 8] [-e 256M] [-f 2 | -i BYTES] [-n ITERS] [-w ITERS] [-c 0|1]
//                          [-W WINDOW] [--tests bw,lat] [--target-ms 50] [-J out.json]
//
// bw (GB/s, 1e9 bytes/s): rank 0 streams windows of W messages to rank 1, which acks each window
// (unidirectional, as ucx_perftest -t tag_bw). lat (us): ping-pong of one message, half the round
// trip. Unless -n fixes them, iteration counts adapt to the size: warm-up batches double until one
// takes target/8, and the timed batch then aims at --target-ms. perf/compare_p2p.sh compares the
// result with ucx_perftest. Rank 0 prints; every rank exits non-zero on an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "p2p_bench.h"
#include "perf_world.h"
#include "tidal/core/knobs.h"
#include "tidal/core/strcat.h"

namespace tidal::perf {
namespace {

struct Flags {
  std::string min_bytes = "8";
  std::string max_bytes = "256M";
  double step_factor = 2;
  std::string step_bytes;  // additive steps when set
  int64_t iters = 0;       // 0: adaptive
  int64_t warmup = -1;     // -1: adaptive
  int check = 1;
  int window = 64;
  std::vector<std::string> tests = {"bw", "lat"};
  double target_ms = 50;
  double timeout_s = 0;  // 0: TIDAL_TIMEOUT_MS
  std::string json_path;
};

struct Row {
  size_t bytes = 0;
  int64_t bw_iters = 0;
  double bw_gbps = 0;
  int64_t lat_iters = 0;
  double lat_us = 0;
  std::optional<uint64_t> wrong;
};

// "64M" -> 67108864. Suffixes K, M, G are powers of 1024 (as nccl-tests).
Result<size_t> ParseBytes(const std::string& text) {
  size_t pos = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &pos);
  } catch (const std::exception&) {
    return InvalidArgumentError("not a size: '", text, "' (e.g. 8, 64K, 256M)");
  }
  const std::string suffix = text.substr(pos);
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  if (suffix == "M" || suffix == "m") shift = 20;
  if (suffix == "G" || suffix == "g") shift = 30;
  if (shift == 0 && !suffix.empty()) {
    return InvalidArgumentError("not a size: '", text, "' (suffixes: K, M, G)");
  }
  return static_cast<size_t>(value) << shift;
}

Result<std::vector<size_t>> Sizes(const Flags& flags) {
  TIDAL_ASSIGN_OR_RETURN(const size_t min_bytes, ParseBytes(flags.min_bytes));
  TIDAL_ASSIGN_OR_RETURN(const size_t max_bytes, ParseBytes(flags.max_bytes));
  size_t step = 0;
  if (!flags.step_bytes.empty()) {
    TIDAL_ASSIGN_OR_RETURN(step, ParseBytes(flags.step_bytes));
    if (step == 0) return InvalidArgumentError("-i must be positive");
  } else if (flags.step_factor <= 1 && min_bytes < max_bytes) {
    return InvalidArgumentError("-f must be above 1 (or use -i)");
  }
  if (min_bytes > max_bytes) return InvalidArgumentError("-b is above -e");
  std::vector<size_t> sizes;
  for (size_t s = min_bytes; s <= max_bytes;) {
    sizes.push_back(s);
    const size_t next =
        step > 0 ? s + step
                 : static_cast<size_t>(std::ceil(static_cast<double>(s) * flags.step_factor));
    if (next <= s) break;  // 0 bytes with a factor
    s = next;
  }
  return sizes;
}

// Runs warm-up batches and returns the iteration count of the timed batch.
Result<int64_t> Calibrate(const Flags& flags, const std::function<Result<double>(int64_t)>& run) {
  const double target_s = flags.target_ms / 1e3;
  double seconds = 0;
  int64_t k = 1;
  if (flags.warmup >= 0) {
    k = std::max<int64_t>(flags.warmup, flags.iters > 0 ? 0 : 1);
    if (k > 0) {
      TIDAL_ASSIGN_OR_RETURN(seconds, run(k));
    }
  } else {
    for (;; k *= 2) {
      TIDAL_ASSIGN_OR_RETURN(seconds, run(k));
      if (seconds >= target_s / 8 || k >= (int64_t{1} << 20)) break;
    }
  }
  if (flags.iters > 0) return flags.iters;
  const double per_iter = std::max(seconds / static_cast<double>(k), 1e-9);
  return std::clamp<int64_t>(std::llround(target_s / per_iter), 1, 10'000'000);
}

bool Wants(const Flags& flags, const std::string& test) {
  return std::find(flags.tests.begin(), flags.tests.end(), test) != flags.tests.end();
}

Result<Row> MeasureSize(const Flags& flags, P2pBench& bench, size_t bytes) {
  Row row;
  row.bytes = bytes;
  if (Wants(flags, "bw")) {
    const auto run = [&](int64_t n) { return bench.Bandwidth(bytes, n); };
    TIDAL_ASSIGN_OR_RETURN(row.bw_iters, Calibrate(flags, run));
    TIDAL_ASSIGN_OR_RETURN(const double seconds, run(row.bw_iters));
    row.bw_gbps = static_cast<double>(bytes) * static_cast<double>(row.bw_iters) / seconds / 1e9;
  }
  if (Wants(flags, "lat")) {
    const auto run = [&](int64_t n) { return bench.Latency(bytes, n); };
    TIDAL_ASSIGN_OR_RETURN(row.lat_iters, Calibrate(flags, run));
    TIDAL_ASSIGN_OR_RETURN(const double seconds, run(row.lat_iters));
    row.lat_us = seconds / static_cast<double>(row.lat_iters) / 2 * 1e6;
  }
  if (flags.check != 0) {
    uint64_t wrong = 0;
    for (uint64_t seq = 0; seq < 2; ++seq) {  // two patterns: stale data from the last one shows
      TIDAL_ASSIGN_OR_RETURN(const uint64_t w, bench.Check(bytes, bytes + seq));
      wrong += w;
    }
    row.wrong = wrong;
  }
  return row;
}

void PrintHeader(const Flags& flags, const PerfWorld& world) {
  std::printf("# p2p_perf: tidal send/recv, rank 0 <-> rank 1 over %s\n",
              world.transport->context()->Describe().c_str());
  std::printf(
      "# bw: rank 0 streams windows of %d messages to rank 1, one ack per window; "
      "GB/s = 1e9 B/s\n# lat: ping-pong, half the round trip; iterations: %s\n#\n",
      flags.window,
      flags.iters > 0 ? "fixed (-n)" : StrCat("~", flags.target_ms, " ms per test").c_str());
  std::printf("# %12s %12s %6s %10s %10s %10s %10s %8s\n", "size(B)", "count", "type", "bw_iters",
              "bw(GB/s)", "lat_iters", "lat(us)", "#wrong");
  std::fflush(stdout);
}

void PrintRow(const Row& row) {
  const std::string wrong = row.wrong ? std::to_string(*row.wrong) : "N/A";
  std::printf("  %12zu %12zu %6s %10lld %10.4g %10lld %10.2f %8s\n", row.bytes, row.bytes, "uint8",
              static_cast<long long>(row.bw_iters), row.bw_gbps,
              static_cast<long long>(row.lat_iters), row.lat_us, wrong.c_str());
  std::fflush(stdout);
}

Status WriteJson(const Flags& flags, const PerfWorld& world, const std::vector<Row>& rows) {
  nlohmann::json out;
  out["tool"] = "p2p_perf";
  out["transport"] = world.transport->context()->Describe();
  out["window"] = flags.window;
  out["time"] = static_cast<int64_t>(std::time(nullptr));
  for (const Row& row : rows) {
    nlohmann::json r = {{"size", row.bytes},          {"count", row.bytes},
                        {"bw_iters", row.bw_iters},   {"bw_gbps", row.bw_gbps},
                        {"lat_iters", row.lat_iters}, {"lat_us", row.lat_us}};
    r["wrong"] = row.wrong ? nlohmann::json(*row.wrong) : nlohmann::json(nullptr);
    out["rows"].push_back(std::move(r));
  }
  std::ofstream file(flags.json_path);
  file << out.dump(2) << "\n";
  file.close();
  if (!file) return IoError("rank 0: cannot write the JSON output to ", flags.json_path);
  return Status::Ok();
}

Status Lead(const Flags& flags, const PerfWorld& world, P2pBench& bench,
            const std::vector<size_t>& sizes) {
  PrintHeader(flags, world);
  std::vector<Row> rows;
  uint64_t wrong = 0;
  for (size_t bytes : sizes) {
    Result<Row> row = MeasureSize(flags, bench, bytes);
    if (!row.ok()) return row.status().WithContext(StrCat("rank 0: size ", bytes));
    PrintRow(*row);
    wrong += row->wrong.value_or(0);
    rows.push_back(*row);
  }
  TIDAL_RETURN_IF_ERROR(bench.Quit());
  std::printf("# wrong bytes: %llu %s\n", static_cast<unsigned long long>(wrong),
              flags.check != 0 ? (wrong == 0 ? "OK" : "FAILED") : "(not checked; -c 1 checks)");
  if (!flags.json_path.empty()) TIDAL_RETURN_IF_ERROR(WriteJson(flags, world, rows));
  if (wrong != 0) return InternalError("rank 0: data check failed: ", wrong, " wrong bytes");
  return Status::Ok();
}

std::chrono::milliseconds Timeout(const Flags& flags) {
  if (flags.timeout_s > 0) {
    return std::chrono::milliseconds(std::llround(flags.timeout_s * 1e3));
  }
  Result<int64_t> ms = KnobInt(Knob::kTimeoutMs, 300'000);
  return std::chrono::milliseconds(ms.ok() && *ms > 0 ? *ms : 300'000);
}

Status Run(const Flags& flags) {
  TIDAL_ASSIGN_OR_RETURN(const std::vector<size_t> sizes, Sizes(flags));
  const std::chrono::milliseconds timeout = Timeout(flags);
  TIDAL_ASSIGN_OR_RETURN(PerfWorld world, ConnectPerfWorld("p2p_perf", Deadline::After(timeout)));
  if (world.size() != 2) {
    return InvalidArgumentError("rank ", world.rank(), ": p2p_perf needs exactly 2 ranks, not ",
                                world.size(), " (run: tidalrun -n 2 p2p_perf)");
  }
  P2pBenchOptions options;
  options.max_bytes = sizes.empty() ? 0 : sizes.back();
  options.window = flags.window;
  options.timeout = timeout;
  P2pBench bench(*world.transport, options);
  return world.rank() == 0 ? Lead(flags, world, bench, sizes) : bench.Follow();
}

void AddFlags(CLI::App& app, Flags& flags) {
  app.add_option("-b,--minbytes", flags.min_bytes, "smallest size (K, M, G suffixes)");
  app.add_option("-e,--maxbytes", flags.max_bytes, "largest size");
  auto* factor = app.add_option("-f,--stepfactor", flags.step_factor, "size multiplier");
  app.add_option("-i,--stepbytes", flags.step_bytes, "size increment (instead of -f)")
      ->excludes(factor);
  app.add_option("-n,--iters", flags.iters, "timed iterations per size and test (default: adapt)")
      ->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup_iters", flags.warmup, "warm-up iterations (default: adapt)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-c,--check", flags.check, "verify data with a closed-form pattern (0/1)")
      ->check(CLI::Range(0, 1));
  app.add_option("-W,--window", flags.window, "bandwidth: messages per ack")
      ->check(CLI::Range(1, 4096));
  app.add_option("--tests", flags.tests, "which tests: bw, lat")
      ->delimiter(',')
      ->check(CLI::IsMember({"bw", "lat"}));
  app.add_option("--target-ms", flags.target_ms, "adaptive iterations aim at this time per test")
      ->check(CLI::PositiveNumber);
  app.add_option("--timeout", flags.timeout_s,
                 "seconds any one wait may take (default: TIDAL_TIMEOUT_MS)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-J,--output_file", flags.json_path, "also write the rows as JSON to this file");
}

}  // namespace
}  // namespace tidal::perf

int main(int argc, char** argv) {
  tidal::perf::Flags flags;
  CLI::App app{"p2p_perf: send/recv bandwidth and latency between 2 ranks (run under tidalrun)"};
  tidal::perf::AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const tidal::Status status = tidal::perf::Run(flags);
  if (!status.ok()) {
    std::fprintf(stderr, "p2p_perf: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
