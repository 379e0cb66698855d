// Ring order and host subgroups (see ring.h for the order and its guarantees).
//
// ComputeRingOrder builds one sort key per rank — (host order, NUMA, core, local rank, rank), with
// unknown (-1) fields mapped past every known value — and sorts ranks by it. The key is unique per
// rank, so the sort is a total order and every rank computes the same ring from the same input.
// ValidateRing then checks contiguity by remembering which hosts (and NUMA nodes of the current
// host) the walk has already left: meeting one again means it was split.
#include "tidal/topology/ring.h"

#include <algorithm>
#include <climits>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "tidal/core/check.h"

namespace tidal {
namespace {

// Unknown fields sort after every known one.
int KnownFirst(int value) { return value < 0 ? INT_MAX : value; }

// Host id -> index of first appearance by rank.
std::unordered_map<std::string, int> HostOrder(std::span<const Placement> placements) {
  std::unordered_map<std::string, int> order;
  for (const Placement& placement : placements) {
    order.emplace(placement.host_id, static_cast<int>(order.size()));
  }
  return order;
}

// Checks that consecutive runs of equal `key(rank)` never repeat a key already left behind.
template <typename Key, typename KeyOf>
Status CheckContiguous(std::span<const int> order, const KeyOf& key_of, std::string_view what) {
  std::set<Key> left;
  for (size_t i = 1; i < order.size(); ++i) {
    const Key previous = key_of(order[i - 1]);
    const Key current = key_of(order[i]);
    if (previous == current) continue;
    left.insert(previous);
    if (left.count(current) != 0) {
      return InvalidArgumentError("ring is not ", what, "-contiguous: rank ", order[i],
                                  " at position ", i, " returns to a ", what, " left earlier");
    }
  }
  return Status::Ok();
}

Status CheckPermutation(std::span<const int> order, size_t size) {
  if (order.size() != size) {
    return InvalidArgumentError("ring has ", order.size(), " ranks, expected ", size);
  }
  std::vector<bool> seen(size, false);
  for (size_t i = 0; i < order.size(); ++i) {
    const int rank = order[i];
    if (rank < 0 || static_cast<size_t>(rank) >= size || seen[static_cast<size_t>(rank)]) {
      return InvalidArgumentError("ring position ", i, " holds rank ", rank,
                                  ", out of range or repeated");
    }
    seen[static_cast<size_t>(rank)] = true;
  }
  return Status::Ok();
}

}  // namespace

std::vector<int> ComputeRingOrder(std::span<const Placement> placements) {
  const std::unordered_map<std::string, int> host_order = HostOrder(placements);
  using Key = std::tuple<int, int, int, int, int>;
  std::vector<Key> keys;
  keys.reserve(placements.size());
  for (size_t rank = 0; rank < placements.size(); ++rank) {
    const Placement& p = placements[rank];
    keys.emplace_back(host_order.at(p.host_id), KnownFirst(p.numa_node), KnownFirst(p.core),
                      KnownFirst(p.local_rank), static_cast<int>(rank));
  }
  std::sort(keys.begin(), keys.end());
  std::vector<int> ring;
  ring.reserve(keys.size());
  for (const Key& key : keys) ring.push_back(std::get<4>(key));
  TIDAL_CHECK_OK(ValidateRing(ring, placements));
  return ring;
}

Status ValidateRing(std::span<const int> order, std::span<const Placement> placements) {
  TIDAL_RETURN_IF_ERROR(CheckPermutation(order, placements.size()));
  const auto host_of = [&](int rank) { return placements[static_cast<size_t>(rank)].host_id; };
  TIDAL_RETURN_IF_ERROR(CheckContiguous<std::string>(order, host_of, "host"));
  const auto numa_of = [&](int rank) {
    const Placement& p = placements[static_cast<size_t>(rank)];
    return std::make_pair(p.host_id, p.numa_node < 0 ? -1 : p.numa_node);  // as KnownFirst
  };
  return CheckContiguous<std::pair<std::string, int>>(order, numa_of, "NUMA node");
}

std::vector<std::vector<int>> LocalGroups(std::span<const int> ring,
                                          std::span<const Placement> placements) {
  TIDAL_CHECK_OK(CheckPermutation(ring, placements.size()));
  std::unordered_map<std::string, size_t> group_of_host;
  std::vector<std::vector<int>> groups;
  for (int rank : ring) {
    const std::string& host = placements[static_cast<size_t>(rank)].host_id;
    const auto [it, inserted] = group_of_host.emplace(host, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(rank);
  }
  return groups;
}

std::vector<int> HostLeaders(std::span<const std::vector<int>> local_groups) {
  std::vector<int> leaders;
  leaders.reserve(local_groups.size());
  for (const std::vector<int>& group : local_groups) {
    TIDAL_CHECK(!group.empty()) << "empty local group";
    leaders.push_back(group.front());
  }
  return leaders;
}

HostLayout ComputeHostLayout(std::span<const Placement> placements) {
  HostLayout layout;
  layout.ring = ComputeRingOrder(placements);
  layout.local_groups = LocalGroups(layout.ring, placements);
  layout.leaders = HostLeaders(layout.local_groups);
  const size_t size = placements.size();
  layout.host_index.assign(size, -1);
  layout.local_rank.assign(size, -1);
  layout.local_size.assign(size, 0);
  for (size_t h = 0; h < layout.local_groups.size(); ++h) {
    const std::vector<int>& group = layout.local_groups[h];
    for (size_t i = 0; i < group.size(); ++i) {
      const auto rank = static_cast<size_t>(group[i]);
      layout.host_index[rank] = static_cast<int>(h);
      layout.local_rank[rank] = static_cast<int>(i);
      layout.local_size[rank] = static_cast<int>(group.size());
    }
  }
  return layout;
}

}  // namespace tidal
