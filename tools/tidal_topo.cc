// tidal-topo: prints a topology (detected with hwloc, synthetic, or loaded from a dump), and with
// --ranks the placements AssignRanks gives N ranks on it and the ring order ComputeRingOrder
// builds from them, with host (||) and NUMA (|) boundaries marked.
//
//   tidal-topo                                       the detected topology, as a dump
//   tidal-topo --synthetic "hosts=2 numa=2 cores=2" --ranks 8 [--ranks-per-host 4]
//   tidal-topo --dump topo.txt                       also writes the dump to topo.txt
//   tidal-topo --load topo.txt --ranks 4             reads a dump instead of detecting
//
// Exit status: 0 on success, 1 on a tidal error (printed to stderr), CLI11's code on bad flags.
// CLI11 throws on bad flags; main() is the only place that catches.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tidal/core/status.h"
#include "tidal/topology/placement.h"
#include "tidal/topology/ring.h"
#include "tidal/topology/topology.h"

namespace tidal {
namespace {

struct Options {
  std::string synthetic;
  std::string load_path;
  std::string dump_path;
  int ranks = 0;
  int ranks_per_host = 0;
  std::string mapping = "compact";
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("cannot open ", path);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError("cannot read ", path);
  return std::move(text).str();
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return IoError("cannot write ", path);
  return Status::Ok();
}

Result<Topology> GetTopology(const Options& options) {
  if (!options.synthetic.empty()) return ParseSyntheticTopology(options.synthetic);
  if (!options.load_path.empty()) {
    TIDAL_ASSIGN_OR_RETURN(std::string text, ReadFile(options.load_path));
    Result<Topology> topology = ParseTopologyDump(text);
    if (!topology.ok()) return topology.status().WithContext(options.load_path);
    return topology;
  }
  return DiscoverTopology();
}

void PrintPlacements(std::span<const Placement> placements) {
  std::cout << "# placements (" << placements.size() << " ranks)\n";
  for (size_t rank = 0; rank < placements.size(); ++rank) {
    std::cout << "rank " << rank << ": " << placements[rank] << "\n";
  }
}

// "0 1 | 2 3 || 4 5 | 6 7": '||' between hosts, '|' between NUMA nodes of one host.
std::string RingLine(std::span<const int> ring, std::span<const Placement> placements) {
  std::ostringstream os;
  for (size_t i = 0; i < ring.size(); ++i) {
    if (i > 0) {
      const Placement& a = placements[static_cast<size_t>(ring[i - 1])];
      const Placement& b = placements[static_cast<size_t>(ring[i])];
      os << (a.host_id != b.host_id ? " || " : a.numa_node != b.numa_node ? " | " : " ");
    }
    os << ring[i];
  }
  return std::move(os).str();
}

void PrintLayout(const HostLayout& layout, std::span<const Placement> placements) {
  std::cout << "# ring order ('||' host boundary, '|' NUMA boundary)\n"
            << RingLine(layout.ring, placements) << "\n";
  std::cout << "# host groups: " << layout.local_groups.size() << "\n";
  for (size_t h = 0; h < layout.local_groups.size(); ++h) {
    const std::vector<int>& group = layout.local_groups[h];
    std::cout << "host " << placements[static_cast<size_t>(group.front())].host_id << ": leader "
              << layout.leaders[h] << ", ranks";
    for (int rank : group) std::cout << " " << rank;
    std::cout << "\n";
  }
}

Status Run(const Options& options) {
  TIDAL_ASSIGN_OR_RETURN(Topology topology, GetTopology(options));
  std::vector<Placement> placements;
  if (options.ranks > 0) {
    const RankMapping mapping =
        options.mapping == "scatter" ? RankMapping::kScatter : RankMapping::kCompact;
    TIDAL_ASSIGN_OR_RETURN(placements,
                           AssignRanks(topology, options.ranks, options.ranks_per_host, mapping));
  }
  const std::string dump = DumpTopology(topology);
  if (!options.dump_path.empty()) TIDAL_RETURN_IF_ERROR(WriteFile(options.dump_path, dump));
  std::cout << dump;
  if (placements.empty()) return Status::Ok();
  PrintPlacements(placements);
  PrintLayout(ComputeHostLayout(placements), placements);
  return Status::Ok();
}

void AddFlags(CLI::App& app, Options& options) {
  CLI::Option* synthetic = app.add_option("--synthetic", options.synthetic,
                                          "Synthetic topology spec, e.g. \"hosts=2 numa=2 "
                                          "cores=2\" or \"host:a numa=2 cores=4; host:b cores=2\"");
  app.add_option("--load", options.load_path, "Read the topology from a dump file")
      ->excludes(synthetic);
  app.add_option("--dump", options.dump_path, "Also write the topology dump to this file");
  CLI::Option* ranks =
      app.add_option("--ranks", options.ranks, "Assign this many ranks and print the ring order")
          ->check(CLI::Range(1, 1 << 20));
  app.add_option("--ranks-per-host", options.ranks_per_host,
                 "Ranks per host (default: one per core)")
      ->check(CLI::Range(1, 1 << 20))
      ->needs(ranks);
  app.add_option("--map", options.mapping,
                 "Cores for a host's ranks: compact (fill NUMA nodes in turn) or scatter "
                 "(round-robin over NUMA nodes)")
      ->check(CLI::IsMember({"compact", "scatter"}))
      ->needs(ranks);
}

}  // namespace
}  // namespace tidal

int main(int argc, char** argv) {
  CLI::App app("tidal-topo: print a detected or synthetic topology and the ring order");
  tidal::Options options;
  try {
    tidal::AddFlags(app, options);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  const tidal::Status status = tidal::Run(options);
  if (!status.ok()) {
    std::cerr << "tidal-topo: " << status << "\n";
    return 1;
  }
  return 0;
}
