// The collectives' bad arguments: kInvalidArgument naming the rank and the operation (null
// buffers with count > 0, unknown DataType/ReduceOp values, roots out of range, AllGatherV's
// send_count disagreeing with recv_counts[rank], spans of the wrong size, algorithms the
// collective lacks), kNotSupported for shm across hosts; and the communicator stays usable
// afterwards. Part of the collectives' matrix (collectives_matrix_test.cc). Cooperative mode,
// in-process transport.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(15'000);  // a hang costs this much
  return world;
}

// Bad arguments: kInvalidArgument naming the rank and the operation, on every rank that made the
// call; the communicator stays usable. Calls are symmetric (every rank makes the same mistake)
// except where only the rank with the mistake calls (the root's null recv).

class BadArgumentsTest : public ::testing::TestWithParam<int> {};

void ExpectInvalid(const Status& st, int rank, CollKind kind, const std::string& what) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << what << ": " << st;
  const std::string text(st.message());
  EXPECT_NE(text.find("rank " + std::to_string(rank)), std::string::npos)
      << what << ": the message does not name the rank: " << st;
  EXPECT_NE(text.find(std::string(CollKindName(kind))), std::string::npos)
      << what << ": the message does not name the operation: " << st;
}

TEST_P(BadArgumentsTest, ReturnInvalidArgumentNamingRankAndOperation) {
  const int n = GetParam();
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    Communicator& c = *comm;
    const int me = env.rank();
    const auto un = static_cast<size_t>(n);
    const DataType f = DataType::kFloat32;
    const ReduceOp s = ReduceOp::kSum;
    const auto bad_type = static_cast<DataType>(99);
    const auto bad_op = static_cast<ReduceOp>(99);
    std::vector<float> a(4 * un + 8, 1.0f);
    std::vector<float> b(4 * un + 8, 0.0f);
    const std::vector<size_t> fours(un, 4);
    std::vector<size_t> displs(un);
    for (size_t r = 0; r < un; ++r) {
      displs[r] = 4 * r;
    }
    const std::vector<size_t> short_counts(un - 1, 4);
    const std::vector<size_t> long_counts(un + 1, 4);
    auto forced = [](Algorithm algorithm) {
      CollOptions o;
      o.algorithm = algorithm;
      return o;
    };
    using K = CollKind;

    // Null buffers with count > 0.
    ExpectInvalid(AllReduce(c, nullptr, b.data(), 4, f, s), me, K::kAllReduce, "null send");
    ExpectInvalid(AllReduce(c, a.data(), nullptr, 4, f, s), me, K::kAllReduce, "null recv");
    ExpectInvalid(ReduceScatter(c, nullptr, b.data(), 4, f, s), me, K::kReduceScatter, "null send");
    ExpectInvalid(ReduceScatter(c, a.data(), nullptr, 4, f, s), me, K::kReduceScatter, "null recv");
    ExpectInvalid(AllGather(c, nullptr, b.data(), 4, f), me, K::kAllGather, "null send");
    ExpectInvalid(AllGather(c, a.data(), nullptr, 4, f), me, K::kAllGather, "null recv");
    ExpectInvalid(AllGatherV(c, nullptr, 4, b.data(), fours, {}, f), me, K::kAllGatherV,
                  "null send");
    ExpectInvalid(AllGatherV(c, a.data(), 4, nullptr, fours, displs, f), me, K::kAllGatherV,
                  "null recv");
    ExpectInvalid(Broadcast(c, a.data(), nullptr, 4, f, 0), me, K::kBroadcast, "null recv");
    ExpectInvalid(Reduce(c, nullptr, b.data(), 4, f, s, 0), me, K::kReduce, "null send");
    ExpectInvalid(AllToAll(c, nullptr, b.data(), 4, f), me, K::kAllToAll, "null send");
    ExpectInvalid(AllToAll(c, a.data(), nullptr, 4, f), me, K::kAllToAll, "null recv");
    ExpectInvalid(AllToAllV(c, nullptr, fours, displs, b.data(), fours, displs, f), me,
                  K::kAllToAllV, "null send");
    ExpectInvalid(AllToAllV(c, a.data(), fours, displs, nullptr, fours, displs, f), me,
                  K::kAllToAllV, "null recv");
    ExpectInvalid(Send(c, nullptr, 4, f, (me + 1) % n), me, K::kSend, "null send");
    ExpectInvalid(Recv(c, nullptr, 4, f, (me + n - 1) % n), me, K::kRecv, "null recv");
    if (me == n - 1) {  // only the root has a recv buffer to check; only it calls
      ExpectInvalid(Reduce(c, a.data(), nullptr, 4, f, s, n - 1), me, K::kReduce,
                    "null recv at the root");
    }
    if (me == 0) {  // other ranks ignore send: only the root calls
      ExpectInvalid(Broadcast(c, nullptr, b.data(), 4, f, 0), me, K::kBroadcast,
                    "null send at the root");
    }

    // Unknown type and op.
    ExpectInvalid(AllReduce(c, a.data(), b.data(), 4, bad_type, s), me, K::kAllReduce, "type 99");
    ExpectInvalid(AllReduce(c, a.data(), b.data(), 4, f, bad_op), me, K::kAllReduce, "op 99");
    ExpectInvalid(ReduceScatter(c, a.data(), b.data(), 4, bad_type, s), me, K::kReduceScatter,
                  "type 99");
    ExpectInvalid(ReduceScatter(c, a.data(), b.data(), 4, f, bad_op), me, K::kReduceScatter,
                  "op 99");
    ExpectInvalid(Reduce(c, a.data(), b.data(), 4, bad_type, s, 0), me, K::kReduce, "type 99");
    ExpectInvalid(Reduce(c, a.data(), b.data(), 4, f, bad_op, 0), me, K::kReduce, "op 99");
    ExpectInvalid(AllGather(c, a.data(), b.data(), 4, bad_type), me, K::kAllGather, "type 99");
    ExpectInvalid(AllGatherV(c, a.data(), 4, b.data(), fours, {}, bad_type), me, K::kAllGatherV,
                  "type 99");
    ExpectInvalid(Broadcast(c, a.data(), b.data(), 4, bad_type, 0), me, K::kBroadcast, "type 99");
    ExpectInvalid(AllToAll(c, a.data(), b.data(), 4, bad_type), me, K::kAllToAll, "type 99");
    ExpectInvalid(AllToAllV(c, a.data(), fours, displs, b.data(), fours, displs, bad_type), me,
                  K::kAllToAllV, "type 99");
    ExpectInvalid(Send(c, a.data(), 4, bad_type, (me + 1) % n), me, K::kSend, "type 99");
    ExpectInvalid(Recv(c, b.data(), 4, bad_type, (me + n - 1) % n), me, K::kRecv, "type 99");

    // Roots out of range.
    for (int root : {-1, n, n + 7}) {
      const std::string what = "root " + std::to_string(root);
      ExpectInvalid(Broadcast(c, a.data(), b.data(), 4, f, root), me, K::kBroadcast, what);
      ExpectInvalid(Reduce(c, a.data(), b.data(), 4, f, s, root), me, K::kReduce, what);
    }

    // AllGatherV: send_count differing from recv_counts[rank]; spans of the wrong size.
    ExpectInvalid(AllGatherV(c, a.data(), 5, b.data(), fours, {}, f), me, K::kAllGatherV,
                  "send_count 5 != recv_counts[rank] 4");
    ExpectInvalid(AllGatherV(c, a.data(), 4, b.data(), long_counts, {}, f), me, K::kAllGatherV,
                  "n + 1 recv_counts");
    ExpectInvalid(AllGatherV(c, a.data(), 4, b.data(), fours, long_counts, f), me, K::kAllGatherV,
                  "n + 1 displs");
    if (n > 1) {
      ExpectInvalid(AllGatherV(c, a.data(), 4, b.data(), short_counts, {}, f), me, K::kAllGatherV,
                    "n - 1 recv_counts");
      ExpectInvalid(AllToAllV(c, a.data(), short_counts, displs, b.data(), fours, displs, f), me,
                    K::kAllToAllV, "n - 1 send_counts");
      ExpectInvalid(AllToAllV(c, a.data(), fours, displs, b.data(), fours, short_counts, f), me,
                    K::kAllToAllV, "n - 1 recv_displs");
    }
    ExpectInvalid(AllToAllV(c, a.data(), fours, long_counts, b.data(), fours, displs, f), me,
                  K::kAllToAllV, "n + 1 send_displs");
    std::vector<size_t> other_self = fours;  // recv_counts[me] != send_counts[me]
    other_self[static_cast<size_t>(me)] = 3;
    ExpectInvalid(AllToAllV(c, a.data(), fours, displs, b.data(), other_self, displs, f), me,
                  K::kAllToAllV, "recv_counts[rank] != send_counts[rank]");

    // Algorithms the collective lacks (and one that does not exist).
    ExpectInvalid(AllReduce(c, a.data(), b.data(), 4, f, s, forced(Algorithm::kPairwise)), me,
                  K::kAllReduce, "pairwise");
    ExpectInvalid(AllReduce(c, a.data(), b.data(), 4, f, s, forced(static_cast<Algorithm>(99))), me,
                  K::kAllReduce, "algorithm 99");
    ExpectInvalid(ReduceScatter(c, a.data(), b.data(), 4, f, s, forced(Algorithm::kChain)), me,
                  K::kReduceScatter, "chain");
    ExpectInvalid(AllGather(c, a.data(), b.data(), 4, f, forced(Algorithm::kChain)), me,
                  K::kAllGather, "chain");
    ExpectInvalid(AllGatherV(c, a.data(), 4, b.data(), fours, {}, f, forced(Algorithm::kPairwise)),
                  me, K::kAllGatherV, "pairwise");
    ExpectInvalid(Broadcast(c, a.data(), b.data(), 4, f, 0, forced(Algorithm::kRing)), me,
                  K::kBroadcast, "ring");
    ExpectInvalid(Reduce(c, a.data(), b.data(), 4, f, s, 0, forced(Algorithm::kRing)), me,
                  K::kReduce, "ring");
    ExpectInvalid(AllToAll(c, a.data(), b.data(), 4, f, forced(Algorithm::kDirect)), me,
                  K::kAllToAll, "direct");
    ExpectInvalid(
        AllToAllV(c, a.data(), fours, displs, b.data(), fours, displs, f, forced(Algorithm::kRing)),
        me, K::kAllToAllV, "ring");
    ExpectInvalid(Barrier(c, forced(Algorithm::kChain)), me, K::kBarrier, "chain");
    ExpectInvalid(ReduceScatter(c, a.data(), b.data(), 4, f, s, forced(Algorithm::kShm)), me,
                  K::kReduceScatter, "shm");
    // shm exists for AllReduce but cannot run across hosts (or alone): kNotSupported, named.
    const Status across = AllReduce(c, a.data(), b.data(), 4, f, s, forced(Algorithm::kShm));
    EXPECT_EQ(across.code(), StatusCode::kNotSupported) << across;
    EXPECT_NE(across.ToString().find("rank " + std::to_string(me)), std::string::npos) << across;
    EXPECT_NE(across.ToString().find("allreduce"), std::string::npos) << across;
    if (::testing::Test::HasFailure()) {
      return;
    }

    // The communicator is still in step on every rank.
    std::vector<float> x(7, static_cast<float>(me + 1));
    ASSERT_OK(AllReduce(c, x.data(), x.data(), x.size(), f, s));
    for (float v : x) {
      EXPECT_EQ(v, static_cast<float>(n * (n + 1) / 2));
    }
    ASSERT_OK(Barrier(c));
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadArgumentsTest, ::testing::Values(1, 3),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "n" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace tidal::coll
