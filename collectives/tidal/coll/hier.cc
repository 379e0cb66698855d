// Hierarchical AllReduce: schedules (schedule/hier.h) onto a communicator (design note in hier.h).
#include "tidal/coll/hier.h"

#include <map>
#include <string>
#include <utility>

#include "tidal/coll/schedule/hier.h"
#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

// World ranks of a phase's group (ring positions).
std::vector<int> GroupPeers(const std::vector<int>& ring_peers, const std::vector<int>& group) {
  std::vector<int> peers;
  peers.reserve(group.size());
  for (int position : group) peers.push_back(ring_peers[static_cast<size_t>(position)]);
  return peers;
}

// Whether ring positions [h * L, (h + 1) * L) are on one host for every h.
bool HostMajor(const Communicator& comm, int per_host) {
  const std::vector<int>& ring = comm.ring_order();
  for (size_t p = 0; p < ring.size(); ++p) {
    const size_t first = p - p % static_cast<size_t>(per_host);
    if (comm.placement(ring[p]).host_id != comm.placement(ring[first]).host_id) return false;
  }
  return true;
}

}  // namespace

HostShape HostShapeOf(const Communicator& comm) {
  std::map<std::string, int> ids;
  std::vector<int> host_of;
  host_of.reserve(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    const int next = static_cast<int>(ids.size());
    host_of.push_back(ids.emplace(comm.placement(r).host_id, next).first->second);
  }
  return ShapeOfHosts(host_of);
}

Status PlanHier(const internal::Call& call, uint8_t* work, Stage shard,
                std::vector<Stage>& stages) {
  const Communicator& comm = call.comm;
  TIDAL_CHECK(call.hosts.even()) << "hier planned on uneven hosts";
  const int per_host = call.hosts.ranks_per_host;
  TIDAL_CHECK_EQ(call.hosts.hosts * per_host, comm.size());
  if (!HostMajor(comm, per_host)) {
    return InternalError("rank ", comm.rank(), ": ", call.what,
                         ": the ring order does not keep each host's members adjacent");
  }
  const std::vector<int> ring_peers = internal::RingPeers(comm);
  HierPlan plan = HierAllReducePlan(comm.ring_position(), call.hosts.hosts, per_host, call.count,
                                    internal::SegmentElems(call.type));
  const auto add = [&](HierPhase& phase) {
    stages.push_back(
        Stage::Run(std::move(phase.schedule), GroupPeers(ring_peers, phase.group), work, work));
  };
  add(plan.local_reduce_scatter);
  add(plan.cross_reduce_scatter);
  stages.push_back(std::move(shard));
  add(plan.cross_all_gather);
  add(plan.local_all_gather);
  return Status::Ok();
}

}  // namespace tidal::coll
