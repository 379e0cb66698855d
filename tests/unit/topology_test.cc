// Unit tests of runtime/topology: hwloc discovery, the synthetic spec, dump/parse round trips,
// the placement codec, rank assignment, the ring order and host subgroups.
#include "tidal/topology/topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tidal/topology/placement.h"
#include "tidal/topology/ring.h"

namespace tidal {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

Topology Synthetic(std::string_view spec) {
  Result<Topology> topology = ParseSyntheticTopology(spec);
  EXPECT_TRUE(topology.ok()) << spec << ": " << topology.status();
  return topology.ok() ? *topology : Topology{};
}

// Expects the round trip dump -> parse -> dump to reproduce the text and the value.
void ExpectRoundTrip(const Topology& topology) {
  const std::string dump = DumpTopology(topology);
  Result<Topology> parsed = ParseTopologyDump(dump);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << dump;
  EXPECT_EQ(*parsed, topology);
  EXPECT_EQ(DumpTopology(*parsed), dump);
}

// Sets an environment variable for a scope and restores the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ---------------------------------------------------------------------------------------------
// Discovery

TEST(Topology, DiscoversThisHost) {
  Result<TopoHost> host = DiscoverHost();
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_GE(host->packages.size(), 1u);
  EXPECT_GE(NumaNodeCount(*host), 1);
  EXPECT_GE(CoreCount(*host), 1);
  for (const TopoPciDevice& device : host->pci_devices) {
    EXPECT_TRUE(device.kind == PciKind::kGpu || device.kind == PciKind::kNic) << device.bus_id;
  }
  EXPECT_TRUE(ValidateTopology(Topology{{*host}}).ok());
}

TEST(Topology, DiscoveryFromSeveralThreadsAgrees) {
  std::vector<std::optional<TopoHost>> hosts(4);
  std::vector<std::thread> threads;
  for (auto& slot : hosts) {
    threads.emplace_back([&slot] {
      Result<TopoHost> host = DiscoverHost();
      if (host.ok()) slot = *host;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& host : hosts) {
    ASSERT_TRUE(host.has_value());
    EXPECT_EQ(*host, *hosts[0]);
  }
}

TEST(Topology, DetectedTopologyRoundTrips) {
  Result<Topology> topology = DiscoverTopology();
  ASSERT_TRUE(topology.ok()) << topology.status();
  ExpectRoundTrip(*topology);
}

TEST(Topology, DetectsThisProcessPlacement) {
  Result<TopoHost> host = DiscoverHost();
  ASSERT_TRUE(host.ok()) << host.status();
  Result<Placement> placement = DetectLocalPlacement(*host, 0);
  ASSERT_TRUE(placement.ok()) << placement.status();
  EXPECT_EQ(placement->host_id, host->id);
  EXPECT_EQ(placement->local_rank, 0);
  EXPECT_TRUE(ValidatePlacement(*placement).ok());
}

TEST(Topology, HostIdOverrideByKnob) {
  {
    ScopedEnv env("TIDAL_HOST_ID", "fake-host.7");
    EXPECT_EQ(*LocalHostId(), "fake-host.7");
    Result<TopoHost> host = DiscoverHost();
    ASSERT_TRUE(host.ok()) << host.status();
    EXPECT_EQ(host->id, "fake-host.7");
  }
  {
    ScopedEnv env("TIDAL_HOST_ID", "bad host");
    Result<std::string> id = LocalHostId();
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(id.status().message(), "TIDAL_HOST_ID")) << id.status();
  }
  {
    ScopedEnv env("TIDAL_HOST_ID", "");
    EXPECT_FALSE(LocalHostId().ok());
  }
  Result<std::string> hostname = LocalHostId();
  ASSERT_TRUE(hostname.ok()) << hostname.status();
  EXPECT_FALSE(hostname->empty());
}

// ---------------------------------------------------------------------------------------------
// Synthetic specs and dumps

TEST(Topology, SyntheticSpecBuildsTheTree) {
  const Topology t = Synthetic("hosts=2 numa=2 cores=2");
  ASSERT_EQ(t.hosts.size(), 2u);
  EXPECT_EQ(t.hosts[0].id, "host0");
  EXPECT_EQ(t.hosts[1].id, "host1");
  for (const TopoHost& host : t.hosts) {
    EXPECT_EQ(host.packages.size(), 1u);
    EXPECT_EQ(NumaNodeCount(host), 2);
    EXPECT_EQ(CoreCount(host), 4);
  }
  const std::vector<CoreSlot> slots = FlattenCores(t.hosts[1]);
  EXPECT_EQ(slots[2].numa_node, 1);
  EXPECT_EQ(slots[2].core, 2);
}

TEST(Topology, SyntheticUnevenHostsAndDevices) {
  const Topology t = Synthetic("host:a numa=2 cores=4 gpus=3 nics=1; host:b cores=2 pus=2");
  ASSERT_EQ(t.hosts.size(), 2u);
  EXPECT_EQ(t.hosts[0].id, "a");
  EXPECT_EQ(CoreCount(t.hosts[0]), 8);
  EXPECT_EQ(CoreCount(t.hosts[1]), 2);
  EXPECT_EQ(t.hosts[1].packages[0].numa_nodes[0].cores[1].pus, (std::vector<int>{2, 3}));
  ASSERT_EQ(t.hosts[0].pci_devices.size(), 4u);
  EXPECT_EQ(t.hosts[0].pci_devices[0].kind, PciKind::kGpu);
  EXPECT_EQ(t.hosts[0].pci_devices[1].numa_node, 1);  // round-robin over NUMA nodes
  EXPECT_EQ(t.hosts[0].pci_devices[3].kind, PciKind::kNic);
  EXPECT_EQ(t.hosts[0].pci_devices[3].names, (std::vector<std::string>{"nic0"}));
}

TEST(Topology, SyntheticTopologiesRoundTrip) {
  for (const char* spec :
       {"cores=1", "hosts=2 numa=2 cores=2", "host:a numa=2 cores=4; host:b cores=2",
        "hosts=3 packages=2 numa=2 cores=3 pus=2 gpus=4 nics=2", "cores=3; hosts=2; host:x"}) {
    SCOPED_TRACE(spec);
    ExpectRoundTrip(Synthetic(spec));
  }
}

TEST(Topology, DumpParserIsLenientWithLayoutButCanonicalOnOutput) {
  const std::string text =
      "# a comment\n\ntidal-topology 1\nhost h1\npackage 3\n numa 5 memory=1024\n"
      "\tcore 7   pus=9,8\r\n  pci 0000:3B:00.0 names=cuda0 numa=5 kind=gpu\n";
  Result<Topology> t = ParseTopologyDump(text);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->hosts[0].packages[0].numa_nodes[0].memory_bytes, 1024u);
  EXPECT_EQ(t->hosts[0].packages[0].numa_nodes[0].cores[0].pus, (std::vector<int>{9, 8}));
  EXPECT_EQ(DumpTopology(*t),
            "tidal-topology 1\nhost h1\n  package 3\n    numa 5 memory=1024\n"
            "      core 7 pus=9,8\n  pci 0000:3B:00.0 kind=gpu numa=5 names=cuda0\n");
  ExpectRoundTrip(*t);
}

struct BadInput {
  std::string text;
  const char* expected;  // part of the message
};

TEST(Topology, MalformedSpecsSayWhatAndWhere) {
  for (const BadInput& bad : std::vector<BadInput>{
           {"", "empty host group"},
           {"hosts=2;", "group 2"},
           {"numa=0", "'numa=0'"},
           {"cores=x", "'cores=x'"},
           {"cores=-1", "'cores=-1'"},
           {"cores=99999999999999999999", "expected an integer"},
           {"hosts=5000", "'hosts=5000'"},
           {"sockets=2", "unknown field 'sockets'"},
           {"numa=2 numa=3", "'numa' given twice"},
           {"host:a hosts=2", "exclude each other"},
           {"host:a; host:a", "appears twice"},
           {"host:bad/name", "bad character"},
           {"cores", "neither host:NAME nor key=count"},
           {"hosts=4000 cores=4000", "cores in all"},
       }) {
    SCOPED_TRACE(bad.text);
    Result<Topology> t = ParseSyntheticTopology(bad.text);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(t.status().message(), bad.expected)) << t.status();
  }
}

TEST(Topology, MalformedDumpsSayWhatAndWhere) {
  const std::string head = "tidal-topology 1\nhost a\npackage 0\nnuma 0\n";
  for (const BadInput& bad : std::vector<BadInput>{
           {"", "empty"},
           {"tidal-topology 2\n", "line 1"},
           {"host a\n", "expected the header"},
           {"tidal-topology 1\npackage 0\n", "line 2 ('package 0'): package before any host"},
           {"tidal-topology 1\nhost a\nnuma 0\n", "numa before any package"},
           {"tidal-topology 1\nhost a\npackage 0\ncore 0 pus=0\n", "core before any numa"},
           {"tidal-topology 1\nhost a\n", "no package"},
           {"tidal-topology 1\nhost a\npackage 0\n", "has no NUMA node"},
           {head, "has no core"},
           {head + "core x pus=0\n", "line 5 ('core x pus=0'): core 'x'"},
           {head + "core 0\n", "core needs pus="},
           {head + "core 0 pus=0,,1\n", "PU ''"},
           {head + "core 0 pus=0 color=red\n", "unknown field 'color'"},
           {head + "core 0 pus=0 pus=1\n", "appears twice"},
           {head + "core 0 pus=0\ncore 0 pus=1\n", "core 0 appears twice"},
           {head + "core 0 pus=0\ncore 1 pus=0\n", "PU 0"},
           {head + "core 0 pus=0\nwidget 1\n", "unknown record 'widget'"},
           {head + "core 0 pus=0\nlonely\n", "line 6"},
           {head + "core 0 pus=0\npci 0000:01:00.0 kind=tpu numa=0\n", "kind 'tpu'"},
           {head + "core 0 pus=0\npci 0000:01:00.0 kind=gpu numa=4\n", "numa 4 is not"},
           {head + "core 0 pus=0\npci 01:00.0 kind=gpu numa=0\n", "bus id"},
           {head + "core 0 pus=0\npci 0000:01:00.0 kind=nic\n", "pci needs numa="},
           {head + "core 0 pus=0\npci 0000:01:00.0 kind=nic numa=0 names=a,\n", "bad device"},
           {head + "numa 1 memory=-3\n", "memory '-3'"},
           {"tidal-topology 1\nhost a b\n", "is not key=value"},
           {"tidal-topology 1\nhost a?\npackage 0\nnuma 0\ncore 0 pus=0\n", "bad character"},
       }) {
    SCOPED_TRACE(bad.text);
    Result<Topology> t = ParseTopologyDump(bad.text);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(t.status().message(), bad.expected)) << t.status();
  }
}

TEST(Topology, DumpParserSurvivesGarbage) {
  const std::string valid = DumpTopology(Synthetic("hosts=2 numa=2 cores=2 gpus=1 nics=1"));
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text = valid;
    for (int k = 0; k < 3; ++k) {
      text[rng() % text.size()] = static_cast<char>(rng() % 128);
    }
    text.resize(rng() % (text.size() + 1));
    Result<Topology> t = ParseTopologyDump(text);  // must not crash
    if (t.ok()) {
      EXPECT_EQ(DumpTopology(*ParseTopologyDump(DumpTopology(*t))), DumpTopology(*t)) << text;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Placements

TEST(Placement, EncodeDecodeRoundTrip) {
  for (const Placement& p : {Placement{"a", 0, 0, 0}, Placement{"node-17.cluster", 3, 127, 7},
                             Placement{std::string(255, 'h'), -1, -1, -1},
                             Placement{"x:y_z", 2147483647, 5, 2147483647}}) {
    const std::vector<uint8_t> blob = EncodePlacement(p);
    EXPECT_EQ(blob.size(), kPlacementFixedBytes + p.host_id.size());
    Result<Placement> decoded = DecodePlacement(blob);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, p);
  }
}

TEST(Placement, DecodeRejectsMalformedBlobs) {
  const std::vector<uint8_t> good = EncodePlacement(Placement{"host", 1, 2, 3});
  const auto expect_error = [](std::vector<uint8_t> blob, std::string_view part) {
    Result<Placement> p = DecodePlacement(blob);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(p.status().message(), part)) << p.status();
  };
  expect_error({}, "truncated");
  expect_error({good.begin(), good.end() - 1}, "needs");
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_error(longer, "needs");
  std::vector<uint8_t> blob = good;
  blob[0] = 'X';
  expect_error(blob, "magic");
  blob = good;
  blob[2] = 9;
  expect_error(blob, "version 9");
  blob = good;
  blob[4] = ' ';
  expect_error(blob, "bad character");
  blob = good;
  blob[3] = 0;  // empty host id, and the length no longer matches
  expect_error(blob, "needs");
  blob = good;
  blob[8] = 0xfe;  // numa_node = -2
  blob[9] = blob[10] = blob[11] = 0xff;
  expect_error(blob, "below -1");
}

TEST(Placement, DecodeSurvivesTruncationAndGarbage) {
  const std::vector<uint8_t> good = EncodePlacement(Placement{"h0", 1, 2, 3});
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodePlacement(std::span(good).first(n)).ok()) << n;
  }
  std::mt19937 rng(11);
  int accepted = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> blob(rng() % 40);
    for (uint8_t& b : blob) b = static_cast<uint8_t>(rng());
    if (trial % 2 == 0 && blob.size() >= 4) std::copy_n(good.begin(), 3, blob.begin());
    Result<Placement> p = DecodePlacement(blob);
    if (p.ok()) {
      ++accepted;
      EXPECT_EQ(EncodePlacement(*p), blob);  // anything accepted is canonical
    }
  }
  std::vector<uint8_t> mutated = good;
  for (size_t i = 0; i < mutated.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      mutated[i] ^= static_cast<uint8_t>(1u << bit);
      Result<Placement> p = DecodePlacement(mutated);
      if (p.ok()) {
        EXPECT_EQ(EncodePlacement(*p), mutated);
      }
      mutated[i] ^= static_cast<uint8_t>(1u << bit);
    }
  }
  SUCCEED() << accepted << " random blobs decoded";
}

TEST(Placement, FromCpus) {
  const TopoHost host = Synthetic("host:h numa=2 cores=2 pus=2").hosts[0];  // core c: PUs 2c,2c+1
  const std::vector<int> one_core = {4, 5};
  EXPECT_EQ(PlacementFromCpus(host, one_core, 1), (Placement{"h", 1, 2, 1}));
  const std::vector<int> one_numa = {0, 3};
  EXPECT_EQ(PlacementFromCpus(host, one_numa, 0), (Placement{"h", 0, -1, 0}));
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(PlacementFromCpus(host, all, 0), (Placement{"h", -1, -1, 0}));
  const std::vector<int> foreign = {99};
  EXPECT_EQ(PlacementFromCpus(host, foreign, 2), (Placement{"h", -1, -1, 2}));
}

TEST(Placement, AssignRanksCompactAndScatter) {
  const Topology t = Synthetic("hosts=2 numa=2 cores=2");
  Result<std::vector<Placement>> compact = AssignRanks(t, 8);
  ASSERT_TRUE(compact.ok()) << compact.status();
  EXPECT_EQ((*compact)[0], (Placement{"host0", 0, 0, 0}));
  EXPECT_EQ((*compact)[2], (Placement{"host0", 1, 2, 2}));
  EXPECT_EQ((*compact)[5], (Placement{"host1", 0, 1, 1}));
  Result<std::vector<Placement>> scatter = AssignRanks(t, 4, 2, RankMapping::kScatter);
  ASSERT_TRUE(scatter.ok()) << scatter.status();
  EXPECT_EQ((*scatter)[0], (Placement{"host0", 0, 0, 0}));
  EXPECT_EQ((*scatter)[1], (Placement{"host0", 1, 2, 1}));
  EXPECT_EQ((*scatter)[2], (Placement{"host1", 0, 0, 0}));
  // Oversubscribed: 3 ranks per host on 4 cores wrap; a partial last host.
  Result<std::vector<Placement>> wrap = AssignRanks(Synthetic("hosts=2 cores=2"), 5, 3);
  ASSERT_TRUE(wrap.ok()) << wrap.status();
  EXPECT_EQ((*wrap)[2], (Placement{"host0", 0, 0, 2}));
  EXPECT_EQ((*wrap)[4], (Placement{"host1", 0, 1, 1}));
}

TEST(Placement, AssignRanksRejectsWhatDoesNotFit) {
  const Topology t = Synthetic("host:a cores=3; host:b cores=1");
  EXPECT_TRUE(AssignRanks(t, 4).ok());
  for (Result<std::vector<Placement>> bad :
       {AssignRanks(t, 5), AssignRanks(t, 0), AssignRanks(t, 3, -1), AssignRanks(t, 5, 2),
        AssignRanks(Topology{}, 1)}) {
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status();
  }
  EXPECT_TRUE(Contains(AssignRanks(t, 5).status().message(), "do not fit"));
}

}  // namespace
}  // namespace tidal
