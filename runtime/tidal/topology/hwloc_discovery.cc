// hwloc discovery of this host: the only file that includes hwloc.h, and the seam where hwloc
// errors become Statuses. hwloc (2.x) loads the whole machine restricted to the CPUs this process
// may use; we keep packages, the NUMA nodes with cores, cores with their PUs, and PCI GPUs and
// NICs (I/O filter "important").
//
// Each core is attached to its package ancestor (the machine when there are no packages) and to
// the first NUMA node whose CPU set meets its own. A PCI device is a GPU when its class is display
// (0x03xx) and its vendor NVIDIA or AMD, or when it has a co-processor OS device (cuda0,
// opencl0d0); it is a NIC when its class is network (0x02xx, InfiniBand included). Its NUMA
// affinity is the single NUMA node of its closest non-I/O ancestor, else -1.
#include <hwloc.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "tidal/core/logging.h"
#include "tidal/core/mutex.h"
#include "tidal/topology/placement.h"
#include "tidal/topology/topology.h"

namespace tidal {
namespace {

constexpr unsigned kPciVendorNvidia = 0x10de;
constexpr unsigned kPciVendorAmd = 0x1002;

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using HwlocPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// Serializes loads: hwloc's plugins (OpenCL, libpciaccess) are not all safe to run concurrently
// (open-mpi/hwloc#297), and ranks running as threads may discover at the same time.
Mutex& LoadMutex() {
  static Mutex mu;
  return mu;
}

// REQUIRES: LoadMutex() is held.
Result<HwlocPtr> LoadHwloc() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) return ErrnoError("hwloc_topology_init", errno);
  HwlocPtr topology(raw);
  if (hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0) {
    return ErrnoError("hwloc_topology_set_io_types_filter", errno);
  }
#if defined(__linux__)
  // The libpciaccess-based "pci" component leaks on every load (open-mpi/hwloc#636) and is not
  // thread-safe; on Linux hwloc's own sysfs reader finds the same PCI devices without it.
  if (hwloc_topology_set_components(raw, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci") != 0) {
    TIDAL_LOG(DEBUG, kTopo) << "hwloc: cannot blacklist the pci component; using it";
  }
#endif
  if (hwloc_topology_load(raw) != 0) return ErrnoError("hwloc_topology_load", errno);
  return topology;
}

std::vector<int> PusOf(hwloc_const_cpuset_t cpuset) {
  std::vector<int> pus;
  for (int pu = hwloc_bitmap_first(cpuset); pu >= 0; pu = hwloc_bitmap_next(cpuset, pu)) {
    pus.push_back(pu);
  }
  return pus;
}

// The cores, or the PUs when the platform reports no core objects.
hwloc_obj_type_t CoreType(hwloc_topology_t topology) {
  return hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

hwloc_obj_t NumaOf(hwloc_topology_t topology, hwloc_obj_t core) {
  hwloc_obj_t numa = nullptr;
  while ((numa = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, numa)) != nullptr) {
    if (numa->cpuset != nullptr && hwloc_bitmap_intersects(numa->cpuset, core->cpuset)) return numa;
  }
  return nullptr;
}

// package logical index -> NUMA logical index -> cores, all in hwloc's logical order.
struct NumaCores {
  hwloc_obj_t numa = nullptr;
  std::vector<TopoCore> cores;
};
using CoreTree = std::map<unsigned, std::pair<int, std::map<unsigned, NumaCores>>>;

Result<CoreTree> BuildCoreTree(hwloc_topology_t topology) {
  CoreTree tree;
  const hwloc_obj_type_t type = CoreType(topology);
  hwloc_obj_t core = nullptr;
  while ((core = hwloc_get_next_obj_by_type(topology, type, core)) != nullptr) {
    if (core->cpuset == nullptr || hwloc_bitmap_iszero(core->cpuset)) continue;
    const hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_PACKAGE, core);
    const hwloc_obj_t numa = NumaOf(topology, core);
    if (numa == nullptr)
      return InternalError("hwloc: core L#", core->logical_index, " has no NUMA");
    const unsigned package_key = package ? package->logical_index : 0;
    auto& [package_os, numas] = tree[package_key];
    package_os = package && package->os_index != HWLOC_UNKNOWN_INDEX
                     ? static_cast<int>(package->os_index)
                     : static_cast<int>(package_key);
    NumaCores& slot = numas[numa->logical_index];
    slot.numa = numa;
    slot.cores.push_back(TopoCore{static_cast<int>(core->logical_index), PusOf(core->cpuset)});
  }
  if (tree.empty()) return InternalError("hwloc found no core this process may use");
  return tree;
}

void AddPackages(const CoreTree& tree, TopoHost& host) {
  for (const auto& [key, package_entry] : tree) {
    const auto& [os_index, numas] = package_entry;
    TopoPackage package{os_index, {}};
    for (const auto& [numa_key, entry] : numas) {
      package.numa_nodes.push_back(TopoNumaNode{static_cast<int>(entry.numa->os_index),
                                                entry.numa->attr->numanode.local_memory,
                                                entry.cores});
    }
    host.packages.push_back(std::move(package));
  }
}

std::vector<std::string> OsDeviceNames(hwloc_obj_t pci, bool* has_coproc) {
  std::vector<std::string> names;
  for (hwloc_obj_t child = pci->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type != HWLOC_OBJ_OS_DEVICE || child->name == nullptr) continue;
    if (child->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC) *has_coproc = true;
    // Device names follow the host id's character rules; drop the odd one rather than fail.
    if (ValidateHostId(child->name).ok()) names.emplace_back(child->name);
  }
  return names;
}

std::optional<PciKind> Classify(hwloc_obj_t pci, bool has_coproc) {
  const unsigned base_class = pci->attr->pcidev.class_id >> 8;
  const unsigned vendor = pci->attr->pcidev.vendor_id;
  if (base_class == 0x02) return PciKind::kNic;
  if (base_class == 0x03 && (vendor == kPciVendorNvidia || vendor == kPciVendorAmd || has_coproc)) {
    return PciKind::kGpu;
  }
  return std::nullopt;
}

int PciNuma(hwloc_topology_t topology, hwloc_obj_t pci, const TopoHost& host) {
  const hwloc_obj_t ancestor = hwloc_get_non_io_ancestor_obj(topology, pci);
  if (ancestor == nullptr || ancestor->nodeset == nullptr ||
      hwloc_bitmap_weight(ancestor->nodeset) != 1) {
    return -1;
  }
  const int numa = hwloc_bitmap_first(ancestor->nodeset);
  for (const CoreSlot& slot : FlattenCores(host)) {
    if (slot.numa_node == numa) return numa;
  }
  return -1;  // a NUMA node without cores this process may use
}

std::string BusId(hwloc_obj_t pci) {
  const auto& attr = pci->attr->pcidev;
  char text[32];
  std::snprintf(text, sizeof(text), "%04x:%02x:%02x.%01x", static_cast<unsigned>(attr.domain),
                static_cast<unsigned>(attr.bus), static_cast<unsigned>(attr.dev),
                static_cast<unsigned>(attr.func));
  return text;
}

void AddPciDevices(hwloc_topology_t topology, TopoHost& host) {
  hwloc_obj_t pci = nullptr;
  while ((pci = hwloc_get_next_pcidev(topology, pci)) != nullptr) {
    bool has_coproc = false;
    std::vector<std::string> names = OsDeviceNames(pci, &has_coproc);
    const std::optional<PciKind> kind = Classify(pci, has_coproc);
    if (!kind) continue;
    host.pci_devices.push_back(
        TopoPciDevice{BusId(pci), *kind, PciNuma(topology, pci, host), std::move(names)});
  }
}

}  // namespace

Result<TopoHost> DiscoverHost() {
  TopoHost host;
  TIDAL_ASSIGN_OR_RETURN(host.id, LocalHostId());
  {
    MutexLock lock(&LoadMutex());
    TIDAL_ASSIGN_OR_RETURN(HwlocPtr topology, LoadHwloc());
    TIDAL_ASSIGN_OR_RETURN(CoreTree tree, BuildCoreTree(topology.get()));
    AddPackages(tree, host);
    AddPciDevices(topology.get(), host);
  }
  Topology check{{host}};
  TIDAL_RETURN_IF_ERROR(ValidateTopology(check).WithContext("hwloc discovery"));
  TIDAL_LOG(INFO, kTopo) << "host " << host.id << ": " << host.packages.size() << " packages, "
                         << NumaNodeCount(host) << " NUMA nodes, " << CoreCount(host) << " cores, "
                         << host.pci_devices.size() << " GPUs and NICs";
  return host;
}

}  // namespace tidal
