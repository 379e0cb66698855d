// Placements: host ids, the wire codec, placement detection and rank assignment (see placement.h).
#include "tidal/topology/placement.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "tidal/core/check.h"
#include "tidal/core/knobs.h"

namespace tidal {
namespace {

constexpr uint8_t kMagic0 = 'T';
constexpr uint8_t kMagic1 = 'P';

bool IsHostIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

void PutInt32(std::vector<uint8_t>& out, int value) {
  const auto bits = static_cast<uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(bits >> shift));
}

int GetInt32(std::span<const uint8_t> in) {
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) bits |= static_cast<uint32_t>(in[static_cast<size_t>(i)]) << (8 * i);
  return static_cast<int>(bits);  // two's complement: C++20 defines the conversion
}

// The cores of `host` in the order AssignRanks gives them to local ranks.
std::vector<CoreSlot> CoreOrder(const TopoHost& host, RankMapping mapping) {
  std::vector<CoreSlot> slots = FlattenCores(host);
  if (mapping == RankMapping::kCompact) return slots;
  // Scatter: group by (package, NUMA node) in tree order, then deal one core from each group.
  std::vector<std::vector<CoreSlot>> groups;
  for (size_t i = 0; i < slots.size(); ++i) {
    const bool same = i > 0 && slots[i].package == slots[i - 1].package &&
                      slots[i].numa_node == slots[i - 1].numa_node;
    if (!same) groups.emplace_back();
    groups.back().push_back(slots[i]);
  }
  std::vector<CoreSlot> order;
  for (size_t round = 0; order.size() < slots.size(); ++round) {
    for (const std::vector<CoreSlot>& group : groups) {
      if (round < group.size()) order.push_back(group[round]);
    }
  }
  return order;
}

}  // namespace

std::string PlacementToString(const Placement& placement) {
  return StrCat("host=", placement.host_id, " numa=", placement.numa_node, " core=", placement.core,
                " local_rank=", placement.local_rank);
}

std::ostream& operator<<(std::ostream& os, const Placement& placement) {
  return os << PlacementToString(placement);
}

Status ValidateHostId(std::string_view id) {
  if (id.empty()) return InvalidArgumentError("host id is empty");
  if (id.size() > kMaxHostIdBytes) {
    return InvalidArgumentError("host id of ", id.size(), " bytes is longer than ",
                                kMaxHostIdBytes);
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsHostIdChar(id[i])) {
      return InvalidArgumentError("host id '", id, "' has a bad character (code ",
                                  static_cast<int>(static_cast<unsigned char>(id[i])),
                                  ") at offset ", i, "; allowed: A-Z a-z 0-9 . _ : -");
    }
  }
  return Status::Ok();
}

Result<std::string> LocalHostId() {
  if (KnobIsSet(Knob::kHostId)) {
    std::string id = KnobString(Knob::kHostId);
    TIDAL_RETURN_IF_ERROR(ValidateHostId(id).WithContext(GetKnobInfo(Knob::kHostId).name));
    return id;
  }
  char name[kMaxHostIdBytes + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return ErrnoError("gethostname", errno);
  std::string id(name);
  TIDAL_RETURN_IF_ERROR(ValidateHostId(id).WithContext("host name"));
  return id;
}

Status ValidatePlacement(const Placement& placement) {
  TIDAL_RETURN_IF_ERROR(ValidateHostId(placement.host_id));
  if (placement.numa_node < -1 || placement.core < -1 || placement.local_rank < -1) {
    return InvalidArgumentError("placement ", placement, ": a field is below -1");
  }
  return Status::Ok();
}

std::vector<uint8_t> EncodePlacement(const Placement& placement) {
  TIDAL_CHECK_OK(ValidatePlacement(placement));
  std::vector<uint8_t> out;
  out.reserve(kPlacementFixedBytes + placement.host_id.size());
  out.push_back(kMagic0);
  out.push_back(kMagic1);
  out.push_back(kPlacementWireVersion);
  out.push_back(static_cast<uint8_t>(placement.host_id.size()));
  for (char c : placement.host_id) out.push_back(static_cast<uint8_t>(c));
  PutInt32(out, placement.numa_node);
  PutInt32(out, placement.core);
  PutInt32(out, placement.local_rank);
  return out;
}

Result<Placement> DecodePlacement(std::span<const uint8_t> blob) {
  if (blob.size() < kPlacementFixedBytes) {
    return InvalidArgumentError("placement blob of ", blob.size(), " bytes is truncated (at least ",
                                kPlacementFixedBytes + 1, ")");
  }
  if (blob[0] != kMagic0 || blob[1] != kMagic1) {
    return InvalidArgumentError("placement blob has a bad magic");
  }
  if (blob[2] != kPlacementWireVersion) {
    return InvalidArgumentError("placement blob version ", static_cast<int>(blob[2]),
                                " is not supported (expected ", int{kPlacementWireVersion}, ")");
  }
  const size_t length = blob[3];
  if (blob.size() != kPlacementFixedBytes + length) {
    return InvalidArgumentError("placement blob of ", blob.size(), " bytes; host id length ",
                                length, " needs ", kPlacementFixedBytes + length);
  }
  Placement placement;
  placement.host_id.assign(blob.begin() + 4, blob.begin() + 4 + static_cast<ptrdiff_t>(length));
  const std::span<const uint8_t> ints = blob.subspan(4 + length);
  placement.numa_node = GetInt32(ints.subspan(0, 4));
  placement.core = GetInt32(ints.subspan(4, 4));
  placement.local_rank = GetInt32(ints.subspan(8, 4));
  TIDAL_RETURN_IF_ERROR(ValidatePlacement(placement).WithContext("placement blob"));
  return placement;
}

Placement PlacementFromCpus(const TopoHost& host, std::span<const int> cpus, int local_rank) {
  std::map<int, CoreSlot> slot_of_pu;
  for (const TopoPackage& package : host.packages) {
    for (const TopoNumaNode& numa : package.numa_nodes) {
      for (const TopoCore& core : numa.cores) {
        for (int pu : core.pus) slot_of_pu[pu] = {package.os_index, numa.os_index, core.index};
      }
    }
  }
  std::set<int> cores, numas;
  for (int cpu : cpus) {
    const auto it = slot_of_pu.find(cpu);
    if (it == slot_of_pu.end()) continue;
    cores.insert(it->second.core);
    numas.insert(it->second.numa_node);
  }
  Placement placement{host.id, -1, -1, local_rank};
  if (numas.size() == 1) placement.numa_node = *numas.begin();
  if (cores.size() == 1) placement.core = *cores.begin();
  return placement;
}

Result<Placement> DetectLocalPlacement(const TopoHost& host, int local_rank) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0) return ErrnoError("sched_getaffinity", errno);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) cpus.push_back(cpu);
  }
  return PlacementFromCpus(host, cpus, local_rank);
}

Result<std::vector<Placement>> AssignRanks(const Topology& topology, int world_size,
                                           int ranks_per_host, RankMapping mapping) {
  if (world_size < 1) return InvalidArgumentError("AssignRanks: world size ", world_size, " < 1");
  if (ranks_per_host < 0) {
    return InvalidArgumentError("AssignRanks: ranks per host ", ranks_per_host, " < 0");
  }
  TIDAL_RETURN_IF_ERROR(ValidateTopology(topology).WithContext("AssignRanks"));
  std::vector<Placement> placements;
  int64_t capacity = 0;
  for (const TopoHost& host : topology.hosts) {
    const std::vector<CoreSlot> cores = CoreOrder(host, mapping);
    const int take = ranks_per_host > 0 ? ranks_per_host : static_cast<int>(cores.size());
    capacity += take;
    for (int j = 0; j < take && static_cast<int>(placements.size()) < world_size; ++j) {
      const CoreSlot& slot = cores[static_cast<size_t>(j) % cores.size()];
      placements.push_back(Placement{host.id, slot.numa_node, slot.core, j});
    }
  }
  if (static_cast<int>(placements.size()) < world_size) {
    return InvalidArgumentError("AssignRanks: ", world_size, " ranks do not fit on ",
                                topology.hosts.size(), " hosts taking ", capacity, " ranks",
                                ranks_per_host > 0 ? "" : " (one per core; set ranks per host)");
  }
  return placements;
}

}  // namespace tidal
