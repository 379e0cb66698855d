// Placement: where one rank runs — its host, NUMA node, core and local rank. At communicator
// creation every rank publishes its EncodePlacement() blob in the store and decodes everyone
// else's; ComputeRingOrder (ring.h) turns the placements into the ring order. This header also
// owns the host id (hostname, or the TIDAL_HOST_ID knob so that tests can model several hosts on
// one machine) and AssignRanks, which lays N ranks out on a topology for tests and tidal-topo.
//
// It does not bind processes to cores: it reports where a rank already runs.
//
// Wire format, version 1 (all integers little-endian), 16 + L bytes:
//
//   offset  size  field
//   0       2     magic 'T' 'P'
//   2       1     version = 1
//   3       1     L = length of host_id, 1..255
//   4       L     host_id (ValidateHostId characters)
//   4+L     4     numa_node   int32, >= -1
//   8+L     4     core        int32, >= -1
//   12+L    4     local_rank  int32, >= -1
//
// An incompatible change bumps the version; DecodePlacement refuses versions it does not know.
//
// Thread safety: Placement is a value; every function is thread-safe (LocalHostId reads the
// environment and calls gethostname).
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/topology/topology.h"

namespace tidal {

struct Placement {
  std::string host_id;  // ValidateHostId holds
  int numa_node = -1;   // OS index of the NUMA node the rank is bound to; -1 unknown or unbound
  int core = -1;        // host-wide core index (TopoCore::index); -1 unknown or unbound
  int local_rank = -1;  // the launcher's rank among this host's ranks; -1 unknown
  friend bool operator==(const Placement&, const Placement&) = default;
};

// "host=a numa=0 core=3 local_rank=1"
std::string PlacementToString(const Placement& placement);
std::ostream& operator<<(std::ostream& os, const Placement& placement);

inline constexpr uint8_t kPlacementWireVersion = 1;
inline constexpr size_t kPlacementFixedBytes = 16;  // every field but host_id's characters
inline constexpr size_t kMaxHostIdBytes = 255;

// Returns OK when `id` is 1..255 characters from [A-Za-z0-9._:-], else kInvalidArgument quoting
// the id and the first bad character.
Status ValidateHostId(std::string_view id);

// This process's host id: TIDAL_HOST_ID when set, else the host name.
// Returns kInvalidArgument when the knob is set but invalid (empty included), kIoError when
// gethostname fails.
Result<std::string> LocalHostId();

// REQUIRES: ValidatePlacement(placement).ok().
std::vector<uint8_t> EncodePlacement(const Placement& placement);
// Decodes a blob from the wire; never trusts it. Returns kInvalidArgument saying what is wrong
// (bad magic, unknown version, truncated or trailing bytes, bad host id, field below -1).
Result<Placement> DecodePlacement(std::span<const uint8_t> blob);
// Host id valid, numa_node, core and local_rank >= -1.
Status ValidatePlacement(const Placement& placement);

// Where a process whose allowed CPUs (OS PU indices) are `cpus` runs on `host`: core and NUMA
// node when all of them are PUs of one core; only the NUMA node when they span cores of one NUMA
// node; neither otherwise (or when `cpus` is empty or names no PU of the host).
Placement PlacementFromCpus(const TopoHost& host, std::span<const int> cpus, int local_rank);
// PlacementFromCpus with this process's affinity mask (sched_getaffinity); host_id is host.id.
// Returns kIoError when the system call fails.
Result<Placement> DetectLocalPlacement(const TopoHost& host, int local_rank);

// How AssignRanks walks the cores of one host.
enum class RankMapping : uint8_t {
  kCompact,  // local rank j on the j-th core in tree order (fills NUMA node 0 first)
  kScatter,  // round-robin over NUMA nodes: local rank j on NUMA node j mod M
};

// Lays `world_size` ranks out on `topology`, host by host in topology order (block mapping: the
// ranks of one host are consecutive). With ranks_per_host > 0 every host takes that many ranks
// (the last ones may take fewer or none) and local ranks wrap around the cores when there are
// more ranks than cores; with ranks_per_host == 0 each host takes as many ranks as it has cores.
// Returns kInvalidArgument for world_size < 1, ranks_per_host < 0, an invalid topology, or more
// ranks than the hosts can take.
Result<std::vector<Placement>> AssignRanks(const Topology& topology, int world_size,
                                           int ranks_per_host = 0,
                                           RankMapping mapping = RankMapping::kCompact);

}  // namespace tidal
