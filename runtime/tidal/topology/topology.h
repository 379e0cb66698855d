// Topology: what the machines of a job look like — hosts, and in each host its packages (sockets),
// NUMA nodes, cores with their PUs (hardware threads), and the PCI GPUs and NICs that matter for
// communication, with their NUMA affinity. It is data, nothing more: it comes from hwloc on this
// host (DiscoverHost), from a synthetic spec for tests (ParseSyntheticTopology), or from a dump
// (ParseTopologyDump), and it can be dumped back (DumpTopology). Placements of ranks and the ring
// order built from them live in placement.h and ring.h.
//
// It is not a general hwloc mirror: caches, memory-only NUMA nodes (no cores, e.g. CXL or HBM
// expanders) and PCI devices other than GPUs and NICs are left out.
//
// Tree: Topology → TopoHost → TopoPackage → TopoNumaNode → TopoCore. A NUMA node that spans
// several packages (hwloc reports one machine-wide node when the OS has no NUMA information)
// appears under each of them, with the cores of that package.
//
// Canonical dump, version 1 (DumpTopology writes it; ParseTopologyDump reads it back, so that
// DumpTopology(*ParseTopologyDump(DumpTopology(t))) == DumpTopology(t) for every valid t):
//
//   tidal-topology 1
//   host node-a
//     package 0
//       numa 0 memory=68719476736
//         core 0 pus=0,32
//         core 1 pus=1,33
//     pci 0000:3b:00.0 kind=gpu numa=0 names=cuda0,nvml0
//     pci 0000:5e:00.0 kind=nic numa=-1 names=mlx5_0,ib0
//
// One record per line: a keyword, one positional value, then key=value fields in any order. A
// record belongs to the closest record above it of the enclosing level ("core" to the last "numa",
// "numa" to the last "package", "package" and "pci" to the last "host"), so indentation is
// cosmetic. `memory=` (bytes; omitted
// when unknown) and `names=` (OS device names; omitted when none) are optional. Blank lines and
// lines starting with '#' are ignored. Core indices are host-wide (hwloc logical indices for a
// detected host); PUs and NUMA nodes are OS indices.
//
// Thread safety: the types are plain values. Every function is thread-safe; DiscoverHost loads its
// own hwloc topology on each call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"

namespace tidal {

struct TopoCore {
  int index = 0;         // host-wide core index, unique in the host
  std::vector<int> pus;  // OS indices of its hardware threads, unique in the host; non-empty
  friend bool operator==(const TopoCore&, const TopoCore&) = default;
};

struct TopoNumaNode {
  int os_index = 0;             // OS NUMA node number, unique in its package
  uint64_t memory_bytes = 0;    // local memory; 0 when unknown
  std::vector<TopoCore> cores;  // non-empty
  friend bool operator==(const TopoNumaNode&, const TopoNumaNode&) = default;
};

struct TopoPackage {
  int os_index = 0;                      // unique in the host
  std::vector<TopoNumaNode> numa_nodes;  // non-empty
  friend bool operator==(const TopoPackage&, const TopoPackage&) = default;
};

enum class PciKind : uint8_t { kGpu, kNic };
// "gpu" or "nic".
std::string_view PciKindName(PciKind kind);

struct TopoPciDevice {
  std::string bus_id;  // "dddd:bb:dd.f" in hex, unique in the host
  PciKind kind = PciKind::kNic;
  int numa_node = -1;              // OS index of the closest NUMA node; -1 when unknown
  std::vector<std::string> names;  // OS device names ("cuda0", "mlx5_0", "eth0"); may be empty
  friend bool operator==(const TopoPciDevice&, const TopoPciDevice&) = default;
};

struct TopoHost {
  std::string id;  // host id (see ValidateHostId in placement.h), unique in the topology
  std::vector<TopoPackage> packages;  // non-empty
  std::vector<TopoPciDevice> pci_devices;
  friend bool operator==(const TopoHost&, const TopoHost&) = default;
};

struct Topology {
  std::vector<TopoHost> hosts;  // non-empty
  friend bool operator==(const Topology&, const Topology&) = default;
};

// One core of a host with where it sits; FlattenCores lists them in tree order.
struct CoreSlot {
  int package = 0;    // package OS index
  int numa_node = 0;  // NUMA node OS index
  int core = 0;       // host-wide core index
};
std::vector<CoreSlot> FlattenCores(const TopoHost& host);
int CoreCount(const TopoHost& host);
int NumaNodeCount(const TopoHost& host);  // counts a node spanning packages once per package

// Checks the invariants stated on the fields above (non-empty levels, unique indices and ids,
// valid host ids, bus ids and names, PCI NUMA affinity naming a NUMA node of the host).
// Returns kInvalidArgument naming the host and the offending element.
Status ValidateTopology(const Topology& topology);

// Writes the canonical dump described above. REQUIRES: ValidateTopology(topology).ok().
std::string DumpTopology(const Topology& topology);

// Parses a dump. Returns kInvalidArgument with the line number, the line, and what is wrong, or
// naming the element that breaks an invariant of ValidateTopology.
Result<Topology> ParseTopologyDump(std::string_view text);

// Synthetic topologies for tests and tidal-topo. A spec is one or more host groups separated by
// ';'. A group is whitespace-separated fields, each at most once:
//
//   host:NAME    one host named NAME          (excludes hosts=)
//   hosts=N      N identical hosts, named host<i> by their position i in the whole topology
//   packages=P   packages per host            (default 1)
//   numa=M       NUMA nodes per package       (default 1)
//   cores=C      cores per NUMA node          (default 1)
//   pus=T        hardware threads per core    (default 1)
//   gpus=G       GPUs per host, spread round-robin over its NUMA nodes  (default 0)
//   nics=K       NICs per host, likewise                                 (default 0)
//
// A group with neither host: nor hosts= is one host named by its position. Examples:
//   "hosts=2 numa=2 cores=2"                     2 hosts x 2 NUMA nodes x 2 cores: 8 cores
//   "host:a numa=2 cores=4; host:b cores=2"      uneven hosts: 8 cores on a, 2 on b
//   "hosts=2 packages=2 cores=8 pus=2 gpus=4 nics=2"
// Numbering is dense per host: packages 0..P-1, NUMA nodes 0..P*M-1, cores 0..P*M*C-1, and core i
// has PUs i*T .. i*T+T-1. Devices get bus ids 0000:<n>:00.0 and names gpu<j> / nic<j>.
// Returns kInvalidArgument naming the group and the field for an unknown field, a repeated field,
// a count that is not a positive integer (gpus and nics may be 0) or over its limit (hosts 4096,
// packages 64, numa 64, cores 4096, pus 16, gpus 64, nics 64; 65536 cores in all), an empty group,
// or a duplicate host name.
Result<Topology> ParseSyntheticTopology(std::string_view spec);

// Discovers this host with hwloc: packages, NUMA nodes, cores (PUs as cores when the platform
// reports none) within this process's allowed CPU set, and PCI GPUs and NICs when visible. The id
// is LocalHostId() (placement.h). Blocks while hwloc reads /sys (milliseconds).
// Returns kIoError when hwloc fails, or the error of LocalHostId().
Result<TopoHost> DiscoverHost();
// A Topology holding DiscoverHost().
Result<Topology> DiscoverTopology();

}  // namespace tidal
