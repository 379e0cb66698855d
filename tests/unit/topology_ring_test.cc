// Unit tests of the ring order and host subgroups (runtime/topology/ring.h): permutation, host and
// NUMA contiguity, determinism, uneven hosts, and the checker's own error paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tidal/topology/placement.h"
#include "tidal/topology/ring.h"
#include "tidal/topology/topology.h"

namespace tidal {
namespace {

std::vector<Placement> Assign(std::string_view spec, int ranks, int per_host = 0,
                              RankMapping mapping = RankMapping::kCompact) {
  Result<Topology> topology = ParseSyntheticTopology(spec);
  EXPECT_TRUE(topology.ok()) << topology.status();
  if (!topology.ok()) return {};
  Result<std::vector<Placement>> placements = AssignRanks(*topology, ranks, per_host, mapping);
  EXPECT_TRUE(placements.ok()) << placements.status();
  return placements.ok() ? *placements : std::vector<Placement>{};
}

// Rank r gets placements[perm[r]].
std::vector<Placement> Permute(const std::vector<Placement>& placements,
                               const std::vector<int>& perm) {
  std::vector<Placement> out;
  for (int i : perm) out.push_back(placements[static_cast<size_t>(i)]);
  return out;
}

std::vector<Placement> AlongRing(const std::vector<int>& ring,
                                 const std::vector<Placement>& placements) {
  std::vector<Placement> out;
  for (int rank : ring) out.push_back(placements[static_cast<size_t>(rank)]);
  return out;
}

TEST(Ring, TwoHostsTwoNumaScrambledRanks) {
  const std::vector<Placement> base = Assign("hosts=2 numa=2 cores=2", 8);
  const std::vector<Placement> placements = Permute(base, {5, 2, 7, 0, 3, 6, 1, 4});
  const std::vector<int> ring = ComputeRingOrder(placements);
  EXPECT_TRUE(ValidateRing(ring, placements).ok());
  // Rank 0 sits on host1, so host1 comes first; then NUMA nodes, then cores, in order.
  std::vector<Placement> expected(base.begin() + 4, base.end());
  expected.insert(expected.end(), base.begin(), base.begin() + 4);
  EXPECT_EQ(AlongRing(ring, placements), expected);
  EXPECT_EQ(ring, (std::vector<int>{7, 0, 5, 2, 3, 6, 1, 4}));
}

TEST(Ring, ScatterMappingIsRegroupedByNuma) {
  // Scatter puts consecutive local ranks on alternating NUMA nodes; the ring regroups them.
  const std::vector<Placement> placements = Assign("numa=2 cores=2", 4, 0, RankMapping::kScatter);
  EXPECT_EQ(ComputeRingOrder(placements), (std::vector<int>{0, 2, 1, 3}));
}

TEST(Ring, UnevenHostsThreePlusOne) {
  const std::vector<Placement> base = Assign("host:a cores=3; host:b cores=1", 4);
  const std::vector<Placement> placements = Permute(base, {3, 1, 0, 2});  // rank 0 on b
  const HostLayout layout = ComputeHostLayout(placements);
  EXPECT_EQ(layout.ring, (std::vector<int>{0, 2, 1, 3}));
  EXPECT_EQ(layout.local_groups, (std::vector<std::vector<int>>{{0}, {2, 1, 3}}));
  EXPECT_EQ(layout.leaders, (std::vector<int>{0, 2}));
  EXPECT_EQ(layout.host_index, (std::vector<int>{0, 1, 1, 1}));
  EXPECT_EQ(layout.local_rank, (std::vector<int>{0, 1, 0, 2}));
  EXPECT_EQ(layout.local_size, (std::vector<int>{1, 3, 3, 3}));
}

TEST(Ring, SingleHostAndWorldSizeOneAndEmpty) {
  const std::vector<Placement> one_host = Assign("cores=4", 4);
  EXPECT_EQ(ComputeRingOrder(one_host), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(ComputeHostLayout(one_host).leaders, (std::vector<int>{0}));
  const std::vector<Placement> single = {Placement{"solo", -1, -1, -1}};
  const HostLayout layout = ComputeHostLayout(single);
  EXPECT_EQ(layout.ring, (std::vector<int>{0}));
  EXPECT_EQ(layout.local_groups, (std::vector<std::vector<int>>{{0}}));
  EXPECT_EQ(layout.local_size, (std::vector<int>{1}));
  EXPECT_TRUE(ComputeRingOrder({}).empty());
  EXPECT_TRUE(ValidateRing({}, {}).ok());
}

TEST(Ring, EqualPlacementsKeepRankOrderAndUnknownsSortLast) {
  std::vector<Placement> placements(5, Placement{"h", -1, -1, -1});
  EXPECT_EQ(ComputeRingOrder(placements), (std::vector<int>{0, 1, 2, 3, 4}));
  placements[3] = Placement{"h", 0, 1, -1};
  placements[4] = Placement{"h", 0, -1, 0};
  placements[1] = Placement{"h", 0, 1, 0};
  EXPECT_EQ(ComputeRingOrder(placements), (std::vector<int>{1, 3, 4, 0, 2}));
  // Out-of-range fields (never produced by DecodePlacement) still give a valid ring.
  placements[0].numa_node = -7;
  placements[2].core = -3;
  EXPECT_EQ(ComputeRingOrder(placements), (std::vector<int>{1, 3, 4, 0, 2}));
}

// Each host's sequence of placements along the ring depends only on the multiset of placements,
// never on which rank holds which (duplicates included).
TEST(Ring, PerHostSequenceIsIndependentOfInputOrder) {
  std::vector<Placement> base = Assign("host:a numa=2 cores=2; host:b numa=3 cores=1", 7);
  base.push_back(base[1]);  // duplicates: two unbound ranks and a repeated placement
  base.push_back(Placement{"b", -1, -1, -1});
  base.push_back(Placement{"b", -1, -1, -1});
  const auto per_host = [](const std::vector<Placement>& placements) {
    std::map<std::string, std::vector<Placement>> sequences;
    const std::vector<int> ring = ComputeRingOrder(placements);
    EXPECT_TRUE(ValidateRing(ring, placements).ok());
    EXPECT_EQ(ComputeRingOrder(placements), ring);  // deterministic
    for (int rank : ring) {
      sequences[placements[static_cast<size_t>(rank)].host_id].push_back(
          placements[static_cast<size_t>(rank)]);
    }
    return sequences;
  };
  const auto expected = per_host(base);
  std::vector<int> perm(base.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::shuffle(perm.begin(), perm.end(), rng);
    EXPECT_EQ(per_host(Permute(base, perm)), expected) << "trial " << trial;
  }
}

TEST(Ring, SurvivesThePlacementExchange) {
  const std::vector<Placement> placements =
      Permute(Assign("hosts=3 numa=2 cores=2", 12), {11, 0, 5, 9, 2, 7, 1, 10, 3, 8, 6, 4});
  std::vector<Placement> decoded;
  for (const Placement& p : placements) {
    Result<Placement> d = DecodePlacement(EncodePlacement(p));
    ASSERT_TRUE(d.ok()) << d.status();
    decoded.push_back(*d);
  }
  EXPECT_EQ(ComputeRingOrder(decoded), ComputeRingOrder(placements));
}

TEST(Ring, HostIdOverrideModelsSeveralHosts) {
  // What each rank of a job run with TIDAL_HOST_ID=a or b on one machine would publish.
  const char* old_value = std::getenv("TIDAL_HOST_ID");
  const std::optional<std::string> saved =
      old_value ? std::optional<std::string>(old_value) : std::nullopt;
  std::vector<Placement> placements;
  std::vector<Status> errors;
  for (const char* id : {"b", "a", "b", "a"}) {
    ::setenv("TIDAL_HOST_ID", id, 1);
    Result<std::string> host = LocalHostId();
    if (!host.ok()) errors.push_back(host.status());
    placements.push_back(
        Placement{host.ok() ? *host : "?", 0, -1, static_cast<int>(placements.size() / 2)});
  }
  if (saved) {
    ::setenv("TIDAL_HOST_ID", saved->c_str(), 1);
  } else {
    ::unsetenv("TIDAL_HOST_ID");
  }
  ASSERT_TRUE(errors.empty()) << errors.front();
  const HostLayout layout = ComputeHostLayout(placements);
  EXPECT_EQ(layout.ring, (std::vector<int>{0, 2, 1, 3}));
  EXPECT_EQ(layout.leaders, (std::vector<int>{0, 1}));
}

TEST(Ring, ValidateRingReportsViolations) {
  const std::vector<Placement> p = {{"a", 0, 0, 0}, {"a", 1, 1, 1}, {"b", 0, 0, 0}, {"a", 0, 2, 2}};
  EXPECT_TRUE(ValidateRing(std::vector<int>{0, 3, 1, 2}, p).ok());
  EXPECT_TRUE(ValidateRing(std::vector<int>{2, 1, 0, 3}, p).ok());
  const auto expect_error = [&](std::vector<int> order, std::string_view part) {
    const Status status = ValidateRing(order, p);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(part), std::string_view::npos) << status;
  };
  expect_error({0, 1, 2}, "3 ranks, expected 4");
  expect_error({0, 1, 1, 2}, "position 2 holds rank 1");
  expect_error({0, 1, 2, 4}, "rank 4");
  expect_error({0, 1, 2, -1}, "rank -1");
  expect_error({0, 2, 1, 3}, "not host-contiguous");
  expect_error({0, 1, 3, 2}, "not NUMA node-contiguous: rank 3 at position 2");
}

TEST(RingDeathTest, SubgroupHelpersCheckTheirInput) {
  const std::vector<Placement> p = {{"a", 0, 0, 0}, {"a", 0, 1, 1}};
  EXPECT_DEATH(LocalGroups(std::vector<int>{0, 0}, p), "permutation|repeated");
  EXPECT_DEATH(HostLeaders(std::vector<std::vector<int>>{{0}, {}}), "empty local group");
}

}  // namespace
}  // namespace tidal
