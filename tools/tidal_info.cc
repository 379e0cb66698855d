// tidal-info: what this tidal is and whether a job can talk.
//
//   tidal-info                 version, build options, UCX version and transports, CUDA, knobs
//   tidal-info --selection [--ranks N] [--hosts H]
//                              which algorithm kAuto picks per collective and size (4 B .. 1 GiB)
//                              for this job's world (from the launcher's environment) or for N
//                              ranks on H hosts, and which knobs force another (selection_table.h)
//   tidalrun -n 4 tidal-info --check [--laps 100] [--idle-ms 0]
//                              every rank creates the world communicator, a token goes around the
//                              ring (in ring order) and each rank prints one line:
//   rank 2/4 (local 2/4, host h, ring position 2): token ok (ring 0>1>2>3>0, 12.3 us per hop)
//
// --idle-ms N then blocks every rank in a receive that never matches for N ms and prints the
// CPU time the rank used meanwhile (the idle cost of the progress engine and liveness watcher).
// Exits 1 with a message naming the rank and the failure when the check fails, 2 on bad flags.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tidal/coll/selection_table.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/launch_env.h"
#include "tidal/core/build_info.h"
#include "tidal/core/knobs.h"
#include "tidal/core/strcat.h"
#include "tidal/transport/ucx/ucx_context.h"

namespace {

using tidal::Communicator;
using tidal::Status;

void PrintInfo() {
  const tidal::BuildInfo& build = tidal::GetBuildInfo();
  std::printf("tidal %s\n", build.version.c_str());
  std::printf("  build: %s, %s, sanitizers: %s, CUDA compiled: %s\n", build.build_type.c_str(),
              build.compiler.c_str(), build.sanitizers.empty() ? "none" : build.sanitizers.c_str(),
              build.cuda_compiled ? "yes" : "no");
  std::printf("UCX %s\n", tidal::UcxLibraryVersion().c_str());
  tidal::Result<tidal::UcxOptions> ucx_options = tidal::UcxOptions::FromEnv();
  auto context = ucx_options.ok()
                     ? tidal::UcxContext::Create(*ucx_options)
                     : tidal::Result<std::shared_ptr<tidal::UcxContext>>(ucx_options.status());
  if (context.ok()) {
    std::printf("  context: %s, shared memory: %s, peer errors: %s\n",
                (*context)->Describe().c_str(), (*context)->shared_memory() ? "yes" : "no",
                std::string(tidal::PeerErrorsName((*context)->options().peer_errors)).c_str());
  } else {
    std::printf("  context: unavailable: %s\n", context.status().ToString().c_str());
  }
  std::string detail;
  const int devices = tidal::CudaDeviceCount(&detail);
  std::printf("CUDA: %d device(s)%s%s\n", devices, detail.empty() ? "" : ": ", detail.c_str());
  std::printf("knobs (value, default):\n");
  for (const tidal::KnobInfo& knob : tidal::AllKnobs()) {
    const std::string value = tidal::KnobIsSet(knob.knob) ? tidal::KnobString(knob.knob) : "";
    std::printf("  %-28s %-12s (default %s)  %s\n", std::string(knob.name).c_str(),
                tidal::KnobIsSet(knob.knob) ? value.c_str() : "-",
                knob.default_value.empty() ? "none" : std::string(knob.default_value).c_str(),
                std::string(knob.meaning).c_str());
  }
}

// The world --selection describes: --ranks/--hosts when given, else the launcher's environment
// (its world size and ranks per host; one host when the launcher does not say).
tidal::Result<std::pair<int, tidal::coll::HostShape>> SelectionWorld(int ranks, int hosts) {
  if (ranks == 0) {
    TIDAL_ASSIGN_OR_RETURN(tidal::LaunchInfo launch, tidal::ReadLaunchEnv(tidal::ProcessEnv()));
    ranks = launch.size;
    if (hosts == 0 && launch.local_size > 0) {
      hosts = (launch.size + launch.local_size - 1) / launch.local_size;
    }
  }
  if (hosts == 0) hosts = 1;
  if (hosts > ranks) {
    return tidal::InvalidArgumentError("--hosts ", hosts, " exceeds the ", ranks, " ranks");
  }
  tidal::coll::HostShape shape;
  shape.hosts = hosts;
  shape.ranks_per_host = ranks % hosts == 0 ? ranks / hosts : 0;
  return std::make_pair(ranks, shape);
}

int Selection(int ranks, int hosts) {
  auto world = SelectionWorld(ranks, hosts);
  if (!world.ok()) {
    std::fprintf(stderr, "tidal-info --selection: %s\n", world.status().ToString().c_str());
    return 2;
  }
  std::fputs(tidal::coll::SelectionTable(world->first, world->second).c_str(), stdout);
  return 0;
}

std::string RingText(const Communicator& comm) {
  std::string text;
  for (int r : comm.ring_order()) text += std::to_string(r) + ">";
  return text + std::to_string(comm.ring_order().front());
}

// Passes a token around the ring `laps` times; returns the mean time per hop in microseconds,
// measured between this rank's consecutive receives (one lap = size hops).
tidal::Result<double> PassToken(Communicator& comm, int laps) {
  const int n = comm.size();
  const int pos = comm.ring_position();
  const int next = comm.ring_order()[static_cast<size_t>((pos + 1) % n)];
  const int prev = comm.ring_order()[static_cast<size_t>((pos + n - 1) % n)];
  int64_t token = 0;
  std::chrono::steady_clock::time_point first{};
  for (int lap = 0; lap <= laps; ++lap) {
    if (pos == 0) {
      token = int64_t{lap} * n;
      TIDAL_RETURN_IF_ERROR(comm.Send(next, &token, sizeof(token)));
    }
    TIDAL_RETURN_IF_ERROR(comm.Recv(prev, &token, sizeof(token)));
    // Position p > 0 receives lap * n + p - 1; position 0 gets the token back as lap * n + n - 1.
    const int64_t expected = int64_t{lap} * n + (pos == 0 ? n : pos) - 1;
    if (token != expected) {
      return tidal::InternalError("rank ", comm.rank(), ": token ", token, " on lap ", lap,
                                  ", expected ", expected);
    }
    if (lap == 0) first = std::chrono::steady_clock::now();
    if (pos != 0) {
      ++token;
      TIDAL_RETURN_IF_ERROR(comm.Send(next, &token, sizeof(token)));
    }
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - first).count();
  return laps > 0 ? us / (laps * n) : 0.0;
}

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

// Blocks in a receive that never matches for `ms`; prints the CPU time used meanwhile.
Status Idle(Communicator& comm, int ms) {
  const auto saved = comm.timeout();
  comm.set_timeout(std::chrono::milliseconds(ms));
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t never = 0;
  const Status idle = comm.Recv(comm.ring_order()[0], &never, sizeof(never), /*tag=*/7);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  comm.set_timeout(saved);
  if (idle.code() != tidal::StatusCode::kTimedOut) {
    return tidal::InternalError("idle receive ended with ", idle.ToString());
  }
  std::printf("rank %d idle: %.1f ms CPU in %.1f ms blocked (%.2f%% of one core)\n", comm.rank(),
              cpu * 1e3, wall * 1e3, 100.0 * cpu / wall);
  return comm.Barrier();
}

int Check(int laps, int idle_ms) {
  tidal::Result<std::unique_ptr<Communicator>> world = Communicator::CreateWorld();
  if (!world.ok()) {
    std::fprintf(stderr, "tidal-info --check: creating the world communicator failed: %s\n",
                 world.status().ToString().c_str());
    return 1;
  }
  Communicator& comm = **world;
  tidal::Result<double> per_hop = PassToken(comm, laps);
  Status st = per_hop.status();
  if (st.ok()) st = comm.Barrier();
  if (!st.ok()) {
    std::fprintf(stderr, "tidal-info --check: rank %d/%d: token failed: %s\n", comm.rank(),
                 comm.size(), st.ToString().c_str());
    comm.Abort(st);
    return 1;
  }
  std::printf(
      "rank %d/%d (local %d/%d, host %s, ring position %d): token ok (ring %s, %.1f us "
      "per hop)\n",
      comm.rank(), comm.size(), comm.local_rank(), comm.local_size(),
      comm.placement(comm.rank()).host_id.c_str(), comm.ring_position(), RingText(comm).c_str(),
      *per_hop);
  std::fflush(stdout);
  if (idle_ms > 0) st = Idle(comm, idle_ms);
  if (!st.ok()) {
    std::fprintf(stderr, "tidal-info --check: rank %d: %s\n", comm.rank(), st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  int laps = 100;
  int idle_ms = 0;
  bool selection = false;
  int ranks = 0;
  int hosts = 0;
  CLI::App app{"tidal-info: version, build options, UCX, CUDA and knobs; --check tests a job"};
  app.add_flag("--check", check,
               "under a launcher: create the world communicator and pass a token around the ring");
  app.add_option("--laps", laps, "token laps for --check (the first is a warm-up)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--idle-ms", idle_ms,
                 "after --check, block every rank in a receive for this long and print its CPU")
      ->check(CLI::Range(0, 3600000));
  app.add_flag("--selection", selection,
               "print which algorithm each collective picks per message size, and the knobs that "
               "force one");
  app.add_option("--ranks", ranks, "--selection for this many ranks (default: this job's world)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--hosts", hosts,
                 "--selection with the ranks spread over this many hosts (uneven when they do "
                 "not divide; default: from the launcher, else 1)")
      ->check(CLI::Range(1, 1 << 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (selection) return Selection(ranks, hosts);
  if (!check) {
    PrintInfo();
    std::printf("algorithm selection: tidal-info --selection [--ranks N --hosts H]\n");
    return 0;
  }
  return Check(laps, idle_ms);
}
