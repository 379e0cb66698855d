// Topology helpers, the invariant checker and the canonical dump writer. The dump reader is in
// dump.cc, the synthetic spec reader in synthetic.cc, hwloc discovery in hwloc_discovery.cc.
#include "tidal/topology/topology.h"

#include <set>
#include <sstream>

#include "tidal/topology/placement.h"

namespace tidal {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// "dddd:bb:dd.f": hex fields of 4, 2 and 2 digits and one function digit.
bool IsValidBusId(std::string_view id) {
  constexpr std::string_view kPattern = "xxxx:xx:xx.x";
  if (id.size() != kPattern.size()) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (kPattern[i] == 'x' ? !IsHexDigit(id[i]) : id[i] != kPattern[i]) return false;
  }
  return true;
}

Status ValidateCores(const TopoNumaNode& numa, std::set<int>& core_ids, std::set<int>& pu_ids) {
  if (numa.cores.empty()) return InvalidArgumentError("numa ", numa.os_index, " has no core");
  for (const TopoCore& core : numa.cores) {
    if (core.index < 0) return InvalidArgumentError("core index ", core.index, " is negative");
    if (!core_ids.insert(core.index).second) {
      return InvalidArgumentError("core ", core.index, " appears twice");
    }
    if (core.pus.empty()) return InvalidArgumentError("core ", core.index, " has no PU");
    for (int pu : core.pus) {
      if (pu < 0 || !pu_ids.insert(pu).second) {
        return InvalidArgumentError("core ", core.index, ": PU ", pu, " is negative or repeated");
      }
    }
  }
  return Status::Ok();
}

Status ValidatePackages(const TopoHost& host, std::set<int>& numa_ids) {
  if (host.packages.empty()) return InvalidArgumentError("no package");
  std::set<int> package_ids, core_ids, pu_ids;
  for (const TopoPackage& package : host.packages) {
    if (package.os_index < 0 || !package_ids.insert(package.os_index).second) {
      return InvalidArgumentError("package ", package.os_index, " is negative or repeated");
    }
    if (package.numa_nodes.empty()) {
      return InvalidArgumentError("package ", package.os_index, " has no NUMA node");
    }
    std::set<int> numa_in_package;
    for (const TopoNumaNode& numa : package.numa_nodes) {
      if (numa.os_index < 0 || !numa_in_package.insert(numa.os_index).second) {
        return InvalidArgumentError("package ", package.os_index, ": numa ", numa.os_index,
                                    " is negative or repeated");
      }
      numa_ids.insert(numa.os_index);
      TIDAL_RETURN_IF_ERROR(ValidateCores(numa, core_ids, pu_ids));
    }
  }
  return Status::Ok();
}

Status ValidatePciDevices(const TopoHost& host, const std::set<int>& numa_ids) {
  std::set<std::string> bus_ids;
  for (const TopoPciDevice& device : host.pci_devices) {
    if (!IsValidBusId(device.bus_id)) {
      return InvalidArgumentError("pci bus id '", device.bus_id, "' is not dddd:bb:dd.f");
    }
    if (!bus_ids.insert(device.bus_id).second) {
      return InvalidArgumentError("pci ", device.bus_id, " appears twice");
    }
    if (device.kind != PciKind::kGpu && device.kind != PciKind::kNic) {
      return InvalidArgumentError("pci ", device.bus_id, " has an unknown kind");
    }
    if (device.numa_node != -1 && numa_ids.count(device.numa_node) == 0) {
      return InvalidArgumentError("pci ", device.bus_id, ": numa ", device.numa_node,
                                  " is not a NUMA node of the host");
    }
    for (const std::string& name : device.names) {
      if (!IsValidName(name)) {
        return InvalidArgumentError("pci ", device.bus_id, ": bad device name '", name, "'");
      }
    }
  }
  return Status::Ok();
}

Status ValidateHost(const TopoHost& host) {
  TIDAL_RETURN_IF_ERROR(ValidateHostId(host.id));
  std::set<int> numa_ids;
  TIDAL_RETURN_IF_ERROR(ValidatePackages(host, numa_ids));
  return ValidatePciDevices(host, numa_ids);
}

template <typename T>
std::string JoinComma(const std::vector<T>& items) {
  std::ostringstream os;
  for (size_t i = 0; i < items.size(); ++i) os << (i ? "," : "") << items[i];
  return std::move(os).str();
}

void DumpHost(const TopoHost& host, std::ostringstream& os) {
  os << "host " << host.id << "\n";
  for (const TopoPackage& package : host.packages) {
    os << "  package " << package.os_index << "\n";
    for (const TopoNumaNode& numa : package.numa_nodes) {
      os << "    numa " << numa.os_index;
      if (numa.memory_bytes != 0) os << " memory=" << numa.memory_bytes;
      os << "\n";
      for (const TopoCore& core : numa.cores) {
        os << "      core " << core.index << " pus=" << JoinComma(core.pus) << "\n";
      }
    }
  }
  for (const TopoPciDevice& device : host.pci_devices) {
    os << "  pci " << device.bus_id << " kind=" << PciKindName(device.kind)
       << " numa=" << device.numa_node;
    if (!device.names.empty()) os << " names=" << JoinComma(device.names);
    os << "\n";
  }
}

}  // namespace

std::string_view PciKindName(PciKind kind) {
  switch (kind) {
    case PciKind::kGpu:
      return "gpu";
    case PciKind::kNic:
      return "nic";
  }
  return "unknown";
}

std::vector<CoreSlot> FlattenCores(const TopoHost& host) {
  std::vector<CoreSlot> slots;
  for (const TopoPackage& package : host.packages) {
    for (const TopoNumaNode& numa : package.numa_nodes) {
      for (const TopoCore& core : numa.cores) {
        slots.push_back({package.os_index, numa.os_index, core.index});
      }
    }
  }
  return slots;
}

int CoreCount(const TopoHost& host) { return static_cast<int>(FlattenCores(host).size()); }

int NumaNodeCount(const TopoHost& host) {
  int count = 0;
  for (const TopoPackage& package : host.packages) {
    count += static_cast<int>(package.numa_nodes.size());
  }
  return count;
}

Status ValidateTopology(const Topology& topology) {
  if (topology.hosts.empty()) return InvalidArgumentError("topology has no host");
  std::set<std::string> host_ids;
  for (size_t i = 0; i < topology.hosts.size(); ++i) {
    const TopoHost& host = topology.hosts[i];
    const Status status = ValidateHost(host);
    if (!status.ok()) return status.WithContext(StrCat("topology host ", i, " '", host.id, "'"));
    if (!host_ids.insert(host.id).second) {
      return InvalidArgumentError("topology host ", i, ": host id '", host.id, "' appears twice");
    }
  }
  return Status::Ok();
}

std::string DumpTopology(const Topology& topology) {
  std::ostringstream os;
  os << "tidal-topology 1\n";
  for (const TopoHost& host : topology.hosts) DumpHost(host, os);
  return std::move(os).str();
}

Result<Topology> DiscoverTopology() {
  TIDAL_ASSIGN_OR_RETURN(TopoHost host, DiscoverHost());
  Topology topology;
  topology.hosts.push_back(std::move(host));
  return topology;
}

}  // namespace tidal
