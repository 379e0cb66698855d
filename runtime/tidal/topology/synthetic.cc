// The reader of synthetic topology specs (grammar and numbering in topology.h). A spec is split
// into ';'-separated host groups; each group's fields are read into a GroupSpec, checked, and then
// expanded into identical hosts.
#include <cstdio>
#include <string>

#include "tidal/topology/placement.h"
#include "tidal/topology/text_util.h"
#include "tidal/topology/topology.h"

namespace tidal {
namespace {

using topo_internal::ParseInt;
using topo_internal::Split;
using topo_internal::SplitWhitespace;
using topo_internal::Trim;

// Caps keep a typo from allocating gigabytes.
constexpr int64_t kMaxTotalCores = 1 << 16;

struct CountField {
  std::string_view key;
  int64_t min;
  int64_t max;
};
constexpr CountField kCountFields[] = {
    {"hosts", 1, 4096}, {"packages", 1, 64}, {"numa", 1, 64}, {"cores", 1, 4096},
    {"pus", 1, 16},     {"gpus", 0, 64},     {"nics", 0, 64},
};
constexpr size_t kNumCountFields = std::size(kCountFields);

struct GroupSpec {
  std::string name;  // from host:NAME; empty when absent
  // Values in kCountFields order; -1 when absent.
  int64_t counts[kNumCountFields] = {-1, -1, -1, -1, -1, -1, -1};

  int64_t Get(std::string_view key, int64_t fallback) const {
    for (size_t i = 0; i < kNumCountFields; ++i) {
      if (kCountFields[i].key == key) return counts[i] < 0 ? fallback : counts[i];
    }
    return fallback;
  }
};

Status SetCount(GroupSpec& group, std::string_view key, std::string_view value) {
  for (size_t i = 0; i < kNumCountFields; ++i) {
    const CountField& field = kCountFields[i];
    if (field.key != key) continue;
    if (group.counts[i] >= 0) return InvalidArgumentError("'", key, "' given twice");
    const std::optional<int64_t> count = ParseInt(value, field.min, field.max);
    if (!count) {
      return InvalidArgumentError("'", key, "=", value, "': expected an integer in [", field.min,
                                  ", ", field.max, "]");
    }
    group.counts[i] = *count;
    return Status::Ok();
  }
  return InvalidArgumentError("unknown field '", key,
                              "' (expected host:NAME, hosts, packages, numa, cores, pus, gpus or "
                              "nics)");
}

Status ReadField(GroupSpec& group, std::string_view token) {
  if (token.starts_with("host:")) {
    if (!group.name.empty()) return InvalidArgumentError("'host:' given twice");
    group.name = std::string(token.substr(5));
    const Status valid = ValidateHostId(group.name);
    return valid.ok() ? valid : InvalidArgumentError("'", token, "': ", valid.message());
  }
  const size_t eq = token.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgumentError("'", token, "' is neither host:NAME nor key=count");
  }
  return SetCount(group, token.substr(0, eq), token.substr(eq + 1));
}

Result<GroupSpec> ReadGroup(std::string_view text) {
  const std::vector<std::string_view> tokens = SplitWhitespace(text);
  if (tokens.empty()) return InvalidArgumentError("empty host group");
  GroupSpec group;
  for (std::string_view token : tokens) TIDAL_RETURN_IF_ERROR(ReadField(group, token));
  if (!group.name.empty() && group.Get("hosts", -1) >= 0) {
    return InvalidArgumentError("host:NAME and hosts= exclude each other");
  }
  return group;
}

// Spreads `count` devices of `kind` over the host's NUMA nodes round-robin.
void AddDevices(TopoHost& host, PciKind kind, int64_t count, int& next_bus) {
  std::vector<int> numa_ids;
  for (const TopoPackage& package : host.packages) {
    for (const TopoNumaNode& numa : package.numa_nodes) numa_ids.push_back(numa.os_index);
  }
  for (int64_t j = 0; j < count; ++j) {
    TopoPciDevice device;
    char bus[16];
    std::snprintf(bus, sizeof(bus), "0000:%02x:00.0", next_bus++);  // at most 128 devices
    device.bus_id = bus;
    device.kind = kind;
    device.numa_node = numa_ids[static_cast<size_t>(j) % numa_ids.size()];
    device.names.push_back(StrCat(kind == PciKind::kGpu ? "gpu" : "nic", j));
    host.pci_devices.push_back(std::move(device));
  }
}

TopoHost BuildHost(const GroupSpec& group, std::string id) {
  const int64_t packages = group.Get("packages", 1), numa = group.Get("numa", 1);
  const int64_t cores = group.Get("cores", 1), pus = group.Get("pus", 1);
  TopoHost host{std::move(id), {}, {}};
  int numa_index = 0, core_index = 0;
  for (int64_t p = 0; p < packages; ++p) {
    TopoPackage package{static_cast<int>(p), {}};
    for (int64_t m = 0; m < numa; ++m) {
      TopoNumaNode node{numa_index++, 0, {}};
      for (int64_t c = 0; c < cores; ++c, ++core_index) {
        TopoCore core{core_index, {}};
        for (int64_t t = 0; t < pus; ++t)
          core.pus.push_back(static_cast<int>(core_index * pus + t));
        node.cores.push_back(std::move(core));
      }
      package.numa_nodes.push_back(std::move(node));
    }
    host.packages.push_back(std::move(package));
  }
  int next_bus = 1;
  AddDevices(host, PciKind::kGpu, group.Get("gpus", 0), next_bus);
  AddDevices(host, PciKind::kNic, group.Get("nics", 0), next_bus);
  return host;
}

int64_t CoresPerHost(const GroupSpec& group) {
  return group.Get("packages", 1) * group.Get("numa", 1) * group.Get("cores", 1);
}

}  // namespace

Result<Topology> ParseSyntheticTopology(std::string_view spec) {
  const std::vector<std::string_view> texts = Split(spec, ';');
  std::vector<GroupSpec> groups;
  int64_t total_cores = 0;
  for (size_t g = 0; g < texts.size(); ++g) {
    Result<GroupSpec> group = ReadGroup(texts[g]);
    if (!group.ok()) {
      return InvalidArgumentError("synthetic topology '", spec, "': group ", g + 1, " ('",
                                  Trim(texts[g]), "'): ", group.status().message());
    }
    total_cores += group->Get("hosts", 1) * CoresPerHost(*group);
    if (total_cores > kMaxTotalCores) {
      return InvalidArgumentError("synthetic topology '", spec, "': more than ", kMaxTotalCores,
                                  " cores in all");
    }
    groups.push_back(std::move(*group));
  }
  Topology topology;
  for (const GroupSpec& group : groups) {
    for (int64_t h = 0, n = group.Get("hosts", 1); h < n; ++h) {
      std::string id = group.name.empty() ? StrCat("host", topology.hosts.size()) : group.name;
      topology.hosts.push_back(BuildHost(group, std::move(id)));
    }
  }
  const Status valid = ValidateTopology(topology);
  if (!valid.ok()) return valid.WithContext(StrCat("synthetic topology '", spec, "'"));
  return topology;
}

}  // namespace tidal
