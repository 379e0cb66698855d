// The reader of the canonical topology dump (format in topology.h). Each line is one record:
// keyword, positional value, key=value fields. The parser keeps the current host, package and
// NUMA node and appends each record to its parent; ValidateTopology then checks the invariants
// that span lines (uniqueness, non-empty levels).
#include <map>
#include <string>

#include "tidal/topology/text_util.h"
#include "tidal/topology/topology.h"

namespace tidal {
namespace {

using topo_internal::ParseInt;
using topo_internal::ParseUint64;
using topo_internal::Split;
using topo_internal::SplitWhitespace;
using topo_internal::Trim;

constexpr std::string_view kHeader = "tidal-topology 1";
constexpr int64_t kMaxIndex = 1 << 30;

// One line split into keyword, positional value and fields.
struct Record {
  std::string_view keyword;
  std::string_view value;
  std::map<std::string_view, std::string_view> fields;
};

Result<Record> SplitRecord(std::string_view line) {
  const std::vector<std::string_view> tokens = SplitWhitespace(line);
  if (tokens.size() < 2) return InvalidArgumentError("expected '<keyword> <value> [key=value...]'");
  Record record{tokens[0], tokens[1], {}};
  for (size_t i = 2; i < tokens.size(); ++i) {
    const size_t eq = tokens[i].find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == tokens[i].size()) {
      return InvalidArgumentError("'", tokens[i], "' is not key=value");
    }
    if (!record.fields.emplace(tokens[i].substr(0, eq), tokens[i].substr(eq + 1)).second) {
      return InvalidArgumentError("field '", tokens[i].substr(0, eq), "' appears twice");
    }
  }
  return record;
}

// Refuses fields other than `allowed`.
Status CheckFields(const Record& record, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : record.fields) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) return InvalidArgumentError("unknown field '", key, "' for ", record.keyword);
  }
  return Status::Ok();
}

Result<int> ParseIndex(std::string_view what, std::string_view text, int64_t min = 0) {
  const std::optional<int64_t> value = ParseInt(text, min, kMaxIndex);
  if (!value) {
    return InvalidArgumentError(what, " '", text, "' is not an integer in [", min, ", ", kMaxIndex,
                                "]");
  }
  return static_cast<int>(*value);
}

Result<std::vector<int>> ParsePus(const Record& record) {
  const auto it = record.fields.find("pus");
  if (it == record.fields.end()) return InvalidArgumentError("core needs pus=");
  std::vector<int> pus;
  for (std::string_view piece : Split(it->second, ',')) {
    TIDAL_ASSIGN_OR_RETURN(int pu, ParseIndex("PU", piece));
    pus.push_back(pu);
  }
  return pus;
}

Result<PciKind> ParsePciKind(const Record& record) {
  const auto it = record.fields.find("kind");
  if (it == record.fields.end()) return InvalidArgumentError("pci needs kind=");
  if (it->second == "gpu") return PciKind::kGpu;
  if (it->second == "nic") return PciKind::kNic;
  return InvalidArgumentError("pci kind '", it->second, "' is not gpu or nic");
}

Result<TopoPciDevice> ParsePci(const Record& record) {
  TIDAL_RETURN_IF_ERROR(CheckFields(record, {"kind", "numa", "names"}));
  TopoPciDevice device;
  device.bus_id = std::string(record.value);
  TIDAL_ASSIGN_OR_RETURN(device.kind, ParsePciKind(record));
  const auto numa = record.fields.find("numa");
  if (numa == record.fields.end()) return InvalidArgumentError("pci needs numa=");
  TIDAL_ASSIGN_OR_RETURN(device.numa_node, ParseIndex("numa", numa->second, -1));
  if (const auto names = record.fields.find("names"); names != record.fields.end()) {
    for (std::string_view name : Split(names->second, ',')) device.names.emplace_back(name);
  }
  return device;
}

// Builds the topology record by record.
class DumpParser {
 public:
  Status Add(const Record& record) {
    if (record.keyword == "host") return AddHost(record);
    if (record.keyword == "package") return AddPackage(record);
    if (record.keyword == "numa") return AddNuma(record);
    if (record.keyword == "core") return AddCore(record);
    if (record.keyword == "pci") return AddPci(record);
    return InvalidArgumentError("unknown record '", record.keyword,
                                "' (expected host, package, numa, core or pci)");
  }
  Topology Take() { return std::move(topology_); }

 private:
  Status AddHost(const Record& record) {
    TIDAL_RETURN_IF_ERROR(CheckFields(record, {}));
    topology_.hosts.push_back(TopoHost{std::string(record.value), {}, {}});
    return Status::Ok();
  }
  Status AddPackage(const Record& record) {
    TIDAL_RETURN_IF_ERROR(CheckFields(record, {}));
    if (topology_.hosts.empty()) return InvalidArgumentError("package before any host");
    TIDAL_ASSIGN_OR_RETURN(int index, ParseIndex("package", record.value));
    topology_.hosts.back().packages.push_back(TopoPackage{index, {}});
    return Status::Ok();
  }
  Status AddNuma(const Record& record) {
    TIDAL_RETURN_IF_ERROR(CheckFields(record, {"memory"}));
    if (topology_.hosts.empty() || topology_.hosts.back().packages.empty()) {
      return InvalidArgumentError("numa before any package");
    }
    TopoNumaNode numa;
    TIDAL_ASSIGN_OR_RETURN(numa.os_index, ParseIndex("numa", record.value));
    if (const auto it = record.fields.find("memory"); it != record.fields.end()) {
      const std::optional<uint64_t> bytes = ParseUint64(it->second);
      if (!bytes) return InvalidArgumentError("memory '", it->second, "' is not a byte count");
      numa.memory_bytes = *bytes;
    }
    topology_.hosts.back().packages.back().numa_nodes.push_back(std::move(numa));
    return Status::Ok();
  }
  Status AddCore(const Record& record) {
    TIDAL_RETURN_IF_ERROR(CheckFields(record, {"pus"}));
    if (topology_.hosts.empty() || topology_.hosts.back().packages.empty() ||
        topology_.hosts.back().packages.back().numa_nodes.empty()) {
      return InvalidArgumentError("core before any numa");
    }
    TopoCore core;
    TIDAL_ASSIGN_OR_RETURN(core.index, ParseIndex("core", record.value));
    TIDAL_ASSIGN_OR_RETURN(core.pus, ParsePus(record));
    topology_.hosts.back().packages.back().numa_nodes.back().cores.push_back(std::move(core));
    return Status::Ok();
  }
  Status AddPci(const Record& record) {
    if (topology_.hosts.empty()) return InvalidArgumentError("pci before any host");
    TIDAL_ASSIGN_OR_RETURN(TopoPciDevice device, ParsePci(record));
    topology_.hosts.back().pci_devices.push_back(std::move(device));
    return Status::Ok();
  }

  Topology topology_;
};

Status LineError(size_t line_number, std::string_view line, const Status& status) {
  return InvalidArgumentError("topology dump line ", line_number, " ('", line,
                              "'): ", status.message());
}

}  // namespace

Result<Topology> ParseTopologyDump(std::string_view text) {
  DumpParser parser;
  bool seen_header = false;
  size_t line_number = 0;
  for (std::string_view raw : Split(text, '\n')) {
    ++line_number;
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (!seen_header) {
      if (SplitWhitespace(line) != SplitWhitespace(kHeader)) {
        return LineError(line_number, line,
                         InvalidArgumentError("expected the header '", kHeader, "'"));
      }
      seen_header = true;
      continue;
    }
    Result<Record> record = SplitRecord(line);
    Status status = record.ok() ? parser.Add(*record) : record.status();
    if (!status.ok()) return LineError(line_number, line, status);
  }
  if (!seen_header) return InvalidArgumentError("topology dump is empty (no '", kHeader, "')");
  Topology topology = parser.Take();
  const Status valid = ValidateTopology(topology);
  if (!valid.ok()) return valid.WithContext("topology dump");
  return topology;
}

}  // namespace tidal
